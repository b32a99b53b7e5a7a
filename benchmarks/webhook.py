"""Webhook verification: WebhookVerifier.verify against raw cryptography verify + json.loads.

``bench_webhook`` (run by ``benchmarks/run.py --only webhook``) times both in alternating rounds. CPU
time on a shared machine swings; instruction counts do not, so this file also counts instructions per
verification with valgrind, at two batch sizes with one fixed key (key generation varies)::

    python benchmarks/webhook.py measure      # prints sdk, raw and the ratio, per verification
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import spread
from benchmarks.baseline import load_public, raw_verify_notification
from payermax_async import KeyPair, RsaSigner, WebhookVerifier, generate_keypair

COUNT_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "count-instructions"

MERCHANT_NO = "010213834123456"
APP_ID = "3b242b56a8b64274bcc37dac281120e3"


def notification(platform: KeyPair) -> tuple[bytes, str]:
    """A signed PAYOUT notification body as the gateway sends it, and its sign header."""
    document = {
        "code": "APPLY_SUCCESS",
        "msg": "",
        "keyVersion": "1",
        "appId": APP_ID,
        "merchantNo": MERCHANT_NO,
        "notifyTime": "2024-05-01T10:00:00.123+00:00",
        "notifyType": "PAYOUT",
        "data": {
            "outTradeNo": "BENCH_000001",
            "tradeNo": "20240501100000TRADE0001",
            "status": "SUCCESS",
            "trade": {"amount": "150000", "currency": "IDR"},
            "source": {"amount": "150000", "currency": "IDR", "fee": "2500", "feeCurrency": "IDR"},
            "destination": {"amount": "150000", "currency": "IDR"},
            "country": "ID",
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "createTime": "2024-05-01T09:59:58.001+00:00",
            "completeTime": "2024-05-01T10:00:00.100+00:00",
        },
    }
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return body, RsaSigner(platform.private_key).sign_sync(body)


def _rate(fn: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - started)


def bench_webhook(rounds: int, count: int) -> dict[str, Any]:
    """Verified notifications per second, SDK and raw, alternating rounds on one core."""
    platform = generate_keypair()
    body, sign = notification(platform)
    verifier = WebhookVerifier(platform.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)
    public = load_public(platform.public_key)
    loop = asyncio.new_event_loop()
    try:

        async def verify_many(count: int) -> None:
            for _ in range(count):
                await verifier.verify(body, sign)

        def sdk(count: int) -> float:
            # The async API awaited in a running loop, as a web handler calls it (it runs inline).
            started = time.perf_counter()
            loop.run_until_complete(verify_many(count))
            return count / (time.perf_counter() - started)

        def sdk_sync(count: int) -> float:
            return _rate(lambda: verifier.verify_sync(body, sign), count)

        def raw(count: int) -> float:
            return _rate(lambda: raw_verify_notification(public, body, sign), count)

        for fn in (raw, sdk, sdk_sync):
            fn(min(count, 200))
        rows = []
        for round_no in range(rounds):
            order = (raw, sdk_sync, sdk) if round_no % 2 == 0 else (sdk, sdk_sync, raw)
            rates = {fn.__name__: fn(count) for fn in order}
            rows.append(
                {
                    "raw_per_s": rates["raw"],
                    "sdk_per_s": rates["sdk"],
                    "sdk_sync_per_s": rates["sdk_sync"],
                    "ratio": rates["sdk"] / rates["raw"],
                    "sync_ratio": rates["sdk_sync"] / rates["raw"],
                }
            )
    finally:
        loop.close()
    return {
        "name": "webhook verify: WebhookVerifier.verify vs raw verify + json.loads",
        "body_bytes": len(body),
        "per_round": count,
        "rounds": rows,
        "ratio": spread([row["ratio"] for row in rows]),
        "sync_ratio": spread([row["sync_ratio"] for row in rows]),
    }


def _run(path: Path, mode: str, count: int) -> None:
    """Verify ``count`` notifications with the key saved at ``path`` (the counted workload)."""
    platform = KeyPair(*json.loads(path.read_text()))
    body, sign = notification(platform)
    if mode == "raw":
        public = load_public(platform.public_key)
        for _ in range(count):
            raw_verify_notification(public, body, sign)
        return
    verifier = WebhookVerifier(platform.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)

    async def verify_many() -> None:
        for _ in range(count):
            await verifier.verify(body, sign)

    asyncio.run(verify_many())


def _count(path: Path, mode: str, count: int) -> int:
    command = [str(COUNT_TOOL), sys.executable, __file__, "run", str(path), mode, str(count)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def _measure(small: int, large: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "platform.json"
        keys = generate_keypair()
        path.write_text(json.dumps([keys.private_key, keys.public_key]))
        per = {}
        for mode in ("raw", "sdk"):
            # Each size twice, the lower count kept: a stray event can only add instructions.
            low = min(_count(path, mode, small) for _ in range(2))
            high = min(_count(path, mode, large) for _ in range(2))
            per[mode] = (high - low) / (large - small)
            print(f"{mode}: {per[mode]:,.0f} instructions per verification")
        print(
            f"raw / sdk: {per['raw'] / per['sdk']:.3f}  (sdk extra {per['sdk'] - per['raw']:,.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("file", type=Path)
    run.add_argument("mode", choices=["sdk", "raw"])
    run.add_argument("count", type=int)
    measure = sub.add_parser("measure")
    measure.add_argument("--small", type=int, default=1000)
    measure.add_argument("--large", type=int, default=3000)
    args = parser.parse_args()
    if args.command == "run":
        _run(args.file, args.mode, args.count)
    else:
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not installed")
        _measure(args.small, args.large)


if __name__ == "__main__":
    main()

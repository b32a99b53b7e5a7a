"""The SDK's own work per payout, without the network or RSA, counted in instructions (valgrind).

The real benchmark's totals include aiohttp and about 5 million instructions of RSA per payout, which
hide the SDK's parts. Here ``client.payouts.create`` runs at concurrency 64 in one process with a
transport that answers at once (a reply built from the call, shaped like the gateway's), a signer that
returns a constant and a verifier that accepts; ``--stub PART`` also replaces one part by a stub, so
the difference from the full run is that part's cost. ``hand`` runs the hand-written client's
non-network, non-RSA work (envelope, ``json.dumps``, base64, ``json.loads``) the same way::

    python benchmarks/overhead.py measure                    # the SDK and the hand-written work
    python benchmarks/overhead.py measure --stub journal     # ... with the journal stubbed
    python benchmarks/overhead.py run sdk 600                # one run, for count-instructions

Parts: ``journal`` (claim and outcome writes), ``intent`` (the data read back and fingerprinted),
``rules`` (``check_payout_data``), ``signing`` (the signing layer), ``reply`` (reading the answer),
``parse`` (the typed ``PayoutResult``), ``retry`` (the retry layer). A stub is not a fix: it only shows
what a part costs. Only for measuring; nothing here is used by the SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import CONCURRENCY, payout

COUNT_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "count-instructions"
PARTS = ("journal", "intent", "rules", "signing", "reply", "parse", "retry")
# Fixed keys: key generation runs a variable number of instructions, which the two-size difference
# would not cancel. Generated once by generate_keypair() for this file; they protect nothing.
_KEYS = Path(__file__).resolve().parent / "overhead_keys.json"


def _answer(key: str) -> bytes:
    return (
        '{"code":"APPLY_SUCCESS","msg":"Success.","data":'
        f'{{"outTradeNo":"{key}","tradeNo":"TN{key}","status":"PENDING"}}}}'
    ).encode()


class _ConstantSigner:
    async def sign(self, payload: bytes) -> str:
        return "c2lnbg=="


def _stub(part: str) -> None:
    """Replace ``part`` by a stub (monkeypatching: this process only runs this benchmark)."""
    from payermax_async.middleware import idempotency, retry, signing
    from payermax_async.pipeline import transport
    from payermax_async.pipeline.chain import Reply
    from payermax_async.resources import inputs, payouts
    from payermax_async.stores.base import Claim, ClaimOutcome, PayoutRecord, RecordState
    from payermax_async.stores.intent import PayoutIntent
    from payermax_async.stores.memory import MemoryStore

    if part == "journal":
        record = PayoutRecord("x", "v2:x", RecordState.SENT)
        claim = Claim(ClaimOutcome.SEND, record)
        MemoryStore.claim_now = lambda self, *a, **k: claim  # type: ignore[method-assign]
        MemoryStore.record_result_now = lambda self, *a, **k: record  # type: ignore[method-assign]
    elif part == "intent":

        class _Intent:
            @staticmethod
            def of(key: str, data: object) -> PayoutIntent:
                return PayoutIntent(key, "v2:x", "150000", "IDR", {})

        idempotency.PayoutIntent = _Intent  # type: ignore[assignment, misc]
    elif part == "rules":
        inputs.check_payout_data = lambda data: data["outTradeNo"]  # type: ignore[index]
    elif part == "signing":

        async def passed(self: Any, call: Any, next_handler: Any) -> Any:
            return await next_handler(call)

        signing.SigningMiddleware.__call__ = passed  # type: ignore[method-assign]
    elif part == "reply":

        def reply(self: Any, call: Any, status: int, raw: bytes, headers: Any) -> Reply:
            data = json.loads(raw)["data"]
            return Reply(call.api, "APPLY_SUCCESS", "", data, 200, raw, {})

        transport.AiohttpTransport._to_reply = reply  # type: ignore[method-assign]
    elif part == "parse":
        payouts.parse_reply = lambda reply, cls: reply.data  # type: ignore[assignment, return-value]
    elif part == "retry":
        retry.RetryMiddleware.__call__ = lambda self, call, nxt: nxt(call)  # type: ignore[method-assign, assignment]
    else:
        msg = f"unknown part {part!r}; one of {', '.join(PARTS)}"
        raise SystemExit(msg)


async def _drain(create: Callable[[dict[str, Any]], Any], count: int) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for index in numbers:
            await create(payout(f"H_{index}"))

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _sdk(count: int) -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from payermax_async import PayerMaxClient, PayerMaxConfig
    from payermax_async.pipeline import transport
    from payermax_async.signing import RsaVerifier

    headers = CIMultiDictProxy(
        CIMultiDict({"Content-Type": "application/json;charset=UTF-8", "sign": "x"})
    )

    async def answer(self: Any, call: Any) -> Any:
        await asyncio.sleep(0)  # one suspension, as a real exchange has at least one
        return self._to_reply(call, 200, _answer(call.idempotency_key), headers)

    transport.AiohttpTransport.__call__ = answer  # type: ignore[method-assign]
    RsaVerifier.verify = lambda self, payload, signature, **_: None  # type: ignore[method-assign]
    keys = json.loads(_KEYS.read_text())
    config = PayerMaxConfig(
        app_id="a" * 32,
        merchant_no="M1",
        merchant_private_key=keys["private"],
        platform_public_key=keys["public"],
        base_url="http://127.0.0.1:9",
    )
    async with PayerMaxClient(config, signer=_ConstantSigner()) as client:
        await _drain(client.payouts.create, count)


async def _hand(count: int) -> None:
    async def create(data: dict[str, Any]) -> Any:
        envelope = {
            "version": "1.4",
            "keyVersion": "1",
            "requestTime": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "appId": "a" * 32,
            "merchantNo": "M1",
            "data": data,
        }
        json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        base64.b64encode(b"s" * 256).decode()
        raw = _answer(data["outTradeNo"])
        await asyncio.sleep(0)
        base64.b64decode("c2lnbg==")
        document = json.loads(raw)
        if document["code"] != "APPLY_SUCCESS":
            raise RuntimeError(document["code"])
        return document["data"]

    await _drain(create, count)


def run(mode: str, count: int, stub: str | None = None) -> None:
    """``count`` payouts: ``sdk`` (optionally with ``stub``) or ``hand``."""
    if stub:
        _stub(stub)
    asyncio.run(_sdk(count) if mode == "sdk" else _hand(count))


def _count(mode: str, count: int, stub: str | None) -> int:
    command = [str(COUNT_TOOL), sys.executable, __file__, "run", mode, str(count)]
    out = subprocess.run(
        [*command, *(["--stub", stub] if stub else [])], check=True, capture_output=True, text=True
    )
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("mode", choices=["sdk", "hand"])
    one.add_argument("count", type=int)
    one.add_argument("--stub", choices=PARTS)
    both = sub.add_parser("measure")
    both.add_argument("--stub", choices=PARTS)
    both.add_argument("--small", type=int, default=100)
    both.add_argument("--large", type=int, default=600)
    args = parser.parse_args()
    if args.command == "run":
        run(args.mode, args.count, args.stub)
        return
    for mode in ("hand", "sdk"):
        stub = args.stub if mode == "sdk" else None
        low, high = _count(mode, args.small, stub), _count(mode, args.large, stub)
        per = (high - low) / (args.large - args.small)
        label = f"{mode} (stub: {stub})" if stub else mode
        print(f"{label}: {per:,.0f} instructions per payout")


if __name__ == "__main__":
    main()

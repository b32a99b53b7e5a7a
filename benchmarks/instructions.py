"""Instructions per payout, SDK and raw baseline, counted by valgrind (repeatable to ~0.1%).

CPU time on a shared machine swings by ±15%; instruction counts do not. Start the sandbox once,
outside what is counted, then count the client at two batch sizes and divide the difference::

    python benchmarks/instructions.py serve gateway.json &          # the sandbox, not counted
    count-instructions python benchmarks/instructions.py run gateway.json sdk 200
    count-instructions python benchmarks/instructions.py run gateway.json sdk 600
    # instructions per payout = (I(600) - I(200)) / 400; the same with "raw" for the baseline

``python benchmarks/instructions.py measure`` does all of that and prints both, with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import CONCURRENCY, Gateway, payout

COUNT_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "count-instructions"


def _serve(path: Path) -> None:
    gateway = Gateway.start()
    doc = {
        "base_url": gateway.base_url,
        "app_id": gateway.app_id,
        "merchant_no": gateway.merchant_no,
        "merchant": [gateway.merchant.private_key, gateway.merchant.public_key],
        "platform": [gateway.platform.private_key, gateway.platform.public_key],
    }
    path.write_text(json.dumps(doc))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            time.sleep(0.2)
    finally:
        gateway.close()


def _gateway(path: Path) -> Gateway:
    from payermax_async import KeyPair

    doc = json.loads(path.read_text())
    return Gateway(
        doc["base_url"],
        doc["app_id"],
        doc["merchant_no"],
        KeyPair(*doc["merchant"]),
        KeyPair(*doc["platform"]),
    )


async def _run(gateway: Gateway, mode: str, count: int, store: str) -> None:
    import aiohttp

    from benchmarks.baseline import RawClient
    from payermax_async import MemoryStore, PayerMaxClient, SQLiteStore

    prefix = f"I{uuid.uuid4().hex[:12]}_"
    numbers = iter(range(count))

    async def drain(create: Any) -> None:
        async def worker() -> None:
            for index in numbers:
                await create(payout(f"{prefix}{index}"))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    if mode == "raw":
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
            await drain(RawClient(gateway, session).create)
        return
    with tempfile.TemporaryDirectory() as tmp:
        journal = MemoryStore() if store == "memory" else SQLiteStore(Path(tmp) / "j.db")
        async with journal, PayerMaxClient(gateway.config(), store=journal) as client:
            await drain(client.payouts.create)


def _count(path: Path, mode: str, count: int, store: str) -> int:
    out = subprocess.run(
        [str(COUNT_TOOL), sys.executable, __file__, "run", str(path), mode, str(count), store],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def _measure(small: int, large: int, store: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.json"
        server = subprocess.Popen([sys.executable, __file__, "serve", str(path)])
        try:
            for _ in range(600):
                if path.exists() and path.stat().st_size:
                    break
                time.sleep(0.1)
            per = {}
            for mode in ("raw", "sdk"):
                low, high = _count(path, mode, small, store), _count(path, mode, large, store)
                per[mode] = (high - low) / (large - small)
                print(f"{mode}: {per[mode]:,.0f} instructions per payout")
            print(
                f"sdk / raw: {per['sdk'] / per['raw']:.3f}  (extra {per['sdk'] - per['raw']:,.0f})"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("file", type=Path)
    run = sub.add_parser("run")
    run.add_argument("file", type=Path)
    run.add_argument("mode", choices=["sdk", "raw"])
    run.add_argument("count", type=int)
    run.add_argument("store", nargs="?", default="memory", choices=["memory", "sqlite"])
    measure = sub.add_parser("measure")
    measure.add_argument("--small", type=int, default=100)
    measure.add_argument("--large", type=int, default=300)
    measure.add_argument("--store", default="memory", choices=["memory", "sqlite"])
    args = parser.parse_args()
    if args.command == "serve":
        _serve(args.file)
    elif args.command == "run":
        asyncio.run(_run(_gateway(args.file), args.mode, args.count, args.store))
    else:
        if shutil.which("valgrind") is None:
            sys.exit("valgrind is not installed")
        _measure(args.small, args.large, args.store)


if __name__ == "__main__":
    main()

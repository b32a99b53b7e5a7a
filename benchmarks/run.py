"""Benchmarks: the SDK against a hand-written aiohttp + cryptography baseline, measured in the same run.

    python benchmarks/run.py                 # all benchmarks, a table on stdout, JSON in benchmarks/results/
    python benchmarks/run.py --quick         # fewer payouts per round, for a smoke run

The sandbox gateway runs in its own process so that its CPU does not count against the client under test.
Rounds alternate baseline / SDK, and each reports a ratio (SDK ÷ baseline throughput); the table shows the
minimum, median and maximum ratio over the rounds. Absolute numbers depend on the machine; ratios much less so.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payermax_async import KeyPair, PayerMaxClient, PayerMaxConfig, generate_keypair

RESULTS = Path(__file__).resolve().parent / "results"
CONCURRENCY = 64


# ------------------------------------------------------------------------------------ sandbox process


def _serve_sandbox(merchant: KeyPair, platform_keys: KeyPair, ready: Any, stop: Any) -> None:
    from payermax_async.sandbox import SandboxGateway

    async def main() -> None:
        async with SandboxGateway(
            merchant_keys=merchant, platform_keys=platform_keys, processing_delay=3600.0
        ) as gateway:
            ready.send((gateway.base_url, gateway.app_id, gateway.merchant_no))
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())


@dataclass
class Gateway:
    """A sandbox running in a child process, and the credentials to reach it."""

    base_url: str
    app_id: str
    merchant_no: str
    merchant: KeyPair
    platform: KeyPair
    _process: Any = field(repr=False, default=None)
    _stop: Any = field(repr=False, default=None)

    @classmethod
    def start(cls) -> Gateway:
        merchant, platform_keys = generate_keypair(), generate_keypair()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        stop = context.Event()
        process = context.Process(
            target=_serve_sandbox, args=(merchant, platform_keys, child, stop), daemon=True
        )
        process.start()
        if not parent.poll(60):
            process.kill()
            msg = "sandbox process did not start"
            raise RuntimeError(msg)
        base_url, app_id, merchant_no = parent.recv()
        return cls(base_url, app_id, merchant_no, merchant, platform_keys, process, stop)

    def config(self) -> PayerMaxConfig:
        return PayerMaxConfig(
            app_id=self.app_id,
            merchant_no=self.merchant_no,
            merchant_private_key=self.merchant.private_key,
            platform_public_key=self.platform.public_key,
            base_url=self.base_url,
        )

    def close(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def payout(out_trade_no: str) -> dict[str, Any]:
    """One payout's wire data (SUCCESS in the sandbox; no notifyUrl, so no webhook traffic)."""
    return {
        "outTradeNo": out_trade_no,
        "country": "ID",
        "trade": {"amount": "150000", "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "0812323233332"},
            "name": {"fullName": "James Kanta"},
        },
    }


# ------------------------------------------------------------------------------------------ baseline


class RawClient:
    """What a careful engineer writes by hand: envelope, sign, POST the bytes, verify, parse."""

    def __init__(self, gateway: Gateway, session: aiohttp.ClientSession) -> None:
        key = serialization.load_der_private_key(
            base64.b64decode(gateway.merchant.private_key), password=None
        )
        public = serialization.load_der_public_key(base64.b64decode(gateway.platform.public_key))
        assert isinstance(key, rsa.RSAPrivateKey)
        assert isinstance(public, rsa.RSAPublicKey)
        self._key, self._public = key, public
        self._gateway, self._session = gateway, session

    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        envelope = {
            "version": "1.4",
            "keyVersion": "1",
            "requestTime": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "appId": self._gateway.app_id,
            "merchantNo": self._gateway.merchant_no,
            "data": data,
        }
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        sign = base64.b64encode(self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
        async with self._session.post(
            f"{self._gateway.base_url}/paymentOrderPay",
            data=body,
            headers={"Content-Type": "application/json", "sign": sign},
        ) as response:
            raw = await response.read()
            signature = response.headers["sign"]
        self._public.verify(base64.b64decode(signature), raw, padding.PKCS1v15(), hashes.SHA256())
        document = json.loads(raw)
        if document["code"] != "APPLY_SUCCESS":
            raise RuntimeError(document["code"])
        result: dict[str, Any] = document["data"]
        return result


# ------------------------------------------------------------------------------------------- runners


async def _throughput(create: Callable[[str], Awaitable[object]], prefix: str, count: int) -> float:
    """Payouts per second for ``count`` creates at CONCURRENCY in flight."""
    numbers = iter(range(count))

    async def worker() -> None:
        for index in numbers:
            await create(f"{prefix}_{index}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def bench_create(gateway: Gateway, rounds: int, count: int) -> dict[str, Any]:
    """Throughput of client.payouts.create (default chain) against the raw baseline, alternating."""
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        raw = RawClient(gateway, session)
        async with PayerMaxClient(gateway.config()) as client:
            rows = []
            for round_no in range(rounds):
                tag = f"R{os.getpid()}_{round_no}_{time.monotonic_ns()}"
                base = await _throughput(lambda no: raw.create(payout(no)), f"B{tag}", count)
                sdk = await _throughput(
                    lambda no: client.payouts.create(payout(no)), f"S{tag}", count
                )
                rows.append({"baseline": base, "sdk": sdk, "ratio": sdk / base})
    ratios = [row["ratio"] for row in rows]
    return {
        "name": "create throughput (memory store, retries armed, verification on)",
        "concurrency": CONCURRENCY,
        "payouts_per_round": count,
        "rounds": rows,
        "ratio_min": min(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_max": max(ratios),
        "sdk_median_per_s": statistics.median(row["sdk"] for row in rows),
        "baseline_median_per_s": statistics.median(row["baseline"] for row in rows),
    }


async def bench_latency(gateway: Gateway, count: int) -> dict[str, Any]:
    """p50/p99 latency of one create at a time on an idle client."""
    async with PayerMaxClient(gateway.config()) as client:
        tag = f"L{time.monotonic_ns()}"
        await client.payouts.create(payout(f"{tag}_warm"))
        samples = []
        for index in range(count):
            started = time.perf_counter()
            await client.payouts.create(payout(f"{tag}_{index}"))
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "name": "single create latency, idle client (ms)",
        "p50_ms": samples[len(samples) // 2],
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }


def _table(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        if "ratio_median" in result:
            lines.append(
                f"{result['name']}: SDK/baseline ratio min {result['ratio_min']:.2f} "
                f"median {result['ratio_median']:.2f} max {result['ratio_max']:.2f} "
                f"(SDK {result['sdk_median_per_s']:.0f}/s, "
                f"baseline {result['baseline_median_per_s']:.0f}/s)"
            )
        else:
            lines.append(
                f"{result['name']}: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small rounds, for a smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    count = 300 if args.quick else 2000
    gateway = Gateway.start()
    try:
        results = [
            asyncio.run(bench_create(gateway, rounds, count)),
            asyncio.run(bench_latency(gateway, 50 if args.quick else 500)),
        ]
    finally:
        gateway.close()
    report = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "aiohttp": aiohttp.__version__,
        },
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

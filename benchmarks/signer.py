"""Signatures per second: inline RsaSigner against ProcessPoolSigner with 1, 2 and N workers."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from payermax_async import RsaSigner, Signer, generate_keypair
from payermax_async.signing.process import ProcessPoolSigner

#: How many signatures are awaited at once: like a client with this many payouts in flight.
IN_FLIGHT = 64
BODY = (
    b'{"version":"1.4","keyVersion":"1","requestTime":"2024-05-01T10:00:00.000+00:00",'
    b'"appId":"3b242b56a8b64274bcc37dac281120e3","merchantNo":"010213834123456","data":'
    b'{"outTradeNo":"BENCH_000001","country":"ID","trade":{"amount":"150000","currency":"IDR"},'
    b'"payeeInfo":{"paymentMethodType":"WALLET","targetOrg":"DANA","accountInfo":'
    b'{"accountNo":"0812323233332"},"name":{"fullName":"James Kanta"}}}}'
)


async def _signs_per_s(signer: Signer, count: int) -> float:
    numbers = iter(range(count))

    async def worker() -> None:
        for _ in numbers:
            await signer.sign(BODY)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return count / (time.perf_counter() - started)


async def bench_signer(count: int, worker_counts: list[int] | None = None) -> dict[str, Any]:
    """Signs/s for the inline signer and for process pools of several sizes."""
    private_key = generate_keypair().private_key
    cpus = os.cpu_count() or 1
    sizes = worker_counts or sorted({1, 2, cpus, cpus * 2})
    inline = RsaSigner(private_key)
    await _signs_per_s(inline, min(count, 200))
    rows = [{"signer": "RsaSigner (inline)", "workers": 0, "signs_per_s": 0.0}]
    rows[0]["signs_per_s"] = await _signs_per_s(inline, count)
    for workers in sizes:
        async with ProcessPoolSigner(private_key, workers=workers) as pool:
            await _signs_per_s(pool, min(count, 50 * workers))  # start every worker
            rate = await _signs_per_s(pool, count)
        rows.append({"signer": "ProcessPoolSigner", "workers": workers, "signs_per_s": rate})
    base = rows[0]["signs_per_s"]
    for row in rows:
        row["vs_inline"] = float(row["signs_per_s"]) / float(base)
    return {
        "name": f"signing throughput, {IN_FLIGHT} signatures awaited at once ({cpus} CPUs)",
        "cpus": cpus,
        "rows": rows,
    }

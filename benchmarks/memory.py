"""Peak memory per in-flight payout: N creates parked on a sandbox that holds every answer back.

Method: the sandbox (its own process) has a ``DELAY`` fault on ``paymentOrderPay`` longer than the
measurement, so no payout completes. This process starts ``N`` ``client.payouts.create`` tasks on one
default client and waits until a counting middleware (run once per attempt, after the journal claim and
before signing) has seen all ``N``: every payout is then claimed in the store, serialised, signed and
either on the wire (the pool's 100 connections) or queued for a connection. ``tracemalloc`` gives
the Python heap growth from just before the tasks started (current and peak); the resident set size
growth (``/proc/self/statm``) is reported too, since it also counts allocator slack. Both are divided
by ``N``. The tasks are then cancelled (their journal records stay in doubt; nothing is resent).
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from typing import Any

import aiohttp

from payermax_async import PayerMaxClient
from payermax_async.pipeline.chain import Call, Handler, Reply

from ._common import Gateway, payout, unique

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return 0


class _Counter:
    """A middleware that counts attempts and wakes the benchmark when ``target`` is reached."""

    def __init__(self, target: int) -> None:
        self.seen = 0
        self.target = target
        self.reached = asyncio.Event()

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        self.seen += 1
        if self.seen >= self.target:
            self.reached.set()
        return await next_handler(call)


async def _park(gateway: Gateway, in_flight: int, *, trace: bool) -> tuple[float, float]:
    """Park ``in_flight`` creates; return the growth (bytes) and, when tracing, the peak growth."""
    counter = _Counter(10)
    # Parking takes a while on a slow machine (each create signs first): the payouts queued for one
    # of the pool's connections must wait for it, not time out as a connect timeout would have them.
    parked = aiohttp.ClientTimeout(total=3600, connect=3600)
    async with PayerMaxClient(gateway.config(), middlewares=[counter], timeout=parked) as client:
        tag = unique("M")
        # Warm up: the session, the connector and every code path exist before measuring.
        warm = [
            asyncio.ensure_future(client.payouts.create(payout(f"{tag}_w{i}"))) for i in range(10)
        ]
        await asyncio.wait_for(counter.reached.wait(), 60)
        counter.seen, counter.target, counter.reached = 0, in_flight, asyncio.Event()
        gc.collect()
        if trace:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0] if trace else _rss()
        tasks = [
            asyncio.ensure_future(client.payouts.create(payout(f"{tag}_{i}")))
            for i in range(in_flight)
        ]
        await asyncio.wait_for(counter.reached.wait(), 600)
        await asyncio.sleep(0.2)  # let the last ones reach the connector queue / the socket
        if trace:
            now, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        else:
            now = peak = _rss()
        for task in [*tasks, *warm]:
            task.cancel()
        await asyncio.gather(*tasks, *warm, return_exceptions=True)
    return now - before, peak - before


async def bench_memory(gateway: Gateway, in_flight: int) -> dict[str, Any]:
    """Bytes per in-flight payout at ``in_flight`` parked creates (``gateway`` must hold answers)."""
    rss, _ = await _park(gateway, in_flight, trace=False)
    heap, heap_peak = await _park(gateway, in_flight, trace=True)
    return {
        "name": f"memory per in-flight payout ({in_flight} in flight)",
        "in_flight": in_flight,
        "heap_bytes_per_payout": heap / in_flight,
        "heap_peak_bytes_per_payout": heap_peak / in_flight,
        "rss_bytes_per_payout": rss / in_flight,
        "method": "tracemalloc heap growth, and RSS growth in a separate untraced run, "
        "divided by the in-flight count (see benchmarks/memory.py)",
    }

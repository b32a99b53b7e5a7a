"""Create throughput against the raw baseline, the stores against each other, and idle latency."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from payermax_async import PayerMaxClient
from payermax_async.stores.memory import MemoryStore
from payermax_async.stores.protocol import IdempotencyStore
from payermax_async.stores.sqlite import SQLiteStore

from ._common import CONCURRENCY, Gateway, Sample, measure, payout, spread, unique
from .baseline import RawClient

Create = Callable[[str], Awaitable[object]]


def _summary(name: str, rows: list[dict[str, Any]], count: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "concurrency": CONCURRENCY,
        "payouts_per_round": count,
        "rounds": rows,
        "ratio": spread([row["ratio"] for row in rows]),
        "cpu_ratio": spread([row["cpu_ratio"] for row in rows]),
        **extra,
    }


def _row(reference: Sample, subject: Sample) -> dict[str, Any]:
    return {
        "reference_per_s": reference.per_s,
        "subject_per_s": subject.per_s,
        "reference_cpu_us": reference.cpu_us,
        "subject_cpu_us": subject.cpu_us,
        # throughput: subject ÷ reference. CPU: reference ÷ subject, so 1.0 means "costs the same"
        # and lower means the subject burns more of the client's CPU per payout.
        "ratio": subject.per_s / reference.per_s,
        "cpu_ratio": reference.cpu_us / subject.cpu_us,
    }


async def _alternate(
    reference: Create, subject: Create, rounds: int, count: int
) -> list[dict[str, Any]]:
    """Warm both up, then alternate which runs first so slow drift hits both sides alike."""
    await measure(reference, unique("Wr"), min(count, 200), CONCURRENCY)
    await measure(subject, unique("Ws"), min(count, 200), CONCURRENCY)
    rows = []
    for round_no in range(rounds):
        if round_no % 2 == 0:
            ref = await measure(reference, unique("R"), count, CONCURRENCY)
            sub = await measure(subject, unique("S"), count, CONCURRENCY)
        else:
            sub = await measure(subject, unique("S"), count, CONCURRENCY)
            ref = await measure(reference, unique("R"), count, CONCURRENCY)
        rows.append(_row(ref, sub))
    return rows


async def bench_create(gateway: Gateway, rounds: int, count: int) -> dict[str, Any]:
    """client.payouts.create with the default chain vs the raw aiohttp + cryptography client."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        raw = RawClient(gateway, session)
        async with PayerMaxClient(gateway.config()) as client:
            rows = await _alternate(
                lambda no: raw.create(payout(no)),
                lambda no: client.payouts.create(payout(no)),
                rounds,
                count,
            )
    return _summary(
        "create: SDK (memory store, retries, verification) vs raw aiohttp+cryptography",
        rows,
        count,
        reference="baseline",
        subject="sdk",
    )


@contextlib.asynccontextmanager
async def _client(gateway: Gateway, store: IdempotencyStore) -> AsyncIterator[PayerMaxClient]:
    try:
        async with PayerMaxClient(gateway.config(), store=store) as client:
            yield client
    finally:
        await store.aclose()


async def bench_stores(
    gateway: Gateway,
    rounds: int,
    count: int,
    redis_url: str | None,
    postgres_url: str | None = None,
) -> list[dict[str, Any]]:
    """SQLiteStore (temp file, synchronous=FULL), RedisStore and PostgresStore against the memory
    store."""
    results = []
    with tempfile.TemporaryDirectory(prefix="payermax-bench-") as tmp:
        subjects: list[tuple[str, Callable[[], IdempotencyStore]]] = [
            ("SQLiteStore (temp file, synchronous=FULL)", lambda: SQLiteStore(Path(tmp) / "j.db")),
        ]
        prefix = redis_prefix()
        redis_store = _redis_factory(redis_url, prefix)
        if redis_store is not None:
            subjects.append(("RedisStore (127.0.0.1:6379)", redis_store))
        schema = f"payermax_bench_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        postgres_store = await _postgres_factory(postgres_url, schema)
        if postgres_store is not None:
            subjects.append(("PostgresStore (127.0.0.1:5432)", postgres_store))
        try:
            for name, factory in subjects:
                async with (
                    _client(gateway, MemoryStore()) as memory,
                    _client(gateway, factory()) as other,
                ):
                    rows = await _alternate(
                        lambda no, c=memory: c.payouts.create(payout(no)),
                        lambda no, c=other: c.payouts.create(payout(no)),
                        rounds,
                        count,
                    )
                results.append(
                    _summary(f"create: {name} vs MemoryStore", rows, count, reference="memory")
                )
        finally:
            if redis_store is not None and redis_url:
                # The sandbox's payouts die with it: their journal records have no TTL, so the
                # run deletes them rather than leave thousands of keys in a shared Redis.
                await _forget(redis_url, prefix)
            if postgres_store is not None and postgres_url:
                await _drop_schema(postgres_url, schema)
    return results


def redis_prefix() -> str:
    """The RedisStore key prefix of one benchmark run in this process (``payermax-bench:<pid>:...``)."""
    return f"payermax-bench:{os.getpid()}:{time.monotonic_ns()}:"


def _redis_factory(url: str | None, prefix: str) -> Callable[[], IdempotencyStore] | None:
    if not url:
        return None
    try:
        import redis  # noqa: F401 (optional: the benchmark is skipped without it)
    except ImportError:
        return None
    from payermax_async.stores.redis import RedisStore

    return lambda: RedisStore(url, prefix=prefix)


async def _postgres_factory(url: str | None, schema: str) -> Callable[[], IdempotencyStore] | None:
    """A factory of PostgresStores on a new, migrated ``schema`` (None without asyncpg or a URL)."""
    if not url:
        return None
    try:
        import asyncpg  # noqa: F401 (optional: the benchmark is skipped without it)
    except ImportError:
        return None
    from payermax_async.stores.postgres import PostgresStore

    store = PostgresStore(url, schema=schema)
    try:
        await store.migrate()
    finally:
        await store.aclose()
    return lambda: PostgresStore(url, schema=schema)


async def _drop_schema(url: str, schema: str) -> None:
    """Drop the benchmark's schema (its journal) after the run."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _forget(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (the benchmark's journal records)."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


async def bench_latency(gateway: Gateway, count: int) -> dict[str, Any]:
    """One create at a time on an otherwise idle client: p50 and p99 in milliseconds."""
    async with PayerMaxClient(gateway.config()) as client:
        tag = unique("L")
        for index in range(20):
            await client.payouts.create(payout(f"{tag}_w{index}"))
        samples = []
        for index in range(count):
            started = time.perf_counter()
            await client.payouts.create(payout(f"{tag}_{index}"))
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "name": "create latency, one at a time on an idle client (ms)",
        "samples": count,
        "p50_ms": samples[len(samples) // 2],
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
    }

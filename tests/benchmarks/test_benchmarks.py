"""Smoke tests: every benchmark's measurement code runs end to end with tiny counts (no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from benchmarks import overhead, run
from benchmarks._common import Gateway, payout
from benchmarks.memory import bench_memory
from benchmarks.signer import bench_signer
from benchmarks.throughput import bench_create, bench_latency, bench_stores
from benchmarks.webhook import bench_webhook
from tests.support.postgres import POSTGRES_URL, postgres_or_skip
from tests.support.redis import redis_or_skip

REDIS_URL = os.environ.get("PAYERMAX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    """A sandbox in its own process, as the benchmarks use it."""
    started = Gateway.start()
    yield started
    started.close()


@pytest.fixture(scope="module")
def holding_gateway() -> Iterator[Gateway]:
    """A sandbox process that holds every payout answer back."""
    started = Gateway.start(delay=3600.0)
    yield started
    started.close()


async def test_create_benchmark_reports_ratios_per_round(gateway: Gateway) -> None:
    """The create benchmark runs both clients and reports one ratio pair per round."""
    result = await bench_create(gateway, rounds=2, count=20)
    assert len(result["rounds"]) == 2
    assert result["ratio"]["min"] > 0
    assert result["cpu_ratio"]["max"] > 0


@pytest.mark.redis
async def test_store_benchmarks_cover_sqlite_redis_and_postgres(gateway: Gateway) -> None:
    """SQLiteStore, RedisStore and PostgresStore are each compared with the memory store, and the
    PostgreSQL run drops its schema afterwards."""
    await redis_or_skip()  # skips without Redis, fails under PAYERMAX_REQUIRE_REDIS=1
    await postgres_or_skip()
    results = await bench_stores(
        gateway, rounds=1, count=10, redis_url=REDIS_URL, postgres_url=POSTGRES_URL
    )
    names = [r["name"].split()[1] for r in results]
    assert names == ["SQLiteStore", "RedisStore", "PostgresStore"]
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        left = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            f"payermax_bench_{os.getpid()}_%",
        )
    finally:
        await conn.close()
    assert left == []


@pytest.mark.redis
async def test_store_benchmark_leaves_no_redis_keys_behind(gateway: Gateway) -> None:
    """The RedisStore run deletes its journal keys (they have no TTL) once measured."""
    import redis.asyncio as redis_asyncio

    await redis_or_skip()
    await bench_stores(gateway, rounds=1, count=10, redis_url=REDIS_URL)
    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        # This process's runs only: other processes may be benchmarking on the same server.
        left = [key async for key in client.scan_iter(match=f"payermax-bench:{os.getpid()}:*")]
    finally:
        await client.aclose()
    assert left == []


async def test_latency_benchmark_orders_percentiles(gateway: Gateway) -> None:
    """p50 never exceeds p99."""
    result = await bench_latency(gateway, 10)
    assert 0 < result["p50_ms"] <= result["p99_ms"]


async def test_memory_benchmark_parks_every_payout(holding_gateway: Gateway) -> None:
    """All payouts reach the wire or the connection queue, and the growth is divided by them."""
    result = await bench_memory(holding_gateway, 30)
    assert result["in_flight"] == 30
    assert result["heap_bytes_per_payout"] > 0


def test_webhook_benchmark_compares_both_apis() -> None:
    """Both the async and the sync verify are measured against the raw baseline."""
    result = bench_webhook(rounds=1, count=20)
    assert set(result["rounds"][0]) >= {"raw_per_s", "sdk_per_s", "sdk_sync_per_s"}


async def test_signer_benchmark_measures_inline_and_pools() -> None:
    """The inline signer and a one-worker pool are both measured."""
    result = await bench_signer(20, worker_counts=[1])
    assert [row["workers"] for row in result["rows"]] == [0, 1]


def test_payout_data_is_valid_for_the_sdk() -> None:
    """The benchmark's payout passes the SDK's local checks (no benchmark measures an error)."""
    from payermax_async.protocol.rules import check_payout_data

    assert check_payout_data(payout("ABC_1")) == "ABC_1"


def test_command_writes_json_and_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run.py --quick --only webhook --out FILE` writes the report and prints its table."""
    out = tmp_path / "latest.json"
    assert run.main(["--quick", "--only", "webhook", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cpus"] == os.cpu_count()
    assert "webhook verify" in capsys.readouterr().out


@pytest.mark.parametrize("stub", [None, *overhead.PARTS])
def test_the_overhead_harness_runs_with_each_part_stubbed(stub: str | None) -> None:
    """In a process of its own: the harness monkeypatches the SDK."""
    command = [sys.executable, str(Path(overhead.__file__)), "run", "sdk", "20"]
    done = subprocess.run(
        [*command, *(["--stub", stub] if stub else [])], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_overhead_harness_runs_the_hand_written_work() -> None:
    command = [sys.executable, str(Path(overhead.__file__)), "run", "hand", "20"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

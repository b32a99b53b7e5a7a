"""Store fixtures: every journal test runs against memory, a real SQLite file, a real Redis, a real
Redis Cluster and a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payermax_async import MemoryStore, RedisStore, SQLiteStore
from payermax_async.stores import JournalStore
from payermax_async.testing import FakeClock
from tests.support.postgres import postgres_store
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)


@pytest.fixture
def clock() -> FakeClock:
    """Epoch seconds that only move when a test says so."""
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-cluster", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[JournalStore]:
    """One journal of each kind, closed (and its Redis keys or PostgreSQL schema deleted) afterwards."""
    kind = request.param
    if kind == "memory":
        yield MemoryStore(clock=clock)
        return
    if kind == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "journal.db", clock=clock)
        yield sqlite_store
        await sqlite_store.aclose()
        return
    if kind == "postgres":
        async with postgres_store(clock=clock) as pg_store:
            yield pg_store
        return
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    if kind == "redis-cluster":
        await redis_cluster_or_skip()
        cluster_store = RedisStore.from_url(REDIS_CLUSTER_URL, prefix=prefix, clock=clock)
        yield cluster_store
        await cluster_store.aclose()
        await redis_cluster_cleanup(prefix)
        return
    await redis_or_skip()
    redis_store = RedisStore(REDIS_URL, prefix=prefix, clock=clock)
    yield redis_store
    await redis_store.aclose()
    await redis_cleanup(prefix)

"""Store fixtures: every journal test runs against memory, a real SQLite file and a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payermax_async import MemoryStore, RedisStore, SQLiteStore
from payermax_async._testing_retry import FakeClock
from payermax_async.stores._journal import JournalStore

REDIS_URL = os.environ.get("PAYERMAX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_or_skip() -> None:
    """Skip when no Redis answers, unless PAYERMAX_REQUIRE_REDIS=1 (then fail)."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_REDIS") == "1":
            pytest.fail(f"PAYERMAX_REQUIRE_REDIS=1 but Redis at {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    finally:
        await client.aclose()


async def redis_cleanup(prefix: str) -> None:
    """Delete every key under ``prefix``."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    """Epoch seconds that only move when a test says so."""
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[JournalStore]:
    """One journal of each kind, closed (and its Redis keys deleted) afterwards."""
    kind = request.param
    if kind == "memory":
        yield MemoryStore(clock=clock)
        return
    if kind == "sqlite":
        sqlite_store = SQLiteStore(tmp_path / "journal.db", clock=clock)
        yield sqlite_store
        await sqlite_store.aclose()
        return
    await redis_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    redis_store = RedisStore(REDIS_URL, prefix=prefix, clock=clock)
    yield redis_store
    await redis_store.aclose()
    await redis_cleanup(prefix)

"""Backend specifics: SQLite durability and cross-connection atomicity, Redis across clients, config."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest

from payermax_async import ConfigurationError, RedisStore, SQLiteStore
from payermax_async.stores import ClaimOutcome, RecordState
from tests.support.redis import REDIS_URL, redis_cleanup, redis_or_skip

KEY = "DURABLE_0001"


async def _claim(store: SQLiteStore | RedisStore, owner: str) -> ClaimOutcome:
    claim = await store.claim(
        KEY, "f" * 64, owner=owner, lease_seconds=60, amount="5", currency="USD"
    )
    return claim.outcome


async def test_sqlite_record_survives_reopening(tmp_path: Path) -> None:
    """A committed transition is on disk: a new store on the same file sees it."""
    path = tmp_path / "j.db"
    async with SQLiteStore(path) as first:
        await _claim(first, "A")
        await first.mark_sent(KEY, owner="A")
    async with SQLiteStore(path) as second:
        record = await second.get(KEY)
        assert record is not None
        assert (record.state, record.attempts) == (RecordState.SENT, 1)
        assert [r.out_trade_no for r in await second.open_records()] == [KEY]


async def test_sqlite_claims_are_atomic_across_connections(tmp_path: Path) -> None:
    """Eight stores (eight connections, eight threads) on one file: exactly one claim wins."""
    stores = [SQLiteStore(tmp_path / "j.db") for _ in range(8)]
    try:
        outcomes = await asyncio.gather(*(_claim(s, f"O{i}") for i, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.aclose()
    assert outcomes.count(ClaimOutcome.SEND) == 1


def test_sqlite_refuses_a_missing_directory(tmp_path: Path) -> None:
    """A path in a directory that does not exist is a ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        SQLiteStore(tmp_path / "missing" / "j.db")


async def test_sqlite_closed_store_refuses_work(tmp_path: Path) -> None:
    """After aclose(), using the store is an error, and closing twice is fine."""
    store = SQLiteStore(tmp_path / "j.db")
    await store.aclose()
    await store.aclose()
    with pytest.raises(ConfigurationError):
        await store.get(KEY)


async def test_redis_claims_are_atomic_across_clients() -> None:
    """Eight RedisStores with their own connections: exactly one claim wins, all see its owner."""
    await redis_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    stores = [RedisStore(REDIS_URL, prefix=prefix) for _ in range(8)]
    try:
        outcomes = await asyncio.gather(*(_claim(s, f"O{i}") for i, s in enumerate(stores)))
        assert outcomes.count(ClaimOutcome.SEND) == 1
        winner = f"O{outcomes.index(ClaimOutcome.SEND)}"
        record = await stores[-1].get(KEY)
        assert record is not None
        assert record.owner == winner
    finally:
        for store in stores:
            await store.aclose()
        await redis_cleanup(prefix)


async def test_redis_borrowed_client_is_not_closed() -> None:
    """A client passed in stays open after the store closes."""
    await redis_or_skip()
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store = RedisStore(client=client, prefix=prefix)
    await _claim(store, "A")
    await store.aclose()
    assert await client.ping()
    await redis_cleanup(prefix)
    await client.aclose()


def test_redis_needs_exactly_one_of_url_or_client() -> None:
    """No url and no client (or both) is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        RedisStore()


def test_redis_without_the_package_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the redis package, RedisStore says which extra to install."""
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigurationError, match=r"payermax-async\[redis\]"):
        RedisStore(REDIS_URL)

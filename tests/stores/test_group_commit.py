"""Group commit in every durable store: concurrent transitions share a batch (a transaction, or a
Redis round trip), yet each caller sees its own outcome, writes of other processes are never
overwritten, and a cancelled caller's transition lands whole."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from payermax_async import PostgresStore, RedisStore, SQLiteStore
from payermax_async.errors import ConfigurationError, StoreError
from payermax_async.stores import ClaimOutcome, JournalStore, RecordState
from payermax_async.testing import FakeClock
from tests.support.postgres import POSTGRES_URL, postgres_store
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    _cluster_client,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)


@dataclass
class Journal:
    """One durable journal, opened by as many store instances ("processes") as a test wants."""

    open: Callable[[], JournalStore]
    plant_unreadable: Callable[[str], Awaitable[None]]
    clock: FakeClock
    opened: list[JournalStore] = field(default_factory=list)

    def store(self) -> JournalStore:
        """Another store on the same journal, with its own connections and its own memory."""
        store = self.open()
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "redis", "redis-cluster", "postgres"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Journal]:
    """A durable journal of each kind, deleted afterwards."""
    clock = FakeClock(start=1_800_000_000.0)
    async with contextlib.AsyncExitStack() as stack:
        found = await stack.enter_async_context(_journal(request.param, tmp_path, clock))
        yield found
        for store in found.opened:
            await store.aclose()


@contextlib.asynccontextmanager
async def _journal(kind: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Journal]:
    if kind == "sqlite":
        path = tmp_path / "j.db"

        async def plant_sqlite(number: str) -> None:
            import sqlite3

            async with SQLiteStore(path) as creator:
                await creator.get(number)  # creates the file and its table
            with contextlib.closing(sqlite3.connect(path)) as conn, conn:
                conn.execute(
                    "INSERT INTO payermax_journal VALUES (?, 'IN_DOUBT', '{not json')", (number,)
                )

        yield Journal(lambda: SQLiteStore(path, clock=clock), plant_sqlite, clock)
        return
    if kind == "postgres":
        async with postgres_store(clock=clock) as first:
            schema = first.schema

            async def plant_pg(number: str) -> None:
                import asyncpg

                conn = await asyncpg.connect(POSTGRES_URL)
                try:
                    await conn.execute(
                        f'INSERT INTO "{schema}".journal VALUES ($1, $2, 0, $3)',  # noqa: S608
                        number,
                        "IN_DOUBT",
                        "{not json",
                    )
                finally:
                    await conn.close()

            yield Journal(
                lambda: PostgresStore(POSTGRES_URL, schema=schema, clock=clock), plant_pg, clock
            )
        return
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    cluster = kind == "redis-cluster"
    await (redis_cluster_or_skip() if cluster else redis_or_skip())
    url = REDIS_CLUSTER_URL if cluster else REDIS_URL

    async def plant_redis(number: str) -> None:
        import redis.asyncio as redis_asyncio

        from payermax_async.stores._redis_keys import FlatKeys, TaggedKeys

        keys = TaggedKeys(prefix) if cluster else FlatKeys(prefix)
        client = _cluster_client() if cluster else redis_asyncio.Redis.from_url(REDIS_URL)
        try:
            await client.set(keys.record(number), "{not json")
        finally:
            await client.aclose()

    try:
        yield Journal(lambda: RedisStore(url, prefix=prefix, clock=clock), plant_redis, clock)
    finally:
        await (redis_cluster_cleanup if cluster else redis_cleanup)(prefix)


async def _claim(store: JournalStore, number: str, owner: str | None = None) -> ClaimOutcome:
    claim = await store.claim(
        number,
        "v2:f",
        owner=owner or f"owner-{number}",
        lease_seconds=60,
        amount="1",
        currency="USD",
    )
    return claim.outcome


async def test_concurrent_transitions_each_see_their_own_outcome(journal: Journal) -> None:
    """Forty numbers claimed at once, and one number claimed by five owners at once in the same
    batch: every free number is SEND, the contested one has exactly one owner, the rest BUSY."""
    store = journal.store()
    free = [_claim(store, f"GCB_{i:02d}") for i in range(40)]
    contested = [_claim(store, "GCB_SAME", owner=f"rival-{i}") for i in range(5)]
    outcomes = await asyncio.gather(*free, *contested)
    assert outcomes[:40] == [ClaimOutcome.SEND] * 40
    assert sorted(outcomes[40:]) == sorted([ClaimOutcome.SEND] + [ClaimOutcome.BUSY] * 4)
    record = await store.get("GCB_SAME")
    assert record is not None
    assert record.owner == f"rival-{outcomes[40:].index(ClaimOutcome.SEND)}"


async def test_a_write_by_another_process_is_never_overwritten(journal: Journal) -> None:
    """A store decides on what it last wrote only if the record is still that: after another
    process took over the lapsed lease, the first store's next claim sees the new owner (BUSY),
    and after the payout is settled elsewhere its claim sees the result (DONE)."""
    first, second = journal.store(), journal.store()
    assert await _claim(first, "GCX_1", owner="first") is ClaimOutcome.SEND
    journal.clock.advance(61)  # the first owner's lease lapses
    assert await _claim(second, "GCX_1", owner="second") is ClaimOutcome.SEND
    assert await _claim(first, "GCX_1", owner="first") is ClaimOutcome.BUSY
    await second.record_result(
        "GCX_1", {"outTradeNo": "GCX_1", "tradeNo": "T1", "status": "SUCCESS"}
    )
    # The first store last saw a live lease of "second" (a decision that writes nothing): it must
    # still check that against the record as it is now.
    assert await _claim(first, "GCX_1", owner="first") is ClaimOutcome.DONE
    record = await first.get("GCX_1")
    assert record is not None
    assert record.state is RecordState.FINAL
    assert record.trade_no == "T1"


async def test_cancelled_callers_transitions_all_land_whole(journal: Journal) -> None:
    """Fifty claims requested together, half of their callers cancelled while their batch is being
    written: every claim is recorded (once requested, a transition lands whole), the others SEND."""
    store = journal.store()
    tasks = [asyncio.ensure_future(_claim(store, f"GCC_{i:02d}")) for i in range(50)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results[::2])
    assert results[1::2] == [ClaimOutcome.SEND] * 25
    reader = journal.store()  # another process: nothing of the batch is only in memory
    records = [await reader.get(f"GCC_{i:02d}") for i in range(50)]
    assert all(r is not None and r.state is RecordState.CLAIMED for r in records)
    assert [r.owner for r in records if r is not None] == [f"owner-GCC_{i:02d}" for i in range(50)]


async def test_an_unreadable_record_fails_alone_in_its_batch(journal: Journal) -> None:
    """A transition whose record cannot be read raises StoreError for its own caller; the
    transitions batched with it are committed."""
    await journal.plant_unreadable("GCU_BAD")
    store = journal.store()
    outcomes = await asyncio.gather(
        _claim(store, "GCU_OK_1"),
        _claim(store, "GCU_BAD"),
        _claim(store, "GCU_OK_2"),
        return_exceptions=True,
    )
    assert outcomes[0] == outcomes[2] == ClaimOutcome.SEND
    assert isinstance(outcomes[1], StoreError)
    assert await store.get("GCU_OK_1") is not None
    assert await store.get("GCU_OK_2") is not None


async def test_a_closed_store_writes_what_was_requested_before_it_closed(journal: Journal) -> None:
    """aclose() waits for the transitions already requested, then refuses new ones."""
    store = journal.store()
    pending = [asyncio.ensure_future(_claim(store, f"GCA_{i}")) for i in range(10)]
    await asyncio.sleep(0)
    await store.aclose()
    assert await asyncio.gather(*pending) == [ClaimOutcome.SEND] * 10
    with pytest.raises(ConfigurationError, match="closed"):
        await _claim(store, "GCA_late")
    reader = journal.store()
    assert all([await reader.get(f"GCA_{i}") for i in range(10)])


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_an_unreachable_database_fails_every_caller_of_the_batch(kind: str) -> None:
    """A batch the database never took fails each of its callers with StoreError."""
    store: JournalStore = (
        RedisStore("redis://127.0.0.1:1/0")
        if kind == "redis"
        else PostgresStore("postgresql://postgres@127.0.0.1:1/test")
    )
    try:
        outcomes = await asyncio.gather(
            *(_claim(store, f"GCD_{i}") for i in range(5)), return_exceptions=True
        )
    finally:
        await store.aclose()
    assert all(isinstance(outcome, StoreError) for outcome in outcomes), outcomes
    assert json.dumps([str(o) for o in outcomes]).count("journal failed") == 5


async def test_two_processes_batching_the_same_numbers_give_each_one_owner(
    journal: Journal,
) -> None:
    """Two stores (two processes) claim the same thirty numbers at the same moment, each in its
    own batches: every number ends with exactly one SEND, and the record names that owner."""
    first, second = journal.store(), journal.store()
    numbers = [f"GCR_{i:02d}" for i in range(30)]
    outcomes = await asyncio.gather(
        *(_claim(first, number, owner="first") for number in numbers),
        *(_claim(second, number, owner="second") for number in numbers),
    )
    for i, number in enumerate(numbers):
        pair = (outcomes[i], outcomes[30 + i])
        assert sorted(pair) == sorted((ClaimOutcome.SEND, ClaimOutcome.BUSY)), (number, pair)
        record = await first.get(number)
        assert record is not None
        assert record.owner == ("first" if pair[0] is ClaimOutcome.SEND else "second")

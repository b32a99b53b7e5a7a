"""The outbox: PostgresStore.reserve() inside the merchant's transaction, then send_reserved() and
relay_reserved() pay every committed reservation exactly once, against real PostgreSQL and the
sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from payermax_async import (
    ConfigurationError,
    IdempotencyConflictError,
    MemoryStore,
    PayerMaxClient,
    PostgresStore,
    ValidationError,
)
from payermax_async.resources.outbox import RelayReport
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import FakeClock, fast_retry_policy
from tests.support.payloads import payout
from tests.support.postgres import POSTGRES_URL, postgres_store

PAY, QRY = "paymentOrderPay", "paymentOrderQry"
WINDOW = 600.0


@pytest.fixture
def clock() -> FakeClock:
    """Epoch seconds that only move when a test says so (journal, relay leases, absence window)."""
    return FakeClock(start=1_800_000_000.0)


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[PostgresStore]:
    """A migrated PostgresStore on a schema of its own, dropped afterwards."""
    async with postgres_store(clock=clock) as pg_store:
        yield pg_store


@pytest.fixture
async def merchant_db() -> AsyncIterator[asyncpg.Connection]:
    """The merchant's own connection, with its own withdrawals table in the test database."""
    conn = await asyncpg.connect(POSTGRES_URL)
    yield conn
    await conn.close()


def _client(
    gw: SandboxGateway, store: PostgresStore | MemoryStore, clock: FakeClock, attempts: int = 3
) -> PayerMaxClient:
    return PayerMaxClient(
        gw.config(),
        store=store,
        retry=fast_retry_policy(max_attempts=attempts, clock=clock),
        absence_window=WINDOW,
    )


async def _reserve(store: PostgresStore, conn: asyncpg.Connection, *keys: str) -> None:
    """Reserve payouts in one committed transaction of the merchant."""
    async with conn.transaction():
        for key in keys:
            await store.reserve(conn, payout(key))


async def test_a_rolled_back_transaction_leaves_nothing(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """A reservation whose transaction rolls back leaves no journal record, no outbox row, and
    nothing for a relay to send."""

    class Abort(Exception):
        pass

    async def withdraw_then_fail() -> None:
        async with merchant_db.transaction():
            record = await store.reserve(merchant_db, payout("rollback_1"))
            assert record.state is RecordState.CLAIMED
            assert await store.get("rollback_1") is None  # not visible before the commit
            raise Abort

    with pytest.raises(Abort):
        await withdraw_then_fail()
    assert await store.get("rollback_1") is None
    assert await store.reserved() == []
    async with _client(gw, store, clock) as client:
        report = await client.payouts.send_reserved()
    assert report.taken == 0
    assert gw.ledger.post_count(api=PAY) == 0


async def test_committed_reservations_are_paid_once_by_four_concurrent_relays(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """60 committed reservations, four relays with their own pools at once: one POST and one order
    per number, every row done, each number reported by exactly one relay."""
    keys = [f"outbox_{i:03d}" for i in range(60)]
    await _reserve(store, merchant_db, *keys[:30])
    await _reserve(store, merchant_db, *keys[30:])
    relays = [PostgresStore(POSTGRES_URL, schema=store.schema, clock=clock) for _ in range(4)]
    clients = [_client(gw, relay, clock) for relay in relays]
    try:
        reports = await asyncio.gather(
            *(c.payouts.send_reserved(limit=1000, concurrency=8) for c in clients)
        )
    finally:
        for client, relay in zip(clients, relays, strict=True):
            await client.aclose()
            await relay.aclose()
    sent = sorted(result.out_trade_no for report in reports for result in report)
    assert sent == keys
    assert gw.ledger.post_count(api=PAY) == 60
    assert sorted(gw.ledger.orders) == keys
    rows = await store.reserved()
    assert [row.out_trade_no for row in rows] == keys
    assert all(row.done_at is not None and row.outcome == "ACCEPTED PENDING" for row in rows)
    for key in keys:
        record = await store.get(key)
        assert record is not None
        assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)
        assert record.trade_no == gw.ledger.orders[key].trade_no


async def test_reserve_validates_before_writing(
    store: PostgresStore, merchant_db: asyncpg.Connection
) -> None:
    """A malformed request is a ValidationError naming the wire path, free of payee data, and
    nothing is written."""
    bad = payout("invalid_1", amount="10.001")
    async with merchant_db.transaction():
        with pytest.raises(ValidationError) as caught:
            await store.reserve(merchant_db, bad)
    assert caught.value.field == "trade.amount"
    assert "4111222233334444" not in str(caught.value)
    assert await store.get("invalid_1") is None
    assert await store.reserved() == []


async def test_other_data_under_a_reserved_number_is_a_conflict_and_the_transaction_goes_on(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """Reserving a number again with another amount raises IdempotencyConflictError; the
    merchant's transaction stays usable and commits the first reservation, which is paid once.
    Reserving the same request again is a no-op."""
    async with merchant_db.transaction():
        await store.reserve(merchant_db, payout("twice_1", amount="10"))
        with pytest.raises(IdempotencyConflictError):
            await store.reserve(merchant_db, payout("twice_1", amount="11"))
        await store.reserve(merchant_db, payout("twice_1", amount="10.00"))  # the same payout
    assert len(await store.reserved()) == 1
    async with _client(gw, store, clock) as client:
        report = await client.payouts.send_reserved()
        again = await client.payouts.send_reserved()
    assert [result.out_trade_no for result in report] == ["twice_1"]
    assert again.taken == 0
    assert gw.ledger.post_count(api=PAY) == 1
    assert gw.ledger.orders["twice_1"].data == payout("twice_1", amount="10")  # sent as given


async def test_a_refused_reservation_is_done_and_reported(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """A signed business refusal ends the row for good: reported as rejected with its code, never
    sent again by a later pass."""
    await _reserve(store, merchant_db, "refused_1")
    gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="BALANCE_INSUFFICIENT", times=1))
    async with _client(gw, store, clock) as client:
        report = await client.payouts.send_reserved()
        clock.advance(3600)
        again = await client.payouts.send_reserved()
    assert report.rejected == ["refused_1"]
    assert "refused_1" in repr(report)
    assert again.taken == 0
    (row,) = await store.reserved()
    assert (row.outcome, row.done_at is not None) == ("REJECTED BALANCE_INSUFFICIENT", True)
    assert gw.ledger.post_count(api=PAY) == 1


async def test_an_in_doubt_reservation_is_taken_again_after_retry_after_and_paid_once(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """A payout whose outcome is unknown stays pending: not taken again before retry_after, then
    settled by a query first and sent under the same number once its absence is proven."""
    await _reserve(store, merchant_db, "doubt_1")
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=PAY, times=1))
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
    async with _client(gw, store, clock, attempts=1) as client:
        first = await client.payouts.send_reserved(retry_after=700)
        early = await client.payouts.send_reserved(retry_after=700)
        clock.advance(701)
        later = await client.payouts.send_reserved(retry_after=700)
    assert first.in_doubt == ["doubt_1"]
    assert early.taken == 0
    assert [result.out_trade_no for result in later] == ["doubt_1"]
    assert gw.ledger.post_count(api=PAY) == 2  # the first never committed (503 before commit)
    assert list(gw.ledger.orders) == ["doubt_1"]
    (row,) = await store.reserved()
    assert row.attempts == 2
    assert row.done_at is not None


async def test_relay_reserved_pays_what_commits_while_it_runs_until_stopped(
    gw: SandboxGateway, store: PostgresStore, merchant_db: asyncpg.Connection, clock: FakeClock
) -> None:
    """The long-running relay picks up reservations committed after it started, reports each
    pass, and returns everything it did once stopped."""
    stop = asyncio.Event()
    passes: list[RelayReport] = []
    async with _client(gw, store, clock) as client:
        relay = asyncio.create_task(
            client.payouts.relay_reserved(stop=stop, poll_interval=0.01, on_report=passes.append)
        )
        await _reserve(store, merchant_db, "live_1", "live_2")
        await _reserve(store, merchant_db, "live_3")
        for _ in range(2_000):  # bounded: the relay polls every 10 ms
            if len(gw.ledger.orders) == 3 or relay.done():
                break
            await asyncio.sleep(0.01)
        stop.set()
        total = await asyncio.wait_for(relay, timeout=30)
    assert sorted(result.out_trade_no for result in total) == ["live_1", "live_2", "live_3"]
    assert sum(len(report) for report in passes) == 3
    assert gw.ledger.post_count(api=PAY) == 3


async def test_send_reserved_needs_a_postgres_store(gw: SandboxGateway, clock: FakeClock) -> None:
    """A client on another store cannot relay an outbox: ConfigurationError before any I/O, for
    both forms."""
    async with _client(gw, MemoryStore(clock=clock), clock) as client:
        with pytest.raises(ConfigurationError, match="PostgresStore"):
            await client.payouts.send_reserved()
        with pytest.raises(ConfigurationError, match="PostgresStore"):
            await client.payouts.relay_reserved(stop=asyncio.Event())
    assert gw.ledger.post_count() == 0


async def test_relay_arguments_are_checked(
    gw: SandboxGateway, store: PostgresStore, clock: FakeClock
) -> None:
    """A non-positive limit, concurrency, retry_after or poll_interval is a ValidationError naming
    the argument."""
    async with _client(gw, store, clock) as client:
        for name in ("limit", "concurrency", "retry_after"):
            with pytest.raises(ValidationError) as caught:
                await client.payouts.send_reserved(**{name: 0})
            assert caught.value.field == name
        with pytest.raises(ValidationError) as caught:
            await client.payouts.relay_reserved(poll_interval=0)
        assert caught.value.field == "poll_interval"


async def test_relay_reserved_rides_out_an_unreachable_database(
    gw: SandboxGateway, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A pass that cannot reach the database is logged and tried again at the next poll: the
    long-running relay keeps going until stopped instead of dying."""
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test", clock=clock)
    stop = asyncio.Event()

    def failures() -> int:
        return sum("relay pass failed" in record.getMessage() for record in caplog.records)

    try:
        async with _client(gw, store, clock) as client:
            relay = asyncio.create_task(
                client.payouts.relay_reserved(stop=stop, poll_interval=0.01)
            )
            for _ in range(2_000):  # bounded: each failed pass is followed by a 10 ms poll
                if failures() >= 2 or relay.done():
                    break
                await asyncio.sleep(0.01)
            stop.set()
            total = await asyncio.wait_for(relay, timeout=30)
    finally:
        await store.aclose()
    assert failures() >= 2
    assert total.taken == 0

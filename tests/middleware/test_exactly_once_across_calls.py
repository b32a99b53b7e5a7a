"""Exactly-once across calls, processes, notifications and reconcile(): no verdict without proof.

Each test reproduces a case an adversarial review found on an earlier version (the docstring says
which), through the public API against the sandbox, with every journal kind where the store matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from payermax_async import (
    IdempotencyConflictError,
    MemoryStore,
    PayerMaxClient,
    PayoutNotification,
    PayoutOutcomeUnknown,
    PayoutRequest,
    PayoutStatus,
    PostgresStore,
    RedisStore,
    SQLiteStore,
    WebhookVerifier,
    webhooks,
)
from payermax_async.errors import ConnectError, InvalidRequestError, RequestTimeoutError
from payermax_async.models.wire import structure
from payermax_async.pipeline import Call, Handler, Reply
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.signing import RsaSigner
from payermax_async.stores import Claim, ClaimOutcome, JournalStore, RecordState
from payermax_async.testing import FakeClock, fast_retry_policy
from tests.support.payloads import payout
from tests.support.postgres import POSTGRES_URL, drop_schema, postgres_or_skip
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)

PAY, QRY = "paymentOrderPay", "paymentOrderQry"
WINDOW = 600.0


@pytest.fixture
def clock() -> FakeClock:
    """Epoch seconds that only move when a test says so (journal, retry deadline, absence window)."""
    return FakeClock(start=1_800_000_000.0)


async def _open_store(kind: str, tmp_path: Path, clock: FakeClock, prefix: str) -> JournalStore:
    if kind == "memory":
        return MemoryStore(clock=clock)
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "journal.db", clock=clock)
    if kind == "postgres":
        await postgres_or_skip()
        pg_store = PostgresStore(POSTGRES_URL, schema=_schema(prefix), clock=clock)
        await pg_store.migrate()
        return pg_store
    if kind == "redis-cluster":
        await redis_cluster_or_skip()
        return RedisStore.from_url(REDIS_CLUSTER_URL, prefix=prefix, clock=clock)
    await redis_or_skip()
    return RedisStore(REDIS_URL, prefix=prefix, clock=clock)


def _schema(prefix: str) -> str:
    """The PostgreSQL schema of a test, from its unique prefix."""
    return "payermax_test_" + prefix.split(":")[1][:16]


async def _clean_up(kind: str, prefix: str) -> None:
    if kind == "redis":
        await redis_cleanup(prefix)
    elif kind == "redis-cluster":
        await redis_cluster_cleanup(prefix)
    elif kind == "postgres":
        await drop_schema(_schema(prefix))


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-cluster", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[JournalStore]:
    """One journal of each kind on the fake clock, closed (and its Redis keys or PostgreSQL schema
    deleted) afterwards."""
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    try:
        journal = await _open_store(request.param, tmp_path, clock, prefix)
        yield journal
        await journal.aclose()
    finally:
        await _clean_up(request.param, prefix)


def _client(
    gw: SandboxGateway,
    store: JournalStore,
    clock: FakeClock,
    *,
    max_attempts: int = 1,
    middlewares: tuple[Callable[[Call, Handler], object], ...] = (),
) -> PayerMaxClient:
    return PayerMaxClient(
        gw.config(),
        store=store,
        retry=fast_retry_policy(max_attempts=max_attempts, clock=clock),
        absence_window=WINDOW,
        middlewares=middlewares,  # type: ignore[arg-type]
    )


async def _first_attempt_commits_late(gw: SandboxGateway, client: PayerMaxClient, key: str) -> None:
    """The first POST is received, its connection dropped, and its order committed only later."""
    gw.faults.add(Fault(FaultKind.COMMIT_LATE, api=PAY, out_trade_no=key, delay=3600, times=1))
    with pytest.raises(PayoutOutcomeUnknown):
        await client.payouts.create(payout(key))
    assert key not in gw.ledger.orders


# ------------------------------------------------------------------------------ 1. refused resends


async def test_a_refused_resend_after_a_late_commit_stays_in_doubt(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 1 (was: REJECTED and InvalidRequestError): the resend of a payout whose first attempt
    commits late is refused with BALANCE_INSUFFICIENT; the call ends in PayoutOutcomeUnknown carrying
    that code, the record stays IN_DOUBT, and reconcile() adopts the order once it appears."""
    async with _client(gw, store, clock) as client:
        await _first_attempt_commits_late(gw, client, "refused_1")
        gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="BALANCE_INSUFFICIENT"))
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("refused_1"))
        assert caught.value.code == "BALANCE_INSUFFICIENT"
        assert "new outTradeNo" not in str(caught.value).replace("never resend it under a new", "")
        record = await store.get("refused_1")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        gw.faults.clear()
        await gw.flush_late_commits()
        report = await client.payouts.reconcile()
        assert [order.out_trade_no for order in report] == ["refused_1"]
        record = await store.get("refused_1")
        assert record is not None
        assert record.state is RecordState.FINAL
        assert record.trade_no == gw.ledger.orders["refused_1"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="refused_1") == 2


def _refuse_payouts(call: Call, next_handler: Handler) -> object:
    """A per-attempt middleware standing in for a network that refuses connections to pay."""
    if call.api == PAY:
        msg = "connection refused (simulated)"
        raise ConnectError(msg)
    return next_handler(call)


async def test_a_resend_meeting_a_connect_failure_stays_in_doubt(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 1 (was: released to CLAIMED, ConnectError): after a maybe-sent attempt, a resend that
    never leaves proves nothing; PayoutOutcomeUnknown and IN_DOUBT."""
    async with _client(gw, store, clock) as client:
        await _first_attempt_commits_late(gw, client, "refused_2")
    async with _client(gw, store, clock, middlewares=(_refuse_payouts,)) as client:
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("refused_2"))
    record = await store.get("refused_2")
    assert record is not None
    assert record.state is RecordState.IN_DOUBT
    assert record.maybe_sent


async def test_a_rate_limited_resend_stays_in_doubt(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 1 (was: released to CLAIMED, RateLimitError): a rate limit on the resend of a maybe-sent
    payout ends in PayoutOutcomeUnknown with the code, the record IN_DOUBT."""
    async with _client(gw, store, clock) as client:
        await _first_attempt_commits_late(gw, client, "refused_3")
        gw.faults.add(Fault(FaultKind.RATE_LIMIT, api=PAY, retry_after=0))
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("refused_3"))
    assert caught.value.code == "TOO_MANY_REQUEST"
    record = await store.get("refused_3")
    assert record is not None
    assert record.state is RecordState.IN_DOUBT


async def test_reconcile_before_the_absence_window_keeps_the_record_in_doubt(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 1 + R2 (was: reconcile released the record, the next create() sent it and recorded the
    refusal as REJECTED): ORDER_NOT_EXIST inside the absence window proves nothing."""
    async with _client(gw, store, clock) as client:
        await _first_attempt_commits_late(gw, client, "window_1")
        clock.advance(60)
        report = await client.payouts.reconcile()
        assert list(report) == []
        assert report.in_doubt == ["window_1"]
        assert report.absent == []
        record = await store.get("window_1")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="BALANCE_INSUFFICIENT"))
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("window_1"))
        record = await store.get("window_1")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT


async def test_after_the_absence_window_reconcile_proves_absence_and_a_refusal_is_final(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """R2: once the window has passed since the last possible send, ORDER_NOT_EXIST proves that no
    order exists; reconcile() says so, the number is re-sendable and a refusal then is definitive."""
    async with _client(gw, store, clock) as client:
        # The first attempt is lost before the gateway commits anything (a reset before reading).
        gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=PAY, times=1))
        gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("window_2"))
        clock.advance(WINDOW + 1)
        report = await client.payouts.reconcile()
        assert report.absent == ["window_2"]
        assert report.in_doubt == []
        record = await store.get("window_2")
        assert record is not None
        assert record.state is RecordState.CLAIMED
        assert not record.maybe_sent
        gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="BALANCE_INSUFFICIENT"))
        with pytest.raises(InvalidRequestError) as caught:
            await client.payouts.create(payout("window_2"))
        assert caught.value.verified
        record = await store.get("window_2")
        assert record is not None
        assert record.state is RecordState.REJECTED
    assert "window_2" not in gw.ledger.orders


# ------------------------------------------------------------------------------ 2. one number, one payout


async def _post_notification(url: str, gw: SandboxGateway, order: dict[str, object]) -> int:
    document = {
        "code": "APPLY_SUCCESS",
        "msg": "Success.",
        "keyVersion": "1",
        "appId": gw.app_id,
        "merchantNo": gw.merchant_no,
        "notifyTime": "2026-11-30T10:00:00 +0000",
        "notifyType": "PAYOUT",
        "data": order,
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    sign = RsaSigner(gw.platform_private_key).sign_sync(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"sign": sign}) as response,
    ):
        await response.read()
        return response.status


async def _serve(handler: webhooks.AiohttpHandler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/notify", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/notify"


def _order(key: str, status: str, amount: str = "10", currency: str = "USD") -> dict[str, object]:
    return {
        "outTradeNo": key,
        "tradeNo": f"TN_{key}",
        "status": status,
        "trade": {"amount": amount, "currency": currency},
    }


async def test_a_record_learned_from_a_notification_still_checks_the_amount(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 2 (was: SUCCESS with the other order's tradeNo, nothing sent): a notification recorded
    with dedupe=store does not let create() of that number with another amount pass."""
    seen: list[PayoutStatus] = []

    async def on_notification(notification: PayoutNotification) -> None:
        seen.append(notification.data.status)

    verifier = WebhookVerifier.from_config(gw.config())
    runner, url = await _serve(webhooks.aiohttp_handler(verifier, on_notification, dedupe=store))
    try:
        assert await _post_notification(url, gw, _order("learned_1", "SUCCESS", "10")) == 200
    finally:
        await runner.cleanup()
    assert seen == [PayoutStatus.SUCCESS]
    async with _client(gw, store, clock) as client:
        with pytest.raises(IdempotencyConflictError):
            await client.payouts.create(payout("learned_1", amount="11"))
        # The same amount written differently is the same payout: answered from the journal.
        result = await client.payouts.create(payout("learned_1", amount="10.00"))
        assert result.trade_no == "TN_learned_1"
        # Once bound to that request, other payee data is another payout.
        other = payout("learned_1", amount="10")
        other["payeeInfo"]["accountInfo"] = {"accountNo": "999988887777"}  # type: ignore[index]
        with pytest.raises(IdempotencyConflictError):
            await client.payouts.create(other)
    assert gw.ledger.post_count(api=PAY) == 0


async def test_reconcile_reports_an_order_of_another_amount_instead_of_adopting_it(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 2 (was: adopted, and a later create() returned success): the order found under an
    in-doubt number has another amount; reconcile() reports the conflict, create() refuses."""
    async with _client(gw, store, clock) as client:
        gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=PAY, times=1))
        gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("foreign_1", amount="10"))
        gw.ledger.add_order(payout("foreign_1", amount="11"))  # another system took the number
        report = await client.payouts.reconcile()
        assert list(report) == []
        assert report.conflicts == ["foreign_1"]
        assert "foreign_1" in repr(report)
        record = await store.get("foreign_1")
        assert record is not None
        assert record.state is RecordState.CONFLICT
        with pytest.raises(IdempotencyConflictError) as caught:
            await client.payouts.create(payout("foreign_1", amount="10"))
        assert "new outTradeNo" not in str(caught.value)
    assert gw.ledger.post_count(api=PAY, out_trade_no="foreign_1") == 1


# ------------------------------------------------------------------------------ 3. and 4. leases


class _SlowAck:
    """Makes one ``claim``/``mark_sent`` of a journal commit, then acknowledge slowly (a slow network
    to Redis, a busy SQLite thread): the acknowledgement arrives only when ``ack`` is set. The
    journal's method is replaced on the instance, so the store is still what it was."""

    def __init__(self, store: JournalStore, method: str) -> None:
        self.committed = asyncio.Event()
        self.ack = asyncio.Event()
        original = getattr(store, method)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            if not self.committed.is_set():
                self.committed.set()
                await self.ack.wait()
            return result

        setattr(store, method, slow)


async def test_a_cancelled_claim_hands_its_lease_back_at_once(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 3 (was: the next create() stalled for the whole lease): cancelling create() while the
    journal commits its claim (which also marks the payout SENT) releases the lease; the next
    create() pays at once."""
    slow = _SlowAck(store, "claim")
    client = PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy(clock=clock))
    async with client:
        task = asyncio.ensure_future(client.payouts.create(payout("cancel_1")))
        await asyncio.wait_for(slow.committed.wait(), 5)
        task.cancel()  # while the committed write's acknowledgement is still on its way
        await asyncio.sleep(0)
        slow.ack.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        record = await store.get("cancel_1")
        assert record is not None
        assert record.owner is None, "the cancelled call still holds the lease"
        assert record.state is RecordState.CLAIMED
    async with _client(gw, store, clock) as client:
        result = await asyncio.wait_for(client.payouts.create(payout("cancel_1")), 5)
    assert result.trade_no == gw.ledger.orders["cancel_1"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_1") == 1


async def test_a_cancelled_sent_mark_hands_its_lease_back_at_once(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 3: a payout in doubt is looked up, then marked SENT before its resend; cancelling
    create() while that mark commits hands the lease back (the record stays in doubt) and the next
    create() resends at once, under the same number."""
    async with _client(gw, store, clock) as client:
        gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=PAY, times=1))
        gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("cancel_2"))
    slow = _SlowAck(store, "mark_sent")
    async with _client(gw, store, clock) as client:
        task = asyncio.ensure_future(client.payouts.create(payout("cancel_2")))
        await asyncio.wait_for(slow.committed.wait(), 5)
        task.cancel()
        await asyncio.sleep(0)
        slow.ack.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    record = await store.get("cancel_2")
    assert record is not None
    assert record.owner is None, "the cancelled call still holds the lease"
    assert record.state is RecordState.IN_DOUBT
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_2") == 1
    async with _client(gw, store, clock) as client:
        result = await asyncio.wait_for(client.payouts.create(payout("cancel_2")), 5)
    assert result.trade_no == gw.ledger.orders["cancel_2"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_2") == 2


class _SlowStart:
    """Holds one call of a journal method before it starts (a busy SQLite thread, a queued group
    commit, a Redis pipeline waiting its turn) until ``go`` is set: a cancellation meanwhile finds
    the write not begun, which only a shielded write survives."""

    def __init__(self, store: JournalStore, method: str) -> None:
        self.waiting = asyncio.Event()
        self.go = asyncio.Event()
        original = getattr(store, method)

        async def slow(*args: Any, **kwargs: Any) -> Any:
            if not self.waiting.is_set():
                self.waiting.set()
                await self.go.wait()
            return await original(*args, **kwargs)

        setattr(store, method, slow)


async def test_a_claim_cancelled_before_it_began_lands_and_is_handed_back(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Cancelling create() before its claim's write has begun: the claim still lands whole, its lease
    is handed back, nothing is sent, and the next create() pays at once."""
    slow = _SlowStart(store, "claim")
    async with _client(gw, store, clock) as client:
        task = asyncio.ensure_future(client.payouts.create(payout("cancel_5")))
        await asyncio.wait_for(slow.waiting.wait(), 5)
        task.cancel()
        await asyncio.sleep(0)
        slow.go.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        record = await store.get("cancel_5")
        assert record is not None
        assert record.owner is None, "the cancelled call still holds the lease"
        assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_5") == 0
    async with _client(gw, store, clock) as client:
        result = await asyncio.wait_for(client.payouts.create(payout("cancel_5")), 5)
    assert result.trade_no == gw.ledger.orders["cancel_5"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_5") == 1


async def test_a_cancelled_outcome_write_still_lands(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """The speed-ups write the outcome without a task of its own when the store does not suspend;
    when it does, cancelling create() before the accepted outcome's write has begun must still leave
    it in the journal: the next create() answers from the journal and sends nothing."""
    slow = _SlowStart(store, "record_result")
    async with _client(gw, store, clock) as client:
        task = asyncio.ensure_future(client.payouts.create(payout("cancel_3")))
        await asyncio.wait_for(slow.waiting.wait(), 5)
        task.cancel()
        await asyncio.sleep(0)
        slow.go.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        record = await store.get("cancel_3")
        assert record is not None
        assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)
        assert record.trade_no == gw.ledger.orders["cancel_3"].trade_no
        assert record.owner is None
    async with _client(gw, store, clock) as client:
        result = await asyncio.wait_for(client.payouts.create(payout("cancel_3")), 5)
    assert result.trade_no == gw.ledger.orders["cancel_3"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_3") == 1


async def test_a_cancelled_in_doubt_write_still_lands(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Cancelling create() before the journal has begun to write "in doubt" (the answer was lost)
    still writes it: the record stays open for reconcile(), and the next create() queries before it would resend."""
    slow = _SlowStart(store, "record_in_doubt")
    gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=PAY, times=1))
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
    async with _client(gw, store, clock) as client:
        task = asyncio.ensure_future(client.payouts.create(payout("cancel_4")))
        await asyncio.wait_for(slow.waiting.wait(), 5)
        task.cancel()
        await asyncio.sleep(0)
        slow.go.set()
        with contextlib.suppress(asyncio.CancelledError, PayoutOutcomeUnknown):
            await task
    record = await store.get("cancel_4")
    assert record is not None
    assert record.state is RecordState.IN_DOUBT
    assert "cancel_4" in {open_record.out_trade_no for open_record in await store.open_records()}
    async with _client(gw, store, clock) as client:
        result = await asyncio.wait_for(client.payouts.create(payout("cancel_4")), 5)
    assert result.trade_no == gw.ledger.orders["cancel_4"].trade_no
    # The first request was cut before the gateway read it; the query proved no order, so one
    # resend, under the same number.
    assert gw.ledger.post_count(api=PAY, out_trade_no="cancel_4") == 2


async def test_the_lease_covers_an_owner_that_uses_its_whole_worst_case(
    gw: SandboxGateway, clock: FakeClock
) -> None:
    """Case 4 (was: a 90 s lease under an owner still working at ~120 s): with the default policy and
    timeouts, every attempt and the settling query time out in full; at each step the owner still
    holds a live lease, so no other process may take the number over."""
    store = MemoryStore(clock=clock)
    lapses: list[float] = []
    timeout = 30.0  # the client's default total timeout

    async def slow_network(call: Call, next_handler: Handler) -> Reply:
        # Each payout attempt takes the whole timeout and times out; each settling query answers
        # ORDER_NOT_EXIST just before the deadline, so the next attempt starts as late as allowed.
        clock.advance(timeout if call.api == PAY else timeout - 1)
        record = await store.get("lease_1")
        assert record is not None
        if record.lease_expires is None or record.lease_expires <= clock():
            lapses.append(clock() - 1_800_000_000.0)
        if call.api == PAY:
            msg = "read timeout (simulated)"
            raise RequestTimeoutError(msg)
        return await next_handler(call)

    policy = fast_retry_policy(max_attempts=5, deadline=60.0, clock=clock)
    async with PayerMaxClient(
        gw.config(), store=store, retry=policy, middlewares=(slow_network,)
    ) as client:
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("lease_1"))
    assert lapses == []


# ------------------------------------------------------------------------------ 5. unreadable records


async def _plant_unreadable(store: JournalStore, key: str) -> None:
    if isinstance(store, SQLiteStore):
        with contextlib.closing(sqlite3.connect(store.path)) as conn, conn:
            conn.execute(
                "INSERT INTO payermax_journal (out_trade_no, state, record) VALUES (?, ?, ?)",
                (key, "IN_DOUBT", "{not json"),
            )
        return
    if isinstance(store, PostgresStore):
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(
                f'INSERT INTO "{store.schema}".journal (out_trade_no, state, updated_at, record) '  # noqa: S608
                "VALUES ($1, 'IN_DOUBT', 0, '{not json')",
                key,
            )
        finally:
            await conn.close()
        return
    assert isinstance(store, RedisStore)
    client = store._client  # the test reaches into Redis to corrupt one record
    await client.set(store._key(key), b"\xff\xfe garbage")
    await client.sadd(store._keys.open_index(key), key)


@pytest.mark.parametrize("kind", ["sqlite", "redis", "redis-cluster", "postgres"])
async def test_one_unreadable_record_does_not_stop_reconcile(
    gw: SandboxGateway, tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    """Case 5 (was: StoreError out of reconcile()): an unreadable record is skipped, reported and
    counted; every other open record is still settled."""
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store = await _open_store(kind, tmp_path, clock, prefix)
    try:
        async with _client(gw, store, clock) as client:
            gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
            gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
            with pytest.raises(PayoutOutcomeUnknown):
                await client.payouts.create(payout("good_1"))
            await _plant_unreadable(store, "bad_1")
            report = await client.payouts.reconcile()
        assert [order.out_trade_no for order in report] == ["good_1"]
        assert report.unreadable == ["bad_1"]
        assert "bad_1" in repr(report)
        record = await store.get("good_1")
        assert record is not None
        assert record.state is RecordState.FINAL
    finally:
        await store.aclose()
        await _clean_up(kind, prefix)


# ------------------------------------------------------------------------------ 6. equal money


async def test_equal_amounts_written_differently_are_the_same_payout(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 6 (was: IdempotencyConflictError): "10" in a mapping and Decimal("10.00") in a model are
    one payout; the second create() is answered from the journal, nothing is sent twice."""
    async with _client(gw, store, clock) as client:
        first = await client.payouts.create(payout("money_1", amount="10"))
        model = structure(payout("money_1", amount="10.00"), PayoutRequest, what="request")
        assert model.trade.amount == Decimal("10.00")
        second = await client.payouts.create(model)
    assert second.trade_no == first.trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="money_1") == 1


async def test_a_conflict_with_an_in_doubt_payout_never_suggests_a_new_number(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Case 6 (was: "nothing was sent (a new payout needs a new outTradeNo)" while the first payout
    was in doubt): the message says the recorded payout may exist and how to settle it."""
    async with _client(gw, store, clock) as client:
        await _first_attempt_commits_late(gw, client, "money_2")
        with pytest.raises(IdempotencyConflictError) as caught:
            await client.payouts.create(payout("money_2", amount="12"))
    message = str(caught.value)
    assert "new outTradeNo" not in message
    assert "may exist" in message
    assert "reconcile" in message


async def test_a_conflict_after_a_proven_refusal_may_suggest_a_new_number(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """R3: only when the journal proves nothing was ever sent (a verified refusal of the only send)
    may the conflict message suggest another outTradeNo."""
    async with _client(gw, store, clock) as client:
        gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="PARAMS_INVALID", times=1))
        with pytest.raises(InvalidRequestError, match="PARAMS_INVALID"):
            await client.payouts.create(payout("money_3", amount="10"))
        with pytest.raises(IdempotencyConflictError, match="new outTradeNo"):
            await client.payouts.create(payout("money_3", amount="12"))


# ------------------------------------------------------------------------------ 7. webhooks across hosts


@pytest.mark.parametrize("kind", ["sqlite", "redis", "redis-cluster", "postgres"])
async def test_two_hosts_never_deliver_an_older_status_after_a_newer_one(
    gw: SandboxGateway, tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    """Case 7 (was: BOUNCEBACK then SUCCESS): two receivers on two journal connections sharing one
    database; while host A delivers BOUNCEBACK, host B receives the late SUCCESS. The application
    sees the statuses only in forward order, and the late SUCCESS is never delivered after."""
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store_a = await _open_store(kind, tmp_path, clock, prefix)
    store_b = await _open_store(kind, tmp_path, clock, prefix)
    seen: list[PayoutStatus] = []
    inside_a = asyncio.Event()
    leave_a = asyncio.Event()

    async def host_a(notification: PayoutNotification) -> None:
        seen.append(notification.data.status)
        inside_a.set()
        await leave_a.wait()

    async def host_b(notification: PayoutNotification) -> None:
        seen.append(notification.data.status)

    verifier = WebhookVerifier.from_config(gw.config())
    runner_a, url_a = await _serve(webhooks.aiohttp_handler(verifier, host_a, dedupe=store_a))
    runner_b, url_b = await _serve(webhooks.aiohttp_handler(verifier, host_b, dedupe=store_b))
    try:
        first = asyncio.ensure_future(
            _post_notification(url_a, gw, _order("hosts_1", "BOUNCEBACK"))
        )
        await asyncio.wait_for(inside_a.wait(), 5)
        late = await _post_notification(url_b, gw, _order("hosts_1", "SUCCESS"))
        leave_a.set()
        assert await first == 200
        # B either refused to deliver now (PayerMax retries) or acknowledged without delivering.
        assert late in (200, 500)
        again = await _post_notification(url_b, gw, _order("hosts_1", "SUCCESS"))
        assert again == 200
    finally:
        leave_a.set()
        await runner_a.cleanup()
        await runner_b.cleanup()
        await store_a.aclose()
        await store_b.aclose()
        await _clean_up(kind, prefix)
    assert seen == [PayoutStatus.BOUNCEBACK]


# ------------------------------------------------------------------------------ 8. cancellation


async def test_a_follower_cancelled_with_its_leader_is_cancelled_on_every_python(
    gw: SandboxGateway,
) -> None:
    """Case 8 (was, on Python 3.10: the follower swallowed its own cancellation and started over):
    a caller sharing another call's in-flight attempt and cancelled together with it raises
    CancelledError."""
    gw.faults.add(Fault(FaultKind.DELAY, api=PAY, delay=30))
    store = MemoryStore()
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        leader = asyncio.ensure_future(client.payouts.create(payout("flight_1")))
        for _ in range(200):
            if gw.ledger.post_count(api=PAY, out_trade_no="flight_1"):
                break
            await asyncio.sleep(0.005)
        follower = asyncio.ensure_future(client.payouts.create(payout("flight_1")))
        await asyncio.sleep(0.01)  # the follower now waits on the leader's attempt
        # The follower is cancelled just after the leader settled the shared attempt as cancelled,
        # before the follower has seen it: both cancellations meet in the follower's next step.
        leader.add_done_callback(lambda _: follower.cancel())
        leader.cancel()
        results = await asyncio.gather(leader, follower, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results), results
    assert gw.ledger.post_count(api=PAY, out_trade_no="flight_1") == 1


# ------------------------------------------------------------------------------ unsigned answers


async def test_an_unsigned_refusal_of_a_payout_proves_nothing(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Security finding 1: an order is committed, then the answer is rewritten into an unsigned
    BALANCE_INSUFFICIENT on the way back. The SDK does not believe it: it queries, finds the order
    and returns it; nothing is journalled as refused."""
    gw.faults.add(
        Fault(FaultKind.TAMPERED_AFTER_COMMIT, api=PAY, code="BALANCE_INSUFFICIENT", times=1)
    )
    async with _client(gw, store, clock) as client:
        result = await client.payouts.create(payout("unsigned_1"))
    assert result.trade_no == gw.ledger.orders["unsigned_1"].trade_no
    record = await store.get("unsigned_1")
    assert record is not None
    assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)


async def test_an_unsigned_refusal_with_no_order_stays_in_doubt_and_says_unverified(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """An unsigned PARAMS_INVALID with nothing behind it: the caller gets PayoutOutcomeUnknown with
    the code and ``verified=False`` (never a refusal), the record stays IN_DOUBT, and only once the
    absence window has passed does reconcile() report it absent."""
    gw.faults.add(Fault(FaultKind.UNSIGNED_ERROR, api=PAY, code="PARAMS_INVALID", times=1))
    async with _client(gw, store, clock) as client:
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("unsigned_2"))
        assert (caught.value.code, caught.value.verified) == ("PARAMS_INVALID", False)
        record = await store.get("unsigned_2")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        assert (await client.payouts.reconcile()).in_doubt == ["unsigned_2"]
        clock.advance(WINDOW + 1)
        assert (await client.payouts.reconcile()).absent == ["unsigned_2"]
    assert "unsigned_2" not in gw.ledger.orders


async def test_an_unsigned_order_not_exist_is_not_believed_by_reconcile(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """Security finding 1: an unsigned ORDER_NOT_EXIST, even after the absence window, proves
    nothing; the record stays in doubt and the order is adopted once a signed answer comes."""
    async with _client(gw, store, clock) as client:
        gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
        gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=1))
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("unsigned_3"))
        clock.advance(WINDOW + 1)
        gw.faults.add(Fault(FaultKind.UNSIGNED_ERROR, api=QRY, code="ORDER_NOT_EXIST", times=1))
        report = await client.payouts.reconcile()
        assert (report.absent, report.in_doubt) == ([], ["unsigned_3"])
        report = await client.payouts.reconcile()
        assert [order.out_trade_no for order in report] == ["unsigned_3"]


async def test_retrieve_marks_an_unsigned_not_found_as_unverified(
    gw: SandboxGateway, store: JournalStore, clock: FakeClock
) -> None:
    """retrieve() surfaces an unsigned ORDER_NOT_EXIST as OrderNotFoundError with verified=False;
    a signed one has verified=True."""
    from payermax_async import OrderNotFoundError

    async with _client(gw, store, clock) as client:
        with pytest.raises(OrderNotFoundError) as signed:
            await client.payouts.retrieve("nothing_here")
        gw.faults.add(Fault(FaultKind.UNSIGNED_ERROR, api=QRY, code="ORDER_NOT_EXIST", times=1))
        with pytest.raises(OrderNotFoundError) as unsigned:
            await client.payouts.retrieve("nothing_here")
    assert (signed.value.verified, unsigned.value.verified) == (True, False)


# ------------------------------------------------------------------------------ waiting on a refusal


async def test_a_call_waiting_on_another_hosts_attempt_adopts_its_signed_refusal(
    gw: SandboxGateway, tmp_path: Path, clock: FakeClock
) -> None:
    """Two hosts create one payout at once: the one that waited on the other's claim gets the same
    signed refusal instead of resending, so no caller is told "refused" while its twin pays."""

    class Watched(SQLiteStore):
        """Tells the test when host B has found host A's claim."""

        busy = asyncio.Event()

        async def claim(self, *args: Any, **kwargs: Any) -> Claim:
            claim = await super().claim(*args, **kwargs)
            if claim.outcome is ClaimOutcome.BUSY:
                self.busy.set()
            return claim

    first = SQLiteStore(tmp_path / "journal.db", clock=clock)
    second = Watched(tmp_path / "journal.db", clock=clock)
    held = asyncio.Event()
    go = asyncio.Event()

    async def hold_the_first_send(call: Call, next_handler: Handler) -> Reply:
        if call.api == PAY:
            held.set()
            await go.wait()
        return await next_handler(call)

    gw.faults.add(Fault(FaultKind.REJECT, api=PAY, code="BALANCE_INSUFFICIENT", times=1))
    try:
        async with (
            _client(gw, first, clock, middlewares=(hold_the_first_send,)) as host_a,
            _client(gw, second, clock) as host_b,
        ):
            task_a = asyncio.ensure_future(host_a.payouts.create(payout("twins_1")))
            await asyncio.wait_for(held.wait(), 5)
            task_b = asyncio.ensure_future(host_b.payouts.create(payout("twins_1")))
            await asyncio.wait_for(second.busy.wait(), 5)  # B found A's claim and waits on it
            go.set()
            results = await asyncio.gather(task_a, task_b, return_exceptions=True)
    finally:
        await first.aclose()
        await second.aclose()
    assert [type(r).__name__ for r in results] == ["InvalidRequestError", "InvalidRequestError"]
    assert all(getattr(r, "code", None) == "BALANCE_INSUFFICIENT" for r in results)
    assert gw.ledger.post_count(api=PAY, out_trade_no="twins_1") == 1
    assert "twins_1" not in gw.ledger.orders

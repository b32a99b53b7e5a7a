"""``timeout=`` bounds each attempt, ``deadline=`` the whole call: across retries, for ``list()``, and
for a payout, where a deadline that passes after a request may have left ends in doubt (never in a
refusal) and one that passes before anything was sent leaves nothing in doubt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from payermax_async import (
    IdempotencyStore,
    MemoryStore,
    PayerMaxClient,
    PayoutOutcomeUnknown,
    RetryPolicy,
    SQLiteStore,
)
from payermax_async.errors import DeadlineExceededError, RateLimitError, RequestTimeoutError
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import Claim, RecordState
from payermax_async.testing import RecordingSleep, fast_retry_policy
from tests.support.payloads import payout

PAY, QRY, BATCH = "paymentOrderPay", "paymentOrderQry", "paymentOrderBatchQry"
DAY = datetime(2026, 11, 20, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    """A journal that never suspends (memory) and one that does (SQLite on its thread)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    async with SQLiteStore(tmp_path / "journal.db") as sqlite:
        yield sqlite


async def test_deadline_spans_retries_each_attempt_with_its_own_timeout(gw: SandboxGateway) -> None:
    """Three slow answers each cut by the per-attempt timeout, then an answer: all within one
    deadline, which does not cut the call short."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("dl_span"))
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=3, delay=30.0))
        order = await client.payouts.retrieve("dl_span", timeout=0.05, deadline=60)
    assert order.out_trade_no == "dl_span"
    assert gw.ledger.post_count(api=QRY) == 4


async def test_a_read_out_of_time_between_attempts_ends_in_deadline_exceeded(
    gw: SandboxGateway,
) -> None:
    """A read whose next pause would cross its deadline ends at once, in DeadlineExceededError
    caused by the last attempt's error."""
    sleep = RecordingSleep()
    policy = RetryPolicy(backoff_base=0, backoff_max=0, retry_after_max=60, sleep=sleep)
    async with PayerMaxClient(gw.config(), retry=policy) as client:
        gw.faults.add(Fault(FaultKind.RATE_LIMIT, api=QRY, times=1, retry_after=30))
        with pytest.raises(DeadlineExceededError) as caught:
            await client.payouts.retrieve("dl_pause_read", deadline=5)
    assert isinstance(caught.value.__cause__, RateLimitError)
    assert sleep.delays == []
    assert gw.ledger.post_count(api=QRY) == 1


async def test_deadline_ends_a_read_that_keeps_timing_out(gw: SandboxGateway) -> None:
    """Every attempt times out and the policy would retry for long: the deadline ends the call with
    DeadlineExceededError (a RequestTimeoutError and a TimeoutError) after more than one attempt."""
    policy = fast_retry_policy(max_attempts=10_000, deadline=3_600)
    async with PayerMaxClient(gw.config(), retry=policy) as client:
        await client.payouts.create(payout("dl_read"))
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, delay=30.0))
        with pytest.raises(DeadlineExceededError) as caught:
            await client.payouts.retrieve("dl_read", timeout=0.05, deadline=0.5)
    assert isinstance(caught.value, RequestTimeoutError)
    assert isinstance(caught.value, TimeoutError)
    assert gw.ledger.post_count(api=QRY) >= 2  # retried inside the deadline


async def test_no_pause_crosses_the_deadline(gw: SandboxGateway) -> None:
    """A ``Retry-After`` pause that would end after the deadline is not taken: the call ends at
    once in DeadlineExceededError caused by the last attempt's error, nothing sent and nothing in
    doubt, where without a deadline it would wait and retry."""
    sleep = RecordingSleep()
    policy = RetryPolicy(backoff_base=0, backoff_max=0, retry_after_max=60, sleep=sleep)
    async with PayerMaxClient(gw.config(), retry=policy) as client:
        gw.faults.add(Fault(FaultKind.RATE_LIMIT, api=PAY, times=1, retry_after=30))
        with pytest.raises(DeadlineExceededError) as caught:
            await client.payouts.create(payout("dl_pause"), deadline=5)
        assert caught.value.maybe_sent is False
        assert "RateLimitError" in str(caught.value)
        assert sleep.delays == []
        record = await client.store.get("dl_pause")
        assert record is not None
        assert not record.maybe_sent
        gw.faults.add(Fault(FaultKind.RATE_LIMIT, api=PAY, times=1, retry_after=30))
        result = await client.payouts.create(payout("dl_pause"))
        assert sleep.delays == [30]
    assert result.out_trade_no == "dl_pause"
    assert gw.ledger.post_count(api=PAY) == 3


async def test_deadline_mid_create_leaves_the_payout_in_doubt_for_reconcile(
    gw: SandboxGateway, store: IdempotencyStore
) -> None:
    """The gateway takes the payout and is slow to answer; the deadline passes: the call ends in
    PayoutOutcomeUnknown (never a refusal), the journal holds it in doubt, reconcile() adopts the
    order, and create() again returns it without a second payout."""
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        # A pooled connection first, and a deadline with room on a loaded machine: it must pass
        # after the gateway took the payout (the answer is held back for 30 s), not before.
        await client.payouts.create(payout("dl_warm"))
        gw.faults.add(Fault(FaultKind.DELAY, api=PAY, times=1, delay=30.0))
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("dl_doubt"), deadline=1.0)
        assert caught.value.out_trade_no == "dl_doubt"
        assert isinstance(caught.value.__cause__, DeadlineExceededError)
        record = await store.get("dl_doubt")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        assert "dl_doubt" in gw.ledger.orders
        report = await client.payouts.reconcile()
        assert [order.out_trade_no for order in report] == ["dl_doubt"]
        again = await client.payouts.create(payout("dl_doubt"))
    assert again.out_trade_no == "dl_doubt"
    assert gw.ledger.post_count(api=PAY, out_trade_no="dl_doubt") == 1


async def test_deadline_across_create_retries_ends_in_doubt_once_a_request_may_have_left(
    gw: SandboxGateway,
) -> None:
    """Attempts that time out after sending are settled by queries that time out too; when the
    deadline passes the payout is in doubt, and the order the gateway took is found later."""
    policy = fast_retry_policy(max_attempts=10_000, deadline=3_600)
    async with PayerMaxClient(gw.config(), retry=policy) as client:
        await client.payouts.create(payout("dl_warm"))  # a pooled connection: 50 ms is for sending
        gw.faults.add(Fault(FaultKind.DELAY, delay=30.0))  # every API, every time
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("dl_retries"), timeout=0.05, deadline=0.5)
        assert gw.ledger.post_count(api=QRY, out_trade_no="dl_retries") >= 1  # it asked first
        gw.faults.clear()
        report = await client.payouts.reconcile()
    assert [order.out_trade_no for order in report] == ["dl_retries"]
    assert gw.ledger.post_count(api=PAY, out_trade_no="dl_retries") == 1


class SlowClaims(MemoryStore):
    """A journal whose claim takes a while (a slow database): the deadline passes before it lands."""

    async def claim(self, *args: Any, **kwargs: Any) -> Claim:
        await asyncio.sleep(0.3)
        return await super().claim(*args, **kwargs)


async def test_deadline_before_anything_was_sent_leaves_nothing_in_doubt(
    gw: SandboxGateway,
) -> None:
    """The deadline passes while the journal is still claiming the number: DeadlineExceededError
    with ``maybe_sent`` false, nothing sent, the claim handed back, nothing for reconcile() to
    settle, and the same request goes through afterwards."""
    store = SlowClaims()
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        with pytest.raises(DeadlineExceededError) as caught:
            await client.payouts.create(payout("dl_early"), deadline=0.05)
        assert caught.value.maybe_sent is False
        assert gw.ledger.post_count() == 0
        record = await store.get("dl_early")
        assert record is None or (record.state is RecordState.CLAIMED and not record.maybe_sent)
        report = await client.payouts.reconcile()
        assert list(report) == []
        assert report.in_doubt == []
        result = await client.payouts.create(payout("dl_early"))
    assert result.out_trade_no == "dl_early"
    assert gw.ledger.post_count(api=PAY) == 1


async def test_list_timeout_is_per_attempt_and_deadline_per_page(gw: SandboxGateway) -> None:
    """A slow page is retried under ``timeout``; a page that never answers ends the listing at its
    ``deadline`` with DeadlineExceededError."""
    for index in range(3):
        gw.ledger.add_order(payout(f"dl_list_{index}"), created_at=DAY + timedelta(hours=index))
    end = DAY + timedelta(hours=12)
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        gw.faults.add(Fault(FaultKind.DELAY, api=BATCH, times=1, delay=30.0))
        seen = [
            order.out_trade_no
            async for order in client.payouts.list(begin=DAY, end=end, timeout=0.05, deadline=60)
        ]
        assert seen == ["dl_list_0", "dl_list_1", "dl_list_2"]
        assert gw.ledger.post_count(api=BATCH) == 2
        gw.faults.add(Fault(FaultKind.DELAY, api=BATCH, delay=30.0))
        with pytest.raises(DeadlineExceededError):
            async for _ in client.payouts.list(begin=DAY, end=end, deadline=0.2):
                pass


async def test_create_many_applies_the_deadline_to_each_payout(gw: SandboxGateway) -> None:
    """One slow payout ends in doubt at its deadline; the others in the batch are paid."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        gw.faults.add(Fault(FaultKind.DELAY, api=PAY, out_trade_no="dl_many_1", delay=30.0))
        requests = [payout(f"dl_many_{index}") for index in range(3)]
        results = await client.payouts.create_many(requests, deadline=0.5, timeout=60)
    assert isinstance(results[1], PayoutOutcomeUnknown)
    assert [getattr(r, "out_trade_no", None) for r in results] == [f"dl_many_{i}" for i in range(3)]
    assert sorted(gw.ledger.orders) == ["dl_many_0", "dl_many_1", "dl_many_2"]


async def test_validate_and_retrieve_take_a_deadline_they_meet(gw: SandboxGateway) -> None:
    """A deadline that is met changes nothing: the answer comes back as without one."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        check = await client.payouts.validate(payout("dl_met"), timeout=10, deadline=30)
        assert check.ok
        await client.payouts.create(payout("dl_met"), timeout=10, deadline=30)
        order = await client.payouts.retrieve("dl_met", deadline=30)
    assert order.out_trade_no == "dl_met"


async def test_a_cancelled_caller_is_cancelled_not_timed_out(gw: SandboxGateway) -> None:
    """A caller cancelled before its deadline gets CancelledError (never swallowed or turned into
    a timeout); the payout it sent stays in doubt."""
    store = MemoryStore()
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        gw.faults.add(Fault(FaultKind.DELAY, api=PAY, times=1, delay=30.0))
        task = asyncio.ensure_future(client.payouts.create(payout("dl_cancel"), deadline=60))
        for _ in range(400):
            if gw.ledger.post_count(api=PAY):
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        record = await store.get("dl_cancel")
    assert record is not None
    assert record.state is RecordState.IN_DOUBT

"""Regressions from an adversarial review: a payout that may exist is never reported as definitely
failed, and never left where a blind resend could follow."""

from __future__ import annotations

import attrs
import pytest

from payermax_async import MemoryStore, PayerMaxClient, PayoutOutcomeUnknown, PayoutStatus
from payermax_async.middleware.intent import fingerprint
from payermax_async.pipeline import Call, Handler, Reply
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores.base import OPEN_STATES, RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout


@pytest.mark.parametrize(
    "then",
    [
        Fault(FaultKind.RATE_LIMIT, api="paymentOrderPay", retry_after=0),
        Fault(FaultKind.REJECT, api="paymentOrderPay", code="BALANCE_INSUFFICIENT"),
        Fault(FaultKind.RESET_BEFORE_READ, api="paymentOrderPay"),
    ],
    ids=["rate-limited", "balance-insufficient", "reset"],
)
async def test_a_late_order_after_not_found_is_never_a_definite_failure(
    gw: SandboxGateway, then: Fault
) -> None:
    """Attempt 1 is received but commits late (the query says ORDER_NOT_EXIST); whatever later
    attempts meet, create() ends in PayoutOutcomeUnknown with an open record, and reconcile() then
    adopts the order that appeared."""
    gw.faults.add(Fault(FaultKind.COMMIT_LATE, api="paymentOrderPay", delay=0.2, times=1))
    gw.faults.add(then)
    store = MemoryStore()
    async with PayerMaxClient(
        gw.config(), store=store, retry=fast_retry_policy(max_attempts=3)
    ) as client:
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("late_1"))
        assert caught.value.out_trade_no == "late_1"
        record = await store.get("late_1")
        assert record is not None
        assert record.state in OPEN_STATES
        await gw.settle()  # the late commit lands
        gw.faults.clear()
        assert "late_1" in gw.ledger.orders
        settled = await client.payouts.reconcile()
        assert [order.out_trade_no for order in settled] == ["late_1"]
        record = await store.get("late_1")
        assert record is not None
        assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)
        # The next create() of that number answers from the journal: no further payout request.
        posts = gw.ledger.post_count(api="paymentOrderPay", out_trade_no="late_1")
        result = await client.payouts.create(payout("late_1"))
        assert result.trade_no == gw.ledger.orders["late_1"].trade_no
        assert gw.ledger.post_count(api="paymentOrderPay", out_trade_no="late_1") == posts


async def test_an_unparseable_acceptance_is_settled_by_query(gw: SandboxGateway) -> None:
    """A signed APPLY_SUCCESS whose data does not parse (an unknown status) is an unknown outcome:
    the client asks the gateway and returns the order, instead of raising a transport error."""

    async def garble_first_pay(call: Call, next_handler: Handler) -> Reply:
        reply = await next_handler(call)
        if call.api == "paymentOrderPay" and call.attempt == 1:
            return attrs.evolve(reply, data={**(reply.data or {}), "status": "PROCESSING"})
        return reply

    async with PayerMaxClient(
        gw.config(), retry=fast_retry_policy(), middlewares=[garble_first_pay]
    ) as client:
        result = await client.payouts.create(payout("garbled_1"))
    assert result.trade_no == gw.ledger.orders["garbled_1"].trade_no
    assert result.status in set(PayoutStatus)
    assert gw.ledger.post_count(api="paymentOrderPay", out_trade_no="garbled_1") == 1
    assert gw.ledger.post_count(api="paymentOrderQry", out_trade_no="garbled_1") == 1


async def test_reconcile_of_a_leased_record_never_makes_it_blindly_resendable(
    gw: SandboxGateway,
) -> None:
    """reconcile(include_leased=True) meeting ORDER_NOT_EXIST for a record another call holds puts
    it in doubt, not back to 'send': the next create() of that number queries before it sends."""
    store = MemoryStore()
    request = payout("held_1")
    await store.claim(
        "held_1",
        fingerprint(request),
        owner="other-host/1",
        lease_seconds=300,
        amount="10",
        currency="USD",
    )
    await store.mark_sent("held_1", owner="other-host/1")  # its request may be on the wire
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        assert await client.payouts.reconcile(include_leased=True) == []
        record = await store.get("held_1")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        queries = gw.ledger.post_count(api="paymentOrderQry", out_trade_no="held_1")
        result = await client.payouts.create(request)
    assert gw.ledger.post_count(api="paymentOrderQry", out_trade_no="held_1") == queries + 1
    assert gw.ledger.post_count(api="paymentOrderPay", out_trade_no="held_1") == 1
    assert result.trade_no == gw.ledger.orders["held_1"].trade_no

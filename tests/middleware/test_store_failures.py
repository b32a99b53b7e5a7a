"""A failing idempotency store before the send is a typed error, and nothing is sent."""

from __future__ import annotations

import pytest

from payermax_async import MemoryStore, PayerMaxClient, PayerMaxError
from payermax_async.errors import StoreError
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout


class BrokenStore(MemoryStore):
    """A memory journal whose chosen step fails as a database outage would."""

    def __init__(self, failing: str) -> None:
        super().__init__()
        self.failing = failing

    async def claim(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.failing == "claim":
            msg = "journal database is down"
            raise OSError(msg)
        return await super().claim(*args, **kwargs)  # type: ignore[arg-type]

    async def mark_sent(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self.failing == "mark_sent":
            msg = "journal database is down"
            raise ConnectionError(msg)
        return await super().mark_sent(*args, **kwargs)  # type: ignore[arg-type]


async def test_store_failure_before_sending_is_a_store_error_and_sends_nothing(
    gw: SandboxGateway,
) -> None:
    """The claim (which also marks the payout SENT) raising → StoreError (a PayerMaxError naming
    the number); zero POSTs."""
    store = BrokenStore("claim")
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        with pytest.raises(StoreError) as caught:
            await client.payouts.create(payout("store_down_1"))
        assert isinstance(caught.value, PayerMaxError)
        assert caught.value.out_trade_no == "store_down_1"
        assert "4111222233334444" not in str(caught.value)
        assert gw.ledger.post_count(api="paymentOrderPay") == 0
        # Once the store is back, the same create() pays, once.
        store.failing = ""
        result = await client.payouts.create(payout("store_down_1"))
    assert result.trade_no == gw.ledger.orders["store_down_1"].trade_no
    assert gw.ledger.post_count(api="paymentOrderPay") == 1


async def test_a_failing_sent_mark_before_a_resend_sends_nothing(gw: SandboxGateway) -> None:
    """A payout in doubt is resent only after its SENT mark is committed: the mark raising is a
    StoreError and no second POST leaves."""
    from payermax_async.sandbox import Fault, FaultKind

    store = BrokenStore("")
    async with PayerMaxClient(
        gw.config(), store=store, retry=fast_retry_policy(max_attempts=1)
    ) as client:
        gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api="paymentOrderPay", times=1))
        gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry", times=1))
        with pytest.raises(PayerMaxError):
            await client.payouts.create(payout("store_down_2"))
        store.failing = "mark_sent"
        with pytest.raises(StoreError):
            await client.payouts.create(payout("store_down_2"))  # queries, then fails to mark
        assert gw.ledger.post_count(api="paymentOrderPay") == 1
        store.failing = ""
        result = await client.payouts.create(payout("store_down_2"))
    assert result.trade_no == gw.ledger.orders["store_down_2"].trade_no
    assert gw.ledger.post_count(api="paymentOrderPay") == 2

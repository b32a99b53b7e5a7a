"""Each injected fault reaches a PayerMax client as the typed error the reliability layer expects."""

from __future__ import annotations

import pytest

from payermax_async import PayerMaxClient, ResponseSignatureError
from payermax_async.errors import (
    ConnectionLostError,
    GatewayError,
    RateLimitError,
    RequestTimeoutError,
)
from payermax_async.sandbox import Fault, FaultKind
from tests.sandbox.helpers import payout


@pytest.mark.parametrize(
    ("kind", "error", "committed"),
    [
        (FaultKind.RESET_BEFORE_READ, ConnectionLostError, False),
        (FaultKind.HTTP_503_BEFORE_COMMIT, GatewayError, False),
        (FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, GatewayError, False),
        (FaultKind.SYSTEM_ERROR_AFTER_COMMIT, GatewayError, True),
        (FaultKind.DROP_AFTER_COMMIT, ConnectionLostError, True),
        (FaultKind.DELAY, RequestTimeoutError, True),
        (FaultKind.BAD_SIGNATURE, ResponseSignatureError, True),
        (FaultKind.RATE_LIMIT, RateLimitError, False),
    ],
)
async def test_fault_kinds_through_the_client(gateway, kind, error, committed):
    """The client raises the right error; the ledger shows whether the payout was committed."""
    gateway.faults.add(Fault(kind, api="paymentOrderPay", delay=5.0, retry_after=2.5, times=1))
    async with PayerMaxClient(gateway.config(), timeout=0.3) as client:
        with pytest.raises(error) as caught:
            await client.payouts.create(payout("fx_1"))
        assert ("fx_1" in gateway.ledger.orders) is committed
        if isinstance(caught.value, RateLimitError):
            assert caught.value.retry_after == 2.5
        if isinstance(caught.value, ConnectionLostError):
            assert caught.value.maybe_sent is True
        # times=1: the fault is spent, the next call goes through normally.
        order_or_result = (
            await client.payouts.retrieve("fx_1")
            if committed
            else await client.payouts.create(payout("fx_1"))
        )
        assert order_or_result.out_trade_no == "fx_1"
    assert gateway.ledger.post_count(api="paymentOrderPay", out_trade_no="fx_1") == (
        1 if committed else 2
    )


async def test_queries_can_be_faulted_too(client, gateway):
    """A fault limited to paymentOrderQry leaves payouts alone."""
    gateway.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api="paymentOrderQry"))
    await client.payouts.create(payout("fx_q"))
    with pytest.raises(GatewayError):
        await client.payouts.retrieve("fx_q")


async def test_seeded_faults_hit_the_same_requests_every_run(merchant_keys, platform_keys):
    """With a rate below 1, the same seed faults the same sequence of requests."""
    from payermax_async.sandbox import SandboxGateway

    async def run(seed):
        async with SandboxGateway(
            merchant_keys=merchant_keys, platform_keys=platform_keys, seed=seed
        ) as gw:
            gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, rate=0.5))
            async with PayerMaxClient(gw.config()) as client:
                outcome = []
                for index in range(12):
                    try:
                        await client.payouts.create(payout(f"seed_{index}"))
                    except GatewayError:
                        outcome.append(False)
                    else:
                        outcome.append(True)
                return outcome

    first = await run(3)
    assert first == await run(3)
    assert True in first
    assert False in first

"""Each injected fault is a typed error on the wire, and the full client settles each one."""

from __future__ import annotations

import aiohttp
import pytest

from payermax_async import PayerMaxClient, ResponseSignatureError, RsaSigner
from payermax_async.errors import (
    ConnectionLostError,
    DuplicateOrderError,
    GatewayError,
    RateLimitError,
    RequestTimeoutError,
)
from payermax_async.middleware.signing import SigningMiddleware
from payermax_async.pipeline import Call, Reply, build_chain
from payermax_async.pipeline.transport import AiohttpTransport
from payermax_async.protocol.envelope import EnvelopeWriter
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.sandbox import payout


async def raw_pay(gateway: SandboxGateway, out_trade_no: str) -> Reply:
    """One signed paymentOrderPay exchange without the reliability layer (no retry, no query)."""
    config = gateway.config()
    transport = AiohttpTransport(
        config.gateway_url, config.verifier, timeout=aiohttp.ClientTimeout(total=0.3)
    )
    writer = EnvelopeWriter(app_id=config.app_id, merchant_no=config.merchant_no)
    send = build_chain([SigningMiddleware(RsaSigner(config.private_key), writer)], transport)
    try:
        return await send(Call.build("paymentOrderPay", payout(out_trade_no)))
    finally:
        await transport.aclose()


FAULTS = [
    (FaultKind.RESET_BEFORE_READ, ConnectionLostError, False),
    (FaultKind.HTTP_503_BEFORE_COMMIT, GatewayError, False),
    (FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, GatewayError, False),
    (FaultKind.SYSTEM_ERROR_AFTER_COMMIT, GatewayError, True),
    (FaultKind.DROP_AFTER_COMMIT, ConnectionLostError, True),
    (FaultKind.DELAY, RequestTimeoutError, True),
    (FaultKind.BAD_SIGNATURE, ResponseSignatureError, True),
    (FaultKind.RATE_LIMIT, RateLimitError, False),
]


@pytest.mark.parametrize(("kind", "error", "committed"), FAULTS)
async def test_each_fault_is_a_typed_error_on_the_wire(gateway, kind, error, committed):
    """One raw exchange raises the fault's typed error; the ledger shows whether it committed."""
    gateway.faults.add(Fault(kind, api="paymentOrderPay", delay=5.0, retry_after=2.5, times=1))
    with pytest.raises(error) as caught:
        await raw_pay(gateway, "fx_1")
    assert ("fx_1" in gateway.ledger.orders) is committed
    if isinstance(caught.value, RateLimitError):
        assert caught.value.retry_after == 2.5
    if isinstance(caught.value, ConnectionLostError):
        assert caught.value.maybe_sent is True
    # times=1: the fault is spent, the next exchange goes through normally (or meets ORDER_REPEAT).
    if committed:
        with pytest.raises(DuplicateOrderError):
            await raw_pay(gateway, "fx_1")
    else:
        assert (await raw_pay(gateway, "fx_1")).data["outTradeNo"] == "fx_1"


@pytest.mark.parametrize(("kind", "error", "committed"), FAULTS)
async def test_the_client_settles_each_fault_with_one_order(gateway, kind, error, committed):
    """Through the full client every fault ends in the payout, made once, with the gateway's tradeNo."""
    gateway.faults.add(Fault(kind, api="paymentOrderPay", delay=5.0, retry_after=2.5, times=1))
    async with PayerMaxClient(gateway.config(), timeout=0.3, retry=fast_retry_policy()) as client:
        result = await client.payouts.create(payout("fx_2"))
    assert result.trade_no == gateway.ledger.orders["fx_2"].trade_no
    # A committed payout is settled by a query, never sent again; one refused at the door is resent.
    assert gateway.ledger.post_count(api="paymentOrderPay", out_trade_no="fx_2") == (
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
            outcome = []
            for index in range(12):
                try:
                    await raw_pay(gw, f"seed_{index}")
                except GatewayError:
                    outcome.append(False)
                else:
                    outcome.append(True)
            return outcome

    first = await run(3)
    assert first == await run(3)
    assert True in first
    assert False in first

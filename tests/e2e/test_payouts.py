"""The client against the sandbox over real loopback HTTP: every operation and every outcome."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from payermax_async import (
    PayerMaxClient,
    PayoutNotification,
    PayoutOutcomeUnknown,
    PayoutStatus,
    ResponseSignatureError,
    generate_keypair,
)
from payermax_async.errors import InvalidRequestError, OrderNotFoundError, RequestTimeSkewError
from payermax_async.models.wire import structure
from payermax_async.sandbox import SandboxGateway
from payermax_async.signing import RsaVerifier
from payermax_async.testing import fast_retry_policy
from tests.support.sandbox import payout


async def test_validate_fails_on_a_bad_account_then_passes(client):
    """Field validation reports the bad DANA account, then passes once it is fixed."""
    request = {
        "country": "ID",
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "0812-ABC"},
        },
    }
    verdict = await client.payouts.validate(request)
    assert not verdict.ok
    assert [(f.field, f.error_msg) for f in verdict.failed_fields] == [
        ("payeeInfo.accountInfo.accountNo", "Please enter numbers.")
    ]
    request["payeeInfo"]["accountInfo"]["accountNo"] = "081234567890"
    verdict = await client.payouts.validate(request)
    assert verdict.ok
    assert verdict.passed_fields == ("payeeInfo.accountInfo.accountNo",)


@pytest.mark.parametrize(
    ("amount", "remark", "final"),
    [
        ("15000", None, PayoutStatus.SUCCESS),
        ("11000", None, PayoutStatus.FAILED),
        ("10000", None, PayoutStatus.PENDING),
        ("20000", "BOUNCEBACK", PayoutStatus.BOUNCEBACK),
    ],
)
async def test_each_outcome_is_created_notified_and_retrievable(
    gateway, client, receiver, amount, remark, final
):
    """create → PENDING; the signed notifications reach the receiver; retrieve shows the outcome."""
    extra = {"remark": remark} if remark else {}
    request = payout(f"e2e_{final.value.lower()}", amount, notifyUrl=receiver.url, **extra)
    result = await client.payouts.create(request)
    assert result.status is PayoutStatus.PENDING
    assert result.trade_no
    await gateway.settle()
    order = await client.payouts.retrieve(result.out_trade_no)
    assert order.status is final
    assert order.trade_no == result.trade_no
    assert order.trade is not None
    assert order.trade.amount == Decimal(amount)
    assert order.source is not None
    assert order.source.amount == order.trade.amount + order.source.fee
    verifier = RsaVerifier(gateway.platform_public_key)
    notified = []
    for item in receiver.received:
        verifier.verify(item.body, item.sign or "")
        notification = structure(json.loads(item.body), PayoutNotification, what="notification")
        assert notification.merchant_no == gateway.merchant_no
        notified.append(notification.data.status)
    expected = {
        PayoutStatus.SUCCESS: [PayoutStatus.SUCCESS],
        PayoutStatus.FAILED: [PayoutStatus.FAILED],
        PayoutStatus.PENDING: [],
        PayoutStatus.BOUNCEBACK: [PayoutStatus.SUCCESS, PayoutStatus.BOUNCEBACK],
    }[final]
    assert notified == expected
    if final is PayoutStatus.FAILED:
        assert (order.response_code, order.response_msg) != ("", "")
        assert order.response_code == "INVALID_ACCOUNT"
    if final is PayoutStatus.BOUNCEBACK:
        assert order.bounce_back_time is not None
    if final is PayoutStatus.PENDING:
        assert order.sub_status == "TRANSMIT"


async def test_wait_until_final_sees_the_outcome(client):
    """wait_until_final polls the sandbox until the payout is final."""
    await client.payouts.create(payout("e2e_wait"))
    order = await client.payouts.wait_until_final("e2e_wait", timeout=5, poll_interval=0.02)
    assert order.status is PayoutStatus.SUCCESS


async def test_wrong_platform_key_makes_responses_untrusted(gateway):
    """A client holding the wrong platform public key trusts no answer: a read raises
    ResponseSignatureError, and a payout that did happen is reported as an unknown outcome."""
    config = gateway.config(platform_public_key=generate_keypair().public_key)
    async with PayerMaxClient(config, retry=fast_retry_policy(max_attempts=2)) as client:
        with pytest.raises(PayoutOutcomeUnknown) as caught:
            await client.payouts.create(payout("e2e_badkey"))
        assert caught.value.out_trade_no == "e2e_badkey"
        with pytest.raises(ResponseSignatureError):
            await client.payouts.retrieve("e2e_badkey")
    assert "e2e_badkey" in gateway.ledger.orders  # the payout happened: its outcome is unknown
    assert gateway.ledger.post_count(api="paymentOrderPay", out_trade_no="e2e_badkey") == 1


async def test_stale_request_time_is_a_time_skew_error(gateway, merchant_keys, platform_keys):
    """A gateway clock 5 minutes ahead turns every request into REQ_TIME_OVER_TIME."""
    ahead = lambda: datetime.now(timezone.utc) + timedelta(minutes=5)  # noqa: E731
    async with (
        SandboxGateway(merchant_keys=merchant_keys, platform_keys=platform_keys, clock=ahead) as gw,
        PayerMaxClient(gw.config()) as client,
    ):
        with pytest.raises(RequestTimeSkewError) as caught:
            await client.payouts.create(payout("e2e_skew"))
        assert caught.value.code == "REQ_TIME_OVER_TIME"
        assert gw.ledger.orders == {}


async def test_order_repeat_is_answered_with_the_existing_order(client, gateway):
    """A second client (own journal) resubmitting one outTradeNo meets ORDER_REPEAT and gets the
    existing order back (settled by a query), never a second payout."""
    first = await client.payouts.create(payout("e2e_twice"))
    async with PayerMaxClient(gateway.config(), retry=fast_retry_policy()) as other:
        again = await other.payouts.create(payout("e2e_twice"))
    assert again.trade_no == first.trade_no
    assert gateway.ledger.post_count(api="paymentOrderPay", out_trade_no="e2e_twice") == 2
    assert gateway.ledger.post_count(api="paymentOrderQry", out_trade_no="e2e_twice") == 1


async def test_unknown_order_is_not_found(client):
    """Retrieving an outTradeNo the gateway never saw raises OrderNotFoundError."""
    with pytest.raises(OrderNotFoundError):
        await client.payouts.retrieve("e2e_never_created")


async def test_gateway_side_rejection_is_an_invalid_request(client, gateway):
    """A payout the client lets through but the gateway refuses is InvalidRequestError, no order."""
    request = payout("e2e_org")
    # The client has no format for targetOrg; the gateway has.
    request["payeeInfo"]["targetOrg"] = "DANA-ID"
    with pytest.raises(InvalidRequestError) as caught:
        await client.payouts.create(request)
    assert caught.value.msg == "The targetOrg is incorrect."
    assert gateway.ledger.orders == {}


async def test_list_pages_across_days_oldest_first(gateway, client):
    """list() splits a 3-day window into day queries and walks every page, each order once."""
    start = datetime(2026, 2, 1, tzinfo=timezone.utc)
    expected = []
    for index in range(23):
        moment = start + timedelta(hours=3 * index)  # 8 a day, across 3 days
        gateway.ledger.add_order(payout(f"page_{index:02d}"), created_at=moment)
        expected.append(f"page_{index:02d}")
    gateway.ledger.add_order(
        payout("page_boundary"), created_at=start + timedelta(days=1), status=PayoutStatus.FAILED
    )
    expected.insert(9, "page_boundary")  # after page_08, committed earlier at the same instant
    seen = [
        order.out_trade_no
        async for order in client.payouts.list(
            begin=start, end=start + timedelta(days=3), page_size=3
        )
    ]
    assert seen == expected
    assert gateway.ledger.post_count(api="paymentOrderBatchQry") >= 9  # several pages per day
    failed = [
        order.out_trade_no
        async for order in client.payouts.list(
            begin=start, end=start + timedelta(days=3), status=PayoutStatus.FAILED
        )
    ]
    assert failed == ["page_boundary"]

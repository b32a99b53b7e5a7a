"""Signed PAYOUT notifications: delivered to loopback receivers, retried until acknowledged."""

from __future__ import annotations

import asyncio

import pytest

from payermax_async import PayoutStatus
from payermax_async.sandbox import SandboxGateway
from payermax_async.signing import RsaVerifier
from tests.support.sandbox import Receiver, envelope, payout, raw_post


async def create(gateway, merchant_signer, data):
    body, headers = envelope(gateway, data, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    assert answer.json()["code"] == "APPLY_SUCCESS"


async def test_success_notification_is_signed_and_has_the_protocol_body(
    gateway, merchant_signer, receiver
):
    """The receiver gets one PAYOUT notification signed over its raw body, with the order data."""
    await create(gateway, merchant_signer, payout("n_ok", notifyUrl=receiver.url))
    await gateway.settle()
    [item] = receiver.received
    RsaVerifier(gateway.platform_public_key).verify(item.body, item.sign or "")
    doc = receiver.documents()[0]
    assert doc["notifyType"] == "PAYOUT"
    assert (doc["code"], doc["appId"], doc["merchantNo"]) == (
        "APPLY_SUCCESS",
        gateway.app_id,
        gateway.merchant_no,
    )
    assert doc["data"]["status"] == "SUCCESS"
    assert doc["data"]["source"]["amount"] == "15150"  # trade amount + 1 % fee
    assert [(d.status, d.attempt, d.acked) for d in gateway.notifications] == [
        (PayoutStatus.SUCCESS, 1, True)
    ]


async def test_bounceback_notifies_success_then_bounceback(gateway, merchant_signer, receiver):
    """remark BOUNCEBACK: SUCCESS is announced first, then BOUNCEBACK with bounceBackTime."""
    data = payout("n_bounce", remark="BOUNCEBACK", notifyUrl=receiver.url)
    await create(gateway, merchant_signer, data)
    await gateway.settle()
    statuses = [doc["data"]["status"] for doc in receiver.documents()]
    assert statuses == ["SUCCESS", "BOUNCEBACK"]
    assert receiver.documents()[1]["data"]["bounceBackTime"]
    assert gateway.ledger.orders["n_bounce"].history == [
        PayoutStatus.PENDING,
        PayoutStatus.SUCCESS,
        PayoutStatus.BOUNCEBACK,
    ]


async def test_failed_notification_carries_the_reason(gateway, merchant_signer, receiver):
    """amount 11000 fails, with responseCode/responseMsg in the notification."""
    await create(gateway, merchant_signer, payout("n_fail", "11000", notifyUrl=receiver.url))
    await gateway.settle()
    data = receiver.documents()[0]["data"]
    assert data["status"] == "FAILED"
    assert data["responseCode"] == "INVALID_ACCOUNT"


async def test_pending_payouts_are_never_notified(gateway, merchant_signer, receiver):
    """amount 10000 stays PENDING: nothing is scheduled, nothing delivered."""
    await create(gateway, merchant_signer, payout("n_pend", "10000", notifyUrl=receiver.url))
    await gateway.settle()
    assert receiver.received == []
    assert gateway.ledger.orders["n_pend"].status is PayoutStatus.PENDING


@pytest.fixture
async def quick_gateway(merchant_keys, platform_keys):
    """A sandbox whose whole 12-hour retry schedule takes under half a second."""
    async with SandboxGateway(
        merchant_keys=merchant_keys, platform_keys=platform_keys, time_scale=1e-5
    ) as gw:
        yield gw


async def test_retries_until_the_reply_is_a_success_code(quick_gateway, merchant_signer):
    """HTTP 500 and a 200 without code SUCCESS are not acknowledgements: PayerMax tries again."""
    replies = [(500, b"oops"), (200, b'{"code":"FAIL"}'), (200, b"SUCCESS")]
    async with Receiver(replies) as receiver:
        await create(quick_gateway, merchant_signer, payout("n_retry", notifyUrl=receiver.url))
        await quick_gateway.settle()
    assert [(d.attempt, d.http_status, d.acked) for d in quick_gateway.notifications] == [
        (1, 500, False),
        (2, 200, False),
        (3, 200, False),
        (4, 200, True),
    ]
    assert len({item.body for item in receiver.received}) == 1  # the same bytes every time


async def test_gives_up_after_six_attempts(quick_gateway, merchant_signer):
    """A receiver that never acknowledges gets exactly the six scheduled attempts."""
    async with Receiver([(503, b"")] * 10) as receiver:
        await create(quick_gateway, merchant_signer, payout("n_never", notifyUrl=receiver.url))
        await quick_gateway.settle()
    assert [d.attempt for d in quick_gateway.notifications] == [1, 2, 3, 4, 5, 6]
    assert not any(d.acked for d in quick_gateway.notifications)
    assert len(receiver.received) == 6


async def test_unreachable_receiver_is_logged_as_an_error(merchant_keys, platform_keys):
    """A refused connection is a failed attempt with an error, not a crash."""
    async with Receiver() as receiver:
        url = receiver.url
    async with SandboxGateway(
        merchant_keys=merchant_keys, platform_keys=platform_keys, time_scale=0.0
    ) as gw:
        from payermax_async.signing import RsaSigner

        await create(gw, RsaSigner(merchant_keys.private_key), payout("n_gone", notifyUrl=url))
        await gw.settle()
        deliveries = gw.notifications
    assert len(deliveries) == 6
    assert all(d.http_status is None and d.error for d in deliveries)


async def test_non_loopback_notify_url_is_never_contacted(gateway, merchant_signer):
    """The sandbox refuses to post outside loopback; the order itself is accepted."""
    data = payout("n_far", notifyUrl="http://example.com/callback/")
    await create(gateway, merchant_signer, data)
    await gateway.settle()
    [delivery] = gateway.notifications
    assert delivery.http_status is None
    assert "loopback" in (delivery.error or "")
    assert gateway.ledger.orders["n_far"].status is PayoutStatus.SUCCESS


async def test_deliver_again_sends_an_identical_duplicate(gateway, merchant_signer, receiver):
    """deliver_again re-sends the latest notification byte for byte."""
    await create(gateway, merchant_signer, payout("n_dup", notifyUrl=receiver.url))
    await gateway.settle()
    delivery = await gateway.deliver_again("n_dup")
    assert delivery.acked
    assert delivery.attempt == 2
    first, second = receiver.received
    assert (first.body, first.sign) == (second.body, second.sign)
    with pytest.raises(KeyError):
        await gateway.deliver_again("n_unknown")


async def test_dashboard_notify_url_is_the_default(merchant_keys, platform_keys, merchant_signer):
    """Orders without notifyUrl are notified at the gateway's configured default URL."""
    async with Receiver() as receiver:
        async with SandboxGateway(
            merchant_keys=merchant_keys, platform_keys=platform_keys, notify_url=receiver.url
        ) as gw:
            await create(gw, merchant_signer, payout("n_default"))
            await gw.settle()
        assert len(receiver.received) == 1


async def test_settle_times_out_when_deliveries_outlast_it(
    merchant_keys, platform_keys, merchant_signer
):
    """settle() is bounded: a long retry schedule makes it raise TimeoutError, exit still cleans up."""
    async with Receiver([(503, b"")] * 10) as receiver:
        async with SandboxGateway(
            merchant_keys=merchant_keys, platform_keys=platform_keys, time_scale=1.0
        ) as gw:
            await create(gw, merchant_signer, payout("n_slow", notifyUrl=receiver.url))
            with pytest.raises(TimeoutError):
                await gw.settle(timeout=0.3)
        assert not [t for t in asyncio.all_tasks() if "payermax-sandbox" in t.get_name()]

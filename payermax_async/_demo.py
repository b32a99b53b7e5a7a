"""``payermax demo``: the whole payout flow against the embedded sandbox, narrated.

It starts a :class:`~payermax_async.sandbox.SandboxGateway` (with freshly generated keys) and a local
webhook receiver, then walks PayerMax's three flows: payee validation, payouts with their signed
result notifications (SUCCESS, FAILED, PENDING, BOUNCEBACK), queries, and a resubmission answered
``ORDER_REPEAT`` that is handled as "already submitted". Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TextIO

from aiohttp import web

from ._client import PayerMaxClient
from ._envelope import utc_now
from .errors import DuplicateOrderError, PayerMaxError, SignatureError, ValidationError
from .models._converter import mask, structure
from .models.notifications import PayoutNotification
from .models.payouts import PayoutOrder, PayoutStatus
from .sandbox import SandboxGateway
from .signing import RsaVerifier

__all__ = ["DemoError", "notification_receiver", "run_demo"]

#: PayerMax's required acknowledgement of a notification.
_ACK = b'{"code":"SUCCESS","msg":"Success"}'
_MAX_NOTIFICATION_BYTES = 64 * 1024
#: How long the demo waits for any one notification before giving up.
_NOTIFICATION_WAIT = 10.0

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def notification_receiver(
    verifier: RsaVerifier, on_notification: Callable[[PayoutNotification], Awaitable[None]]
) -> Handler:
    """An aiohttp handler for PayerMax notifications: verify the raw body, parse, hand over, ack.

    It acknowledges only after ``on_notification`` returned, so a failure there makes PayerMax retry.
    """

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if (request.content_length or 0) > _MAX_NOTIFICATION_BYTES:
            return web.Response(status=413, text="too large")
        body = await request.read()
        try:
            verifier.verify(body, request.headers.get("sign", ""))
            notification = structure(json.loads(body), PayoutNotification, what="notification")
        except SignatureError:
            return web.Response(status=401, text="bad signature")
        except (ValueError, ValidationError):
            return web.Response(status=400, text="malformed notification")
        await on_notification(notification)
        return web.Response(body=_ACK, content_type="application/json")

    return handle


class DemoError(PayerMaxError):
    """The demo could not complete (e.g. an expected notification never arrived)."""


class _Inbox:
    """Notifications received so far, awaitable by ``(outTradeNo, status)``."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, PayoutStatus], asyncio.Event] = {}
        self.received: dict[tuple[str, PayoutStatus], PayoutNotification] = {}

    def _event(self, key: tuple[str, PayoutStatus]) -> asyncio.Event:
        return self._events.setdefault(key, asyncio.Event())

    async def put(self, notification: PayoutNotification) -> None:
        key = (notification.data.out_trade_no, notification.data.status)
        self.received.setdefault(key, notification)
        self._event(key).set()

    async def expect(self, out_trade_no: str, status: PayoutStatus) -> PayoutNotification:
        key = (out_trade_no, status)
        try:
            await asyncio.wait_for(self._event(key).wait(), _NOTIFICATION_WAIT)
        except asyncio.TimeoutError:
            msg = (
                f"no {status.value} notification for {out_trade_no} within {_NOTIFICATION_WAIT:g} s"
            )
            raise DemoError(msg) from None
        return self.received[key]


def _payout(number: str, amount: str, notify_url: str, **extra: str) -> dict[str, object]:
    return {
        "outTradeNo": number,
        "country": "ID",
        "trade": {"amount": amount, "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "081234567890"},
            "name": {"fullName": "Siti Rahayu"},
        },
        "notifyUrl": notify_url,
        **extra,
    }


def _describe(order: PayoutOrder) -> str:
    text = order.status.value
    if order.sub_status:
        text += f" ({order.sub_status})"
    if order.response_code:
        text += f", {order.response_code}: {order.response_msg}"
    if order.bounce_back_time is not None:
        text += f", bounced back at {order.bounce_back_time:%H:%M:%S} UTC"
    return text


async def run_demo(out: TextIO) -> int:
    """Run the demo, writing its narration to ``out``; return the exit status (0 on success)."""

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    inbox = _Inbox()
    say("payermax demo: the payout flow, offline, against the embedded sandbox gateway")
    async with SandboxGateway(processing_delay=0.05, time_scale=0.001) as gateway:
        receiver = web.ServerRunner(
            web.Server(
                notification_receiver(RsaVerifier(gateway.platform_public_key), inbox.put),
                access_log=None,
            )
        )
        await receiver.setup()
        try:
            site = web.TCPSite(receiver, "127.0.0.1", 0)
            await site.start()
            notify_url = f"http://127.0.0.1:{receiver.addresses[0][1]}/payermax/notifications"
            say(f"  sandbox gateway  {gateway.base_url}")
            say(f"  webhook receiver {notify_url}")
            say("  keys             fresh RSA-2048 merchant and platform pairs for this run")
            async with PayerMaxClient(gateway.config()) as client:
                await _walk(client, gateway, inbox, notify_url, say)
        finally:
            await receiver.cleanup()
    say()
    say("Done: every request was signed, every answer and notification verified.")
    return 0


async def _walk(
    client: PayerMaxClient,
    gateway: SandboxGateway,
    inbox: _Inbox,
    notify_url: str,
    say: Callable[[str], None],
) -> None:
    say("")
    say("1. Validate the payee before paying (paymentFieldValidation)")
    payee: dict[str, object] = {
        "paymentMethodType": "WALLET",
        "targetOrg": "DANA",
        "accountInfo": {"accountNo": "0812-34AB-CD"},
    }
    for account in ("0812-34AB-CD", "081234567890"):
        payee["accountInfo"] = {"accountNo": account}
        verdict = await client.payouts.validate({"country": "ID", "payeeInfo": payee})
        problems = "; ".join(f"{item.field}: {item.error_msg}" for item in verdict.failed_fields)
        shown = mask(account).strip("'")
        say(f"   DANA account {shown} -> {verdict.validation_code}  {problems}".rstrip())

    say("")
    say("2. Create payouts (paymentOrderPay); the gateway accepts each as PENDING")
    cases = [
        ("demo_success_01", "15000", {}, "amount 15000 -> SUCCESS"),
        ("demo_failed_01", "11000", {}, "amount 11000 -> FAILED"),
        ("demo_pending_01", "10000", {}, "amount 10000 -> stays PENDING"),
        ("demo_bounce_01", "25000", {"remark": "BOUNCEBACK"}, "remark BOUNCEBACK"),
    ]
    for number, amount, extra, why in cases:
        result = await client.payouts.create(_payout(number, amount, notify_url, **extra))
        say(f"   {number:<16} IDR {amount:>6}  {result.status.value}  tradeNo {result.trade_no}")
        say(f"   {'':<16} ({why})")

    say("")
    say("3. Signed result notifications arrive at the webhook (verified over the raw body)")
    expected = [
        ("demo_success_01", PayoutStatus.SUCCESS),
        ("demo_failed_01", PayoutStatus.FAILED),
        ("demo_bounce_01", PayoutStatus.SUCCESS),
        ("demo_bounce_01", PayoutStatus.BOUNCEBACK),
    ]
    for number, status in expected:
        notification = await inbox.expect(number, status)
        say(f"   {number:<16} {_describe(notification.data)}")
    say("   demo_pending_01  (no notification: it is still PENDING)")

    say("")
    say("4. Retrieve a payout (paymentOrderQry)")
    pending = await client.payouts.retrieve("demo_pending_01")
    say(f"   demo_pending_01  {_describe(pending)}")

    say("")
    say("5. List today's payouts (paymentOrderBatchQry, page by page)")
    now = utc_now()
    async for order in client.payouts.list(
        begin=now - timedelta(hours=1), end=now + timedelta(minutes=1)
    ):
        amount = str(order.trade.amount) if order.trade else "?"
        fee = str(order.source.fee) if order.source else "?"
        say(f"   {order.out_trade_no:<16} {order.status.value:<10} IDR {amount} (fee {fee})")

    say("")
    say("6. Submit demo_success_01 again: the gateway answers ORDER_REPEAT")
    try:
        await client.payouts.create(_payout("demo_success_01", "15000", notify_url))
    except DuplicateOrderError:
        order = await client.payouts.retrieve("demo_success_01")
        say(f"   already submitted, not paid twice; its state: {_describe(order)}")
    await gateway.settle()

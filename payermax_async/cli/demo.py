"""``payermax demo``: the whole payout flow against the embedded sandbox, narrated.

It starts a :class:`~payermax_async.sandbox.SandboxGateway` (with freshly generated keys) and a local
webhook receiver, then walks PayerMax's three flows: payee validation, payouts with their signed
result notifications (SUCCESS, FAILED, PENDING, BOUNCEBACK), queries, and a resubmission answered
``ORDER_REPEAT`` that is handled as "already submitted". Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

from aiohttp import web

from .._client import PayerMaxClient
from .._redact import mask
from ..errors import PayerMaxError
from ..models.notifications import PayoutNotification
from ..models.payouts import PayoutOrder, PayoutStatus
from ..protocol.envelope import utc_now
from ..sandbox import SandboxGateway
from ..stores import MemoryStore
from ..webhooks import WebhookVerifier, aiohttp_handler
from ._common import Commands

__all__ = ["DemoError", "run_demo"]

#: How long the demo waits for any one notification before giving up.
_NOTIFICATION_WAIT = 10.0


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
        # One journal for the client and the webhook: notifications advance the client's records
        # (forward only) and are checked against the amount and currency that were sent.
        store = MemoryStore()
        verifier = WebhookVerifier.from_config(gateway.config())
        app = web.Application()
        app.router.add_post(
            "/payermax/notifications", aiohttp_handler(verifier, inbox.put, dedupe=store)
        )
        receiver = web.AppRunner(app, access_log=None)
        await receiver.setup()
        try:
            site = web.TCPSite(receiver, "127.0.0.1", 0)
            await site.start()
            notify_url = f"http://127.0.0.1:{receiver.addresses[0][1]}/payermax/notifications"
            say(f"  sandbox gateway  {gateway.base_url}")
            say(f"  webhook receiver {notify_url}")
            say("  keys             fresh RSA-2048 merchant and platform pairs for this run")
            async with PayerMaxClient(gateway.config(), store=store) as client:
                await _walk(client, gateway, inbox, notify_url, say)
            await _resubmit(gateway, notify_url, say)
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
    await _validate(client, say)
    await _create(client, notify_url, say)
    await _notifications(inbox, say)
    say("")
    say("4. Retrieve a payout (paymentOrderQry)")
    pending = await client.payouts.retrieve("demo_pending_01")
    say(f"   demo_pending_01  {_describe(pending)}")
    await _listing(client, say)
    say("")
    say("6. Submit demo_success_01 again from the same client")
    posts = gateway.ledger.post_count(api="paymentOrderPay")
    again = await client.payouts.create(_payout("demo_success_01", "15000", notify_url))
    sent = gateway.ledger.post_count(api="paymentOrderPay") - posts
    say(f"   answered from the journal: {again.status.value}, requests sent: {sent}")


async def _validate(client: PayerMaxClient, say: Callable[[str], None]) -> None:
    say("")
    say("1. Validate the payee before paying (paymentFieldValidation)")
    payee: dict[str, object] = {"paymentMethodType": "WALLET", "targetOrg": "DANA"}
    for account in ("0812-34AB-CD", "081234567890"):
        payee["accountInfo"] = {"accountNo": account}
        verdict = await client.payouts.validate({"country": "ID", "payeeInfo": payee})
        problems = "; ".join(f"{item.field}: {item.error_msg}" for item in verdict.failed_fields)
        shown = mask(account).strip("'")
        say(f"   DANA account {shown} -> {verdict.validation_code}  {problems}".rstrip())


async def _create(client: PayerMaxClient, notify_url: str, say: Callable[[str], None]) -> None:
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


async def _notifications(inbox: _Inbox, say: Callable[[str], None]) -> None:
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


async def _listing(client: PayerMaxClient, say: Callable[[str], None]) -> None:
    say("")
    say("5. List today's payouts (paymentOrderBatchQry, page by page)")
    now = utc_now()
    async for order in client.payouts.list(
        begin=now - timedelta(hours=1), end=now + timedelta(minutes=1)
    ):
        amount = str(order.trade.amount) if order.trade else "?"
        fee = str(order.source.fee) if order.source else "?"
        say(f"   {order.out_trade_no:<16} {order.status.value:<10} IDR {amount} (fee {fee})")


async def _resubmit(gateway: SandboxGateway, notify_url: str, say: Callable[[str], None]) -> None:
    """A second worker, with a journal of its own, submits a payout the gateway already has."""
    say("")
    say("7. Another worker (its own, empty journal) submits demo_success_01 again")
    posts = gateway.ledger.post_count(api="paymentOrderQry", out_trade_no="demo_success_01")
    async with PayerMaxClient(gateway.config()) as worker:
        result = await worker.payouts.create(_payout("demo_success_01", "15000", notify_url))
    queries = gateway.ledger.post_count(api="paymentOrderQry", out_trade_no="demo_success_01")
    if queries == posts:
        msg = "the resubmission was not settled by a query"
        raise DemoError(msg)
    pays = gateway.ledger.post_count(api="paymentOrderPay", out_trade_no="demo_success_01")
    orders = sum(1 for number in gateway.ledger.orders if number == "demo_success_01")
    say("   the gateway answers ORDER_REPEAT; the SDK queries the order instead of paying again")
    say(f"   already submitted, not paid twice; its state: {result.status.value}")
    say(
        f"   at the gateway: {pays} pay requests for demo_success_01 (step 2's and this one), "
        f"{orders} order: the second request was answered ORDER_REPEAT and paid nothing"
    )
    await gateway.settle()


def register(commands: Commands) -> None:
    """Add ``payermax demo``."""
    demo = commands.add_parser("demo", help="walk the payout flow against the embedded sandbox")
    demo.set_defaults(handler=_demo)


def _demo(_args: argparse.Namespace) -> int:
    return asyncio.run(run_demo(sys.stdout))

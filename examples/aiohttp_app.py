"""Withdrawals in an aiohttp web app: the client in ``cleanup_ctx``, the webhook, a status endpoint.

Run it (an embedded sandbox gateway starts when ``PAYERMAX_APP_ID`` is not set)::

    python examples/aiohttp_app.py
    curl -s -XPOST localhost:8001/withdrawals -H 'content-type: application/json' \\
        -d '{"withdrawal_id": "WD_1", "amount": "50000", "target_org": "DANA", "account_no": "081234567890"}'
    curl -s localhost:8001/withdrawals/WD_1

The same design as ``fastapi_app.py``: one :class:`PayerMaxClient` per process, opened and closed by
a ``cleanup_ctx`` generator; ``POST /withdrawals`` validates the payee, pays with the withdrawal id as
``outTradeNo`` and answers 202 at once; ``webhooks.aiohttp_handler`` receives the signed result and
shares the client's journal; a reconciler settles payouts in doubt or whose notification is late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from payermax_async import (
    IdempotencyStore,
    MemoryStore,
    OrderNotFoundError,
    PayerMaxClient,
    PayerMaxConfig,
    PayerMaxError,
    PayoutNotification,
    PayoutOrder,
    RetryPolicy,
    WebhookVerifier,
    webhooks,
)
from payermax_async.sandbox import SandboxGateway

try:  # imported as examples.aiohttp_app (the tests, ``python -m examples.aiohttp_app``)
    from examples.http_errors import (
        IN_DOUBT,
        NOT_FOUND,
        Answer,
        bad_request,
        error_answer,
        payee_invalid,
    )
except ModuleNotFoundError:  # ``python examples/aiohttp_app.py``: this folder is on sys.path
    from http_errors import (  # type: ignore[no-redef,import-not-found]
        IN_DOUBT,
        NOT_FOUND,
        Answer,
        bad_request,
        error_answer,
        payee_invalid,
    )

WEBHOOK_PATH = "/payermax/notifications"
_RANK = {IN_DOUBT: -1, "PENDING": 0, "SUCCESS": 1, "FAILED": 1, "BOUNCEBACK": 2}
_MAX_BODY = 16 * 1024


@dataclass
class Withdrawal:
    """One withdrawal as the merchant's database would hold it."""

    withdrawal_id: str
    request: dict[str, object]
    status: str = IN_DOUBT
    trade_no: str | None = None
    response_code: str | None = None
    updated: float = field(default_factory=time.monotonic)


class WithdrawalBook:
    """The merchant's withdrawals (a table in a real app). Statuses only move forward."""

    def __init__(self) -> None:
        self.rows: dict[str, Withdrawal] = {}

    def open(self, withdrawal_id: str, request: dict[str, object]) -> None:
        """Remember a withdrawal before paying it (kept as is when it exists)."""
        self.rows.setdefault(withdrawal_id, Withdrawal(withdrawal_id, request))

    def update(
        self,
        withdrawal_id: str,
        status: str,
        *,
        trade_no: str | None = None,
        code: str | None = None,
    ) -> None:
        """Apply a status learned from the gateway, forward only."""
        row = self.rows.setdefault(withdrawal_id, Withdrawal(withdrawal_id, {}))
        if _RANK.get(status, -1) >= _RANK.get(row.status, -1):
            row.status = status
            row.trade_no = trade_no or row.trade_no
            row.response_code = code or row.response_code
            row.updated = time.monotonic()

    def apply(self, order: PayoutOrder) -> None:
        """Apply a queried or notified payout."""
        self.update(
            order.out_trade_no,
            order.status.value,
            trade_no=order.trade_no,
            code=order.response_code,
        )


@dataclass(frozen=True)
class Settings:
    """What the app needs. ``store`` is shared by the client and the webhook (one journal)."""

    config: PayerMaxConfig
    notify_url: str | None = None
    store: IdempotencyStore | None = None
    retry: RetryPolicy | None = None
    #: Seconds any one PayerMax call may take in all (attempts, pauses, settling queries); a payout
    #: cut after it may have been sent answers 202 in doubt. ``None``: no bound.
    call_deadline: float | None = 20.0
    reconcile_every: float | None = 60.0
    stale_after: float = 300.0


CLIENT = web.AppKey("payermax_client", PayerMaxClient)
BOOK = web.AppKey("withdrawals", WithdrawalBook)
SETTINGS = web.AppKey("settings", Settings)


class BadRequest(ValueError):
    """The request body is not a withdrawal."""


def payout_request(body: Mapping[str, object], notify_url: str | None) -> dict[str, object]:
    """The PayerMax ``data`` of a withdrawal: its id **is** the ``outTradeNo``.

    Raises:
        BadRequest: a required text field is missing (the SDK checks formats and amounts).
    """

    def text(name: str, default: str | None = None) -> str:
        value = body.get(name, default)
        if not isinstance(value, str) or not value:
            msg = f"{name} must be a non-empty string"
            raise BadRequest(msg)
        return value

    payee: dict[str, object] = {
        "paymentMethodType": text("method", "WALLET"),
        "targetOrg": text("target_org"),
        "accountInfo": {"accountNo": text("account_no")},
    }
    if isinstance(body.get("full_name"), str) and body["full_name"]:
        payee["name"] = {"fullName": body["full_name"]}
    request: dict[str, object] = {
        "outTradeNo": text("withdrawal_id"),
        "country": text("country", "ID"),
        # A string, never a float: "50000.10" must stay exactly that.
        "trade": {"amount": text("amount"), "currency": text("currency", "IDR")},
        "payeeInfo": payee,
    }
    if notify_url:
        request["notifyUrl"] = notify_url
    return request


def respond(answer: Answer) -> web.Response:
    """An :class:`Answer` of the shared mapping as an aiohttp response."""
    return web.json_response(answer.body, status=answer.status)


def error_response(exc: PayerMaxError, withdrawal_id: str, book: WithdrawalBook) -> web.Response:
    """SDK errors as HTTP answers (``http_errors.py``, shared with the FastAPI example)."""
    answer = error_answer(exc, withdrawal_id)
    if answer.in_doubt:
        book.update(withdrawal_id, IN_DOUBT)  # settled by the reconciler, under the same number
    return respond(answer)


async def create_withdrawal(request: web.Request) -> web.Response:
    """``POST /withdrawals``: validate the payee, pay, answer 202 with the payout's state."""
    client, book, settings = request.app[CLIENT], request.app[BOOK], request.app[SETTINGS]
    try:
        body = json.loads(await request.content.read(_MAX_BODY))
        if not isinstance(body, dict):
            msg = "the body must be a JSON object"
            raise BadRequest(msg)
        payout = payout_request(body, settings.notify_url)
    except (ValueError, BadRequest) as exc:
        return respond(bad_request(str(exc)))
    withdrawal_id = str(payout["outTradeNo"])
    try:
        check = await client.payouts.validate(
            {"country": payout["country"], "payeeInfo": payout["payeeInfo"]}
        )
        if not check.ok:
            return respond(payee_invalid(check))
        book.open(withdrawal_id, payout)
        result = await client.payouts.create(payout)
    except PayerMaxError as exc:
        return error_response(exc, withdrawal_id, book)
    book.update(withdrawal_id, result.status.value, trade_no=result.trade_no)
    return web.json_response(
        {
            "withdrawal_id": withdrawal_id,
            "status": book.rows[withdrawal_id].status,
            "trade_no": result.trade_no,
        },
        status=202,
    )


async def get_withdrawal(request: web.Request) -> web.Response:
    """``GET /withdrawals/{id}[?refresh=true]``: what we know, or what the gateway says."""
    client, book = request.app[CLIENT], request.app[BOOK]
    withdrawal_id = request.match_info["withdrawal_id"]
    if request.query.get("refresh") == "true":
        try:
            book.apply(await client.payouts.retrieve(withdrawal_id))
        except OrderNotFoundError:
            pass  # the gateway holds no such payout (yet)
        except PayerMaxError as exc:
            return error_response(exc, withdrawal_id, book)
    row = book.rows.get(withdrawal_id)
    if row is None:
        return respond(NOT_FOUND)
    return web.json_response(
        {
            "withdrawal_id": row.withdrawal_id,
            "status": row.status,
            "trade_no": row.trade_no,
            "response_code": row.response_code,
        }
    )


async def reconcile_once(
    client: PayerMaxClient, book: WithdrawalBook, *, stale_after: float = 0.0
) -> None:
    """Settle payouts in doubt (query first, resend the same number only if none exists) and
    query pending ones whose notification is ``stale_after`` seconds late."""
    for order in await client.payouts.reconcile():
        book.apply(order)
    cutoff = time.monotonic() - stale_after
    for row in list(book.rows.values()):
        if row.status not in (IN_DOUBT, "PENDING") or row.updated > cutoff:
            continue
        try:
            if row.status == IN_DOUBT and row.request:
                result = await client.payouts.create(row.request)
                book.update(row.withdrawal_id, result.status.value, trade_no=result.trade_no)
            else:
                book.apply(await client.payouts.retrieve(row.withdrawal_id))
        except PayerMaxError:
            continue  # not settled yet: the next run tries again


async def _reconcile_forever(app: web.Application, every: float) -> None:
    for _ in range(sys.maxsize):  # ends when the app's cleanup cancels it
        await asyncio.sleep(every)
        with contextlib.suppress(PayerMaxError):
            await reconcile_once(app[CLIENT], app[BOOK], stale_after=app[SETTINGS].stale_after)


def _bounded(client: PayerMaxClient, deadline: float | None) -> PayerMaxClient:
    return client if deadline is None else client.with_options(deadline=deadline)


def create_app(settings: Settings) -> web.Application:
    """Build the app: the client lives in ``cleanup_ctx``; the webhook shares its journal."""
    app = web.Application()
    store: IdempotencyStore = settings.store if settings.store is not None else MemoryStore()
    book = WithdrawalBook()
    app[SETTINGS] = settings
    app[BOOK] = book

    async def payermax_client(app: web.Application) -> AsyncIterator[None]:
        # Runs at startup up to the yield, and after it at cleanup: the client's session is
        # closed when the app stops, after every request has finished.
        async with PayerMaxClient(settings.config, store=store, retry=settings.retry) as client:
            # Every call gets a deadline (a view: same session and journal), so a slow gateway
            # cannot hold a request past the load balancer's own timeout.
            app[CLIENT] = _bounded(client, settings.call_deadline)
            reconciler = None
            if settings.reconcile_every is not None:
                reconciler = asyncio.create_task(_reconcile_forever(app, settings.reconcile_every))
            yield
            if reconciler is not None:
                reconciler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconciler
        if settings.store is None:
            await store.aclose()

    app.cleanup_ctx.append(payermax_client)

    async def on_notification(notification: PayoutNotification) -> None:
        book.apply(notification.data)  # PayerMax gets its ACK only after this returned

    verifier = WebhookVerifier.from_config(settings.config)
    app.router.add_post(
        WEBHOOK_PATH, webhooks.aiohttp_handler(verifier, on_notification, dedupe=store)
    )
    app.router.add_post("/withdrawals", create_withdrawal)
    app.router.add_get("/withdrawals/{withdrawal_id}", get_withdrawal)
    return app


async def serve(host: str = "127.0.0.1", port: int = 8001) -> int:
    """Serve until Ctrl-C against ``PAYERMAX_*`` settings or an embedded sandbox."""
    notify_url = os.environ.get("PAYERMAX_NOTIFY_URL") or f"http://{host}:{port}{WEBHOOK_PATH}"
    async with contextlib.AsyncExitStack() as stack:
        if os.environ.get("PAYERMAX_APP_ID", "").strip():
            print("Using the PayerMax gateway configured by the PAYERMAX_* variables.")
            config = PayerMaxConfig.from_env()
        else:
            gateway = await stack.enter_async_context(SandboxGateway())
            print(
                f"No PAYERMAX_* variables: using an embedded SandboxGateway at {gateway.base_url}"
            )
            config = gateway.config()
        runner = web.AppRunner(create_app(Settings(config=config, notify_url=notify_url)))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, host, port).start()
        print(f"Withdrawals API on http://{host}:{port} (webhook {notify_url}); Ctrl-C stops it.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(serve()))

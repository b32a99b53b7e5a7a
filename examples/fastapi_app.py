"""Withdrawals in a FastAPI app: one client per process, a webhook, a status endpoint, a reconciler.

Run it (an embedded sandbox gateway starts when no ``PAYERMAX_*`` variable is set; serving needs
uvicorn: ``pip install uvicorn``)::

    python examples/fastapi_app.py
    curl -s -XPOST localhost:8000/withdrawals -H 'content-type: application/json' \\
        -d '{"withdrawal_id": "WD_1", "amount": "50000", "target_org": "DANA", "account_no": "081234567890"}'
    curl -s localhost:8000/withdrawals/WD_1

What it shows:

- one :class:`PayerMaxClient` per process, opened in the lifespan and injected with ``Depends``;
- ``POST /withdrawals`` validates the payee, pays with the merchant's withdrawal id as ``outTradeNo``
  and answers at once (202 with the payout's state); the final state arrives by webhook;
- errors mapped once, in ``http_errors.py``, shared with the aiohttp example (same statuses, same
  bodies): ``ValidationError`` → 422, ``IdempotencyConflictError`` → 409, ``PayoutOutcomeUnknown`` →
  202 "in doubt" (retry with the **same** id, never a new one), a malformed body → 400;
- the payout webhook mounted with ``webhooks.asgi_app`` under a prefix (Starlette answers a POST to a
  mount's exact path with a 307 redirect, which PayerMax does not follow);
- a periodic reconciler for payouts in doubt and for payouts whose notification never came.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

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

try:  # imported as examples.fastapi_app (the tests, ``python -m examples.fastapi_app``)
    from examples.http_errors import (
        IN_DOUBT,
        NOT_FOUND,
        Answer,
        bad_request,
        error_answer,
        payee_invalid,
    )
except ModuleNotFoundError:  # ``python examples/fastapi_app.py``: this folder is on sys.path
    from http_errors import (  # type: ignore[no-redef,import-not-found]
        IN_DOUBT,
        NOT_FOUND,
        Answer,
        bad_request,
        error_answer,
        payee_invalid,
    )

#: Where the webhook is mounted, and the path PayerMax posts to (below the mount, never the mount).
WEBHOOK_MOUNT = "/payermax"
WEBHOOK_PATH = f"{WEBHOOK_MOUNT}/notifications"
# IN_DOUBT sits below PENDING: any answer from the gateway is more than we knew.
_RANK = {IN_DOUBT: -1, "PENDING": 0, "SUCCESS": 1, "FAILED": 1, "BOUNCEBACK": 2}


# ------------------------------------------------------------------------- the merchant's own records


@dataclass
class Withdrawal:
    """One withdrawal as the merchant's database would hold it (a stand-in for a table row)."""

    withdrawal_id: str
    request: dict[str, object]
    status: str = IN_DOUBT
    trade_no: str | None = None
    response_code: str | None = None
    updated: float = field(default_factory=time.monotonic)


class WithdrawalBook:
    """The merchant's withdrawals (in memory here; a table in a real app). Statuses only move forward."""

    def __init__(self) -> None:
        self._rows: dict[str, Withdrawal] = {}

    def get(self, withdrawal_id: str) -> Withdrawal | None:
        """The withdrawal, if known."""
        return self._rows.get(withdrawal_id)

    def open(self, withdrawal_id: str, request: dict[str, object]) -> Withdrawal:
        """Remember a withdrawal before paying it (kept if it exists: a retried POST)."""
        return self._rows.setdefault(withdrawal_id, Withdrawal(withdrawal_id, request))

    def update(
        self,
        withdrawal_id: str,
        status: str,
        *,
        trade_no: str | None = None,
        response_code: str | None = None,
    ) -> None:
        """Apply a status learned from the gateway (answer, query, notification), forward only."""
        row = self._rows.get(withdrawal_id)
        if row is None:  # e.g. paid by another instance of this app: learn it anyway
            row = self._rows[withdrawal_id] = Withdrawal(withdrawal_id, {})
        if _RANK.get(status, -1) > _RANK.get(row.status, -1) or row.status == status:
            row.status = status
            row.trade_no = trade_no or row.trade_no
            row.response_code = response_code or row.response_code
            row.updated = time.monotonic()

    def apply(self, order: PayoutOrder) -> None:
        """Apply a queried or notified payout."""
        self.update(
            order.out_trade_no,
            order.status.value,
            trade_no=order.trade_no,
            response_code=order.response_code,
        )

    def unsettled(self, *, older_than: float) -> list[Withdrawal]:
        """Withdrawals still in doubt or pending, untouched for ``older_than`` seconds."""
        cutoff = time.monotonic() - older_than
        return [
            row
            for row in self._rows.values()
            if row.status in (IN_DOUBT, "PENDING") and row.updated <= cutoff
        ]


# ------------------------------------------------------------------------------------ the API


class WithdrawalIn(BaseModel):
    """``POST /withdrawals``. The amount is a decimal string: money never goes through a float."""

    withdrawal_id: str
    amount: str
    target_org: str
    account_no: str
    currency: str = "IDR"
    country: str = "ID"
    method: str = "WALLET"
    full_name: str | None = None


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
    #: Seconds between reconciler runs; ``None`` turns the background task off.
    reconcile_every: float | None = 60.0
    #: A pending payout with no news for this long is queried (its notification may be lost).
    stale_after: float = 300.0


def payout_request(body: WithdrawalIn, notify_url: str | None) -> dict[str, object]:
    """The PayerMax ``data`` of a withdrawal: its id **is** the ``outTradeNo``, chosen once."""
    payee: dict[str, object] = {
        "paymentMethodType": body.method,
        "targetOrg": body.target_org,
        "accountInfo": {"accountNo": body.account_no},
    }
    if body.full_name:
        payee["name"] = {"fullName": body.full_name}
    request: dict[str, object] = {
        "outTradeNo": body.withdrawal_id,
        "country": body.country,
        "trade": {"amount": body.amount, "currency": body.currency},
        "payeeInfo": payee,
    }
    if notify_url:
        request["notifyUrl"] = notify_url
    return request


def respond(answer: Answer) -> JSONResponse:
    """An :class:`Answer` of the shared mapping as a FastAPI response."""
    return JSONResponse(answer.body, answer.status)


def error_response(exc: PayerMaxError, withdrawal_id: str, book: WithdrawalBook) -> JSONResponse:
    """SDK errors as HTTP answers (``http_errors.py``). Messages never hold payee data."""
    answer = error_answer(exc, withdrawal_id)
    if answer.in_doubt:
        book.update(withdrawal_id, IN_DOUBT)  # settled by the reconciler, under the same number
    return respond(answer)


async def malformed_body(request: Request, exc: Exception) -> JSONResponse:
    """A body that is not a withdrawal: 400 like the aiohttp example (FastAPI would say 422).

    Only the field names and the rules broken are given back, never the values sent.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ())[1:])}: {error.get('msg', '')}"
        for error in errors
    )
    return respond(bad_request(detail or "the body must be a withdrawal JSON object"))


def get_client(request: Request) -> PayerMaxClient:
    """The process's one client (opened by the lifespan)."""
    client: PayerMaxClient = request.app.state.payermax
    return client


def get_book(request: Request) -> WithdrawalBook:
    """The merchant's withdrawals."""
    book: WithdrawalBook = request.app.state.book
    return book


Client = Annotated[PayerMaxClient, Depends(get_client)]
Book = Annotated[WithdrawalBook, Depends(get_book)]


async def reconcile_once(
    client: PayerMaxClient, book: WithdrawalBook, *, stale_after: float = 0.0
) -> None:
    """Settle what the webhook has not: payouts in doubt, and pending ones whose notification is late.

    1. ``client.payouts.reconcile()`` queries every payout the journal holds in doubt.
    2. A withdrawal still in doubt is created again **with the same outTradeNo**: the SDK queries
       first and adopts what exists, sending only if the gateway has no such order.
    3. A pending withdrawal with no news for ``stale_after`` seconds is queried.
    """
    for order in await client.payouts.reconcile():
        book.apply(order)
    for row in book.unsettled(older_than=stale_after):
        try:
            if row.status == IN_DOUBT and row.request:
                result = await client.payouts.create(row.request)
                book.update(row.withdrawal_id, result.status.value, trade_no=result.trade_no)
            else:
                book.apply(await client.payouts.retrieve(row.withdrawal_id))
        except OrderNotFoundError:
            continue  # not created (yet); the next run looks again
        except PayerMaxError:
            continue  # still unclear (gateway down, ...): the next run tries again


async def _reconcile_forever(
    client: PayerMaxClient, book: WithdrawalBook, every: float, stale_after: float
) -> None:
    for _ in range(sys.maxsize):  # bounded in form; ends when the lifespan cancels it
        await asyncio.sleep(every)
        with contextlib.suppress(PayerMaxError):
            await reconcile_once(client, book, stale_after=stale_after)


def _bounded(client: PayerMaxClient, deadline: float | None) -> PayerMaxClient:
    return client if deadline is None else client.with_options(deadline=deadline)


def create_app(settings: Settings) -> FastAPI:
    """Build the app. The client opens in the lifespan; the webhook shares the client's journal."""
    store: IdempotencyStore = settings.store if settings.store is not None else MemoryStore()
    book = WithdrawalBook()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with PayerMaxClient(settings.config, store=store, retry=settings.retry) as client:
            # Every call gets a deadline (a view: same session and journal), so a slow gateway
            # cannot hold a request past the load balancer's own timeout.
            app.state.payermax = _bounded(client, settings.call_deadline)
            app.state.book = book
            reconciler = None
            if settings.reconcile_every is not None:
                reconciler = asyncio.create_task(
                    _reconcile_forever(client, book, settings.reconcile_every, settings.stale_after)
                )
            try:
                yield
            finally:
                if reconciler is not None:
                    reconciler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reconciler
                if settings.store is None:
                    await store.aclose()

    app = FastAPI(title="withdrawals", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, malformed_body)

    async def on_notification(notification: PayoutNotification) -> None:
        # Called once per payout and forward status, after the signature and the amount and
        # currency (against the journal) were checked; PayerMax gets its ACK after this returns.
        book.apply(notification.data)

    verifier = WebhookVerifier.from_config(settings.config)
    app.mount(WEBHOOK_MOUNT, webhooks.asgi_app(verifier, on_notification, dedupe=store))

    @app.post("/withdrawals", status_code=202)
    async def create_withdrawal(body: WithdrawalIn, client: Client, book: Book) -> JSONResponse:
        request = payout_request(body, settings.notify_url)
        try:
            check = await client.payouts.validate(request)
            if not check.ok:
                return respond(payee_invalid(check))
            book.open(body.withdrawal_id, request)
            result = await client.payouts.create(request)
        except PayerMaxError as exc:
            return error_response(exc, body.withdrawal_id, book)
        book.update(body.withdrawal_id, result.status.value, trade_no=result.trade_no)
        row = book.get(body.withdrawal_id)
        status = row.status if row is not None else result.status.value
        return JSONResponse(
            {"withdrawal_id": body.withdrawal_id, "status": status, "trade_no": result.trade_no},
            202,
        )

    @app.get("/withdrawals/{withdrawal_id}")
    async def get_withdrawal(
        withdrawal_id: str, client: Client, book: Book, refresh: bool = False
    ) -> JSONResponse:
        if refresh:
            try:
                book.apply(await client.payouts.retrieve(withdrawal_id))
            except OrderNotFoundError:
                pass  # the gateway holds no such payout (yet): show what we know
            except PayerMaxError as exc:
                return error_response(exc, withdrawal_id, book)
        row = book.get(withdrawal_id)
        if row is None:
            return respond(NOT_FOUND)
        return JSONResponse(
            {
                "withdrawal_id": row.withdrawal_id,
                "status": row.status,
                "trade_no": row.trade_no,
                "response_code": row.response_code,
            }
        )

    return app


# ------------------------------------------------------------------------------------ running it


def env_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``PAYERMAX_*`` variables configure a gateway (``PAYERMAX_APP_ID`` set), else the
    embedded sandbox is used."""
    env = os.environ if environ is None else environ
    return bool(env.get("PAYERMAX_APP_ID", "").strip())


async def serve(host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the app with uvicorn against ``PAYERMAX_*`` settings or an embedded sandbox."""
    try:
        import uvicorn
    except ImportError:
        print("serving needs uvicorn: pip install uvicorn", file=sys.stderr)
        return 2
    notify_url = os.environ.get("PAYERMAX_NOTIFY_URL") or f"http://{host}:{port}{WEBHOOK_PATH}"
    async with contextlib.AsyncExitStack() as stack:
        if env_configured():
            print("Using the PayerMax gateway configured by the PAYERMAX_* variables.")
            config = PayerMaxConfig.from_env()
        else:
            gateway = await stack.enter_async_context(SandboxGateway())
            print(
                f"No PAYERMAX_* variables: using an embedded SandboxGateway at {gateway.base_url}"
            )
            config = gateway.config()
        app = create_app(Settings(config=config, notify_url=notify_url))
        print(f"Withdrawals API on http://{host}:{port} (webhook {notify_url}); Ctrl-C stops it.")
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        await server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(serve()))

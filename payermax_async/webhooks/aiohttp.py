"""Receiving notifications in an aiohttp web application.

::

    app.router.add_post("/payermax/notify", webhooks.aiohttp_handler(verifier, on_payout_result))

The handler reads the raw body itself, in chunks, and stops at the verifier's size cap; do not read it
(``await request.json()``) in a middleware before it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._delivery import NOT_ALLOWED, TOO_LARGE, NotificationCallback, NotificationReceiver, Reply
from .dedupe import NotificationLedger
from .verifier import WebhookVerifier

if TYPE_CHECKING:
    from aiohttp import StreamReader, web

__all__ = ["AiohttpHandler", "aiohttp_handler"]

#: The type of the request handler :func:`aiohttp_handler` returns.
AiohttpHandler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]

_CHUNK = 16384


async def _read_capped(stream: StreamReader, limit: int) -> bytes | None:
    """Read the whole body, or return ``None`` as soon as it exceeds ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    # Every read returns at least one byte until EOF, so limit + 2 reads always suffice.
    for _ in range(limit + 2):
        chunk = await stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return None


def aiohttp_handler(
    verifier: WebhookVerifier,
    on_notification: NotificationCallback,
    *,
    dedupe: NotificationLedger | None = None,
) -> AiohttpHandler:
    """Build an aiohttp request handler that receives PayerMax payout notifications.

    The handler answers 200 with :data:`~payermax_async.webhooks.ACK` only after ``on_notification``
    returned; 401 for a bad signature, 400 for a malformed, foreign or mismatching notification, 413
    for a body over the size cap, 405 for a method other than POST, and 500 (never a traceback) when
    ``on_notification`` raised, so PayerMax delivers it again later.

    Args:
        verifier: checks the signature and parses the notification.
        on_notification: ``async def on_notification(n: PayoutNotification) -> None``; called once per
            payout and forward status (duplicates and late, out-of-order statuses are acknowledged
            without calling it).
        dedupe: where delivered results are recorded; ``None`` means a fresh in-memory ledger. Pass the
            client's idempotency store to deduplicate across restarts and hosts.

    Raises:
        ConfigurationError: an argument has the wrong type.
    """
    receiver = NotificationReceiver(verifier, on_notification, dedupe)

    async def handle_payermax_notification(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _response(NOT_ALLOWED, allow=True)
        limit = receiver.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return _response(TOO_LARGE)
        body = await _read_capped(request.content, limit)
        if body is None:
            return _response(TOO_LARGE)
        reply = await receiver.handle(body, request.headers.getall("sign", []))
        return _response(reply)

    return handle_payermax_notification


def _response(reply: Reply, *, allow: bool = False) -> web.StreamResponse:
    from aiohttp import web  # imported on first use: most SDK users never serve webhooks

    headers = {"Allow": "POST"} if allow else None
    return web.Response(
        status=reply.status, body=reply.body, content_type="application/json", headers=headers
    )

"""Receiving notifications in an aiohttp web application.

::

    app.router.add_post("/payermax/notify", webhooks.aiohttp_handler(verifier, on_payout_result))

The handler reads the raw body itself, in chunks, within a time limit, and stops at the verifier's
size cap; do not read it (``await request.json()``) in a middleware before it runs. aiohttp's server
undoes a gzip or deflate ``Content-Encoding`` as the body streams in (its default, which the handler
relies on); the cap counts those decoded bytes, so a compressed bomb is cut off one chunk past the cap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..protocol.content_coding import is_supported
from ._delivery import (
    DEFAULT_READ_TIMEOUT,
    MALFORMED,
    NOT_ALLOWED,
    TIMED_OUT,
    TOO_LARGE,
    UNSUPPORTED,
    NotificationCallback,
    NotificationReceiver,
    Reply,
)
from .dedupe import NotificationLedger
from .verifier import WebhookVerifier

if TYPE_CHECKING:
    from aiohttp import StreamReader, web

__all__ = ["AiohttpHandler", "aiohttp_handler"]

logger = logging.getLogger("payermax_async.webhooks")

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
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> AiohttpHandler:
    """Build an aiohttp request handler that receives PayerMax payout notifications.

    The handler answers 200 with :data:`~payermax_async.webhooks.ACK` only after ``on_notification``
    returned; 401 for a bad signature, 400 for a malformed, foreign, mismatching, stale or
    unsuccessful notification, 408 when the body has not fully arrived within ``read_timeout``, 413
    for a body over the size cap, 415 for a ``Content-Encoding`` other than gzip or deflate, 405 for a
    method other than POST, and 500 (never a traceback) when
    ``on_notification`` raised, so PayerMax delivers it again later. After a 408 or 413 the
    connection is closed at once: the rest of the body is never read.

    Args:
        verifier: checks the signature and parses the notification.
        on_notification: ``async def on_notification(n: PayoutNotification) -> None``; called once per
            payout and forward status (duplicates and late, out-of-order statuses are acknowledged
            without calling it).
        dedupe: where delivered results are recorded; ``None`` means a fresh in-memory ledger. Pass the
            client's idempotency store to deduplicate across restarts and hosts.
        read_timeout: seconds a sender has to deliver the whole body (default 10). A slow client
            (one byte a second, or a body that never ends) is answered 408 and disconnected.

    Raises:
        ConfigurationError: an argument has the wrong type.
    """
    receiver = NotificationReceiver(verifier, on_notification, dedupe, read_timeout=read_timeout)

    async def handle_payermax_notification(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _response(NOT_ALLOWED, allow=True)
        limit = receiver.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return await _answer_and_hang_up(request, TOO_LARGE)
        if not is_supported(", ".join(request.headers.getall("Content-Encoding", []))):
            # aiohttp passes codings it does not know (or stacked ones) through undecoded.
            return await _answer_and_hang_up(request, UNSUPPORTED)
        body = await _receive(request, receiver)
        if isinstance(body, Reply):
            return await _answer_and_hang_up(request, body)
        reply = await receiver.handle(body, request.headers.getall("sign", []))
        return _response(reply)

    return handle_payermax_notification


async def _receive(request: web.Request, receiver: NotificationReceiver) -> bytes | Reply:
    """The whole (decoded) body, or the reply that ends the exchange without it."""
    from aiohttp import web  # imported on first use: most SDK users never serve webhooks

    try:
        body = await asyncio.wait_for(
            _read_capped(request.content, receiver.max_body_bytes), receiver.read_timeout
        )
    except asyncio.TimeoutError:
        logger.warning(
            "notification body not received within %.3g s; answered 408 and disconnected",
            receiver.read_timeout,
        )
        return TIMED_OUT
    except ConnectionError:
        # The sender went away mid-body: nobody is left to answer. One line, no traceback.
        logger.info("notification upload aborted by the sender before the body was complete")
        return MALFORMED
    except web.RequestPayloadError as exc:
        # A broken chunked framing or compressed stream.
        logger.warning(
            "notification body unreadable (%s); answered 400", type(exc.__cause__).__name__
        )
        return MALFORMED
    return TOO_LARGE if body is None else body


async def _answer_and_hang_up(request: web.Request, reply: Reply) -> web.StreamResponse:
    """Send ``reply`` and close the connection without reading the rest of the body.

    aiohttp would otherwise keep reading (and inflating) the unread body for its lingering time
    before closing, which is what a slow or oversized sender wants.
    """
    response = _response(reply)
    response.force_close()
    transport = request.transport
    if transport is None or transport.is_closing():
        return response  # the sender is gone: nothing can be written
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


def _response(reply: Reply, *, allow: bool = False) -> web.StreamResponse:
    from aiohttp import web  # imported on first use: most SDK users never serve webhooks

    headers = {"Allow": "POST"} if allow else None
    return web.Response(
        status=reply.status, body=reply.body, content_type="application/json", headers=headers
    )

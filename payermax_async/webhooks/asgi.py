"""Receiving notifications in any ASGI 3 server or framework (FastAPI, Starlette, bare uvicorn).

::

    app.mount("/payermax/notify", webhooks.asgi_app(verifier, on_payout_result))   # FastAPI/Starlette
    uvicorn.run(webhooks.asgi_app(verifier, on_payout_result))                      # on its own

A pure ASGI callable with no framework dependency: it reads the body from ``receive`` in chunks, within
a time limit, stops at the size cap, undoes a gzip or deflate ``Content-Encoding`` itself (ASGI servers
pass bodies as sent) with the same cap on the decoded size, and answers with the same codes as the
aiohttp handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping

from ._delivery import (
    DEFAULT_READ_TIMEOUT,
    NOT_ALLOWED,
    NOT_PROCESSED,
    TIMED_OUT,
    TOO_LARGE,
    NotificationCallback,
    NotificationReceiver,
    Reply,
)
from .dedupe import NotificationLedger
from .verifier import WebhookVerifier

__all__ = ["ASGIApp", "NotificationASGIApp", "Receive", "Scope", "Send", "asgi_app"]

logger = logging.getLogger("payermax_async.webhooks")

#: An ASGI connection scope.
Scope = MutableMapping[str, object]
#: The ASGI ``receive`` callable.
Receive = Callable[[], Awaitable[Mapping[str, object]]]
#: The ASGI ``send`` callable.
Send = Callable[[dict[str, object]], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A lifespan conversation is startup then shutdown; a few spare turns tolerate odd servers.
_LIFESPAN_TURNS = 8


class NotificationASGIApp:
    """The ASGI 3 application :func:`asgi_app` returns. Serves every path it is mounted at."""

    __slots__ = ("_receiver",)

    def __init__(self, receiver: NotificationReceiver) -> None:
        self._receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (``http`` or ``lifespan``)."""
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            msg = f"unsupported ASGI scope type {kind!r}"
            raise RuntimeError(msg)
        started = False

        async def send_tracked(message: dict[str, object]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._http(scope, receive, send_tracked)
        except Exception as exc:
            logger.error("notification request failed unexpectedly: %s", type(exc).__name__)
            if not started:
                await _send_reply(send, NOT_PROCESSED)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _send_reply(send, NOT_ALLOWED, allow=True)
            return
        headers = _headers(scope)
        limit = self._receiver.max_body_bytes
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await _send_reply(send, TOO_LARGE, close=True)
            return
        try:
            body = await asyncio.wait_for(_read_capped(receive, limit), self._receiver.read_timeout)
        except asyncio.TimeoutError:
            logger.warning(
                "notification body not received within %.3g s; answered 408 and disconnected",
                self._receiver.read_timeout,
            )
            await _send_reply(send, TIMED_OUT, close=True)
            return
        except _Disconnected:
            # The sender went away mid-body: nobody is left to answer. One line, no traceback.
            logger.info("notification upload aborted by the sender before the body was complete")
            return
        if body is None:
            await _send_reply(send, TOO_LARGE, close=True)
            return
        decoded = self._receiver.decode(body, _header(headers, b"content-encoding"))
        if isinstance(decoded, Reply):
            await _send_reply(send, decoded, close=True)
            return
        signs = [value.decode("latin-1") for name, value in headers if name == b"sign"]
        await _send_reply(send, await self._receiver.handle(decoded, signs))

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        for _ in range(_LIFESPAN_TURNS):
            message = await receive()
            kind = message.get("type")
            if kind == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def __repr__(self) -> str:
        return f"NotificationASGIApp(max_body_bytes={self._receiver.max_body_bytes})"


class _Disconnected(Exception):
    """The client disconnected before the whole body arrived."""


def _headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    raw = scope.get("headers") or []
    result: list[tuple[bytes, bytes]] = []
    if isinstance(raw, list | tuple):
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 2:
                name, value = item
                if isinstance(name, bytes) and isinstance(value, bytes):
                    result.append((name.lower(), value))
    return result


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    values = [value.decode("latin-1") for name, value in headers if name == wanted]
    return ", ".join(values) if values else None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None


async def _read_capped(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it exceeds ``limit`` bytes.

    Raises:
        _Disconnected: the client went away first.
    """
    parts: list[bytes] = []
    size = 0
    # Servers send non-empty chunks (plus, at most, a final empty one); limit + 2 messages are enough
    # for any body within the cap, and a sender trickling empty messages is cut off.
    for _ in range(limit + 2):
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            raise _Disconnected
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        if isinstance(chunk, bytes | bytearray) and chunk:
            size += len(chunk)
            if size > limit:
                return None
            parts.append(bytes(chunk))
        if not message.get("more_body", False):
            return b"".join(parts)
    return None


async def _send_reply(
    send: Send, reply: Reply, *, allow: bool = False, close: bool = False
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(reply.body)).encode("ascii")),
    ]
    if allow:
        headers.append((b"allow", b"POST"))
    if close:
        # The body was not read to its end: the server must not reuse the connection.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})


def asgi_app(
    verifier: WebhookVerifier,
    on_notification: NotificationCallback,
    *,
    dedupe: NotificationLedger | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> NotificationASGIApp:
    """Build a pure ASGI 3 application that receives PayerMax payout notifications.

    It answers exactly like :func:`~payermax_async.webhooks.aiohttp_handler`: 200 with
    :data:`~payermax_async.webhooks.ACK` only after ``on_notification`` returned; 401 bad signature;
    400 malformed, foreign, mismatching, stale or unsuccessful; 408 body not complete within
    ``read_timeout``; 413 over the size cap, compressed or decoded (without reading or inflating
    further); 415 a ``Content-Encoding`` other than gzip or deflate; 405 not POST; 500 if
    ``on_notification`` raised. A 408, 413 or 415 asks the server to close the connection. It also
    answers ASGI ``lifespan`` events, so it runs under bare uvicorn, and mounts under
    FastAPI/Starlette with ``app.mount(path, ...)``.

    Args:
        verifier: checks the signature and parses the notification.
        on_notification: ``async def on_notification(n: PayoutNotification) -> None``.
        dedupe: where delivered results are recorded; ``None`` means a fresh in-memory ledger.
        read_timeout: seconds a sender has to deliver the whole body (default 10).

    Raises:
        ConfigurationError: an argument has the wrong type.
    """
    return NotificationASGIApp(
        NotificationReceiver(verifier, on_notification, dedupe, read_timeout=read_timeout)
    )

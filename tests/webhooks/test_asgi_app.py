"""asgi_app driven directly through the ASGI 3 interface: scope, receive, send."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
import pytest

from payermax_async import ConfigurationError, KeyPair, PayoutStatus, WebhookVerifier
from payermax_async.webhooks import ACK, NotificationASGIApp, asgi_app
from tests.support.recorder import Recorder
from tests.support.webhooks import Sign, notification


@attrs.define
class Exchange:
    """What an ASGI app sent back, and how many receive() calls it made."""

    status: int | None = None
    headers: dict[bytes, bytes] = attrs.Factory(dict)
    body: bytes = b""
    receives: int = 0
    messages: list[dict[str, Any]] = attrs.Factory(list)


async def call(
    app: NotificationASGIApp,
    *,
    method: str = "POST",
    chunks: Iterable[bytes] = (),
    headers: Iterable[tuple[bytes, bytes]] = (),
    endless: bytes | None = None,
) -> Exchange:
    """Run one HTTP request through the app as an ASGI server would."""
    exchange = Exchange()
    pending = list(chunks)
    scope: dict[str, object] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/payermax/notify",
        "raw_path": b"/payermax/notify",
        "root_path": "",
        "query_string": b"",
        "headers": [(name, value) for name, value in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, object]:
        exchange.receives += 1
        if endless is not None:
            return {"type": "http.request", "body": endless, "more_body": True}
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        exchange.messages.append(message)
        if message["type"] == "http.response.start":
            status = message["status"]
            assert isinstance(status, int)
            exchange.status = status
            raw = message.get("headers", [])
            assert isinstance(raw, list)
            exchange.headers = dict(raw)
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            assert isinstance(body, bytes)
            exchange.body += body

    await app(scope, receive, send)
    return exchange


def _signed(sign: Sign, **kwargs: Any) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    body, signature = sign(notification(**kwargs))
    return [body], [(b"content-type", b"application/json"), (b"sign", signature.encode())]


async def test_valid_notification_acked_after_delivery(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """A genuine notification gets 200, the exact ACK body and a correct Content-Length."""
    recorder = Recorder()
    app = asgi_app(verifier, recorder)
    chunks, headers = _signed(sign)
    result = await call(app, chunks=chunks, headers=headers)
    assert (result.status, result.body) == (200, ACK)
    assert result.headers[b"content-type"] == b"application/json"
    assert result.headers[b"content-length"] == str(len(ACK)).encode()
    assert recorder.statuses == [PayoutStatus.SUCCESS]


async def test_body_split_over_many_messages_is_reassembled(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """A body delivered in many small http.request messages verifies as one."""
    recorder = Recorder()
    app = asgi_app(verifier, recorder)
    body, signature = sign(notification())
    chunks = [body[i : i + 5] for i in range(0, len(body), 5)]
    result = await call(app, chunks=chunks, headers=[(b"Sign", signature.encode())])
    assert (result.status, result.body) == (200, ACK)
    assert recorder.calls == 1


async def test_bad_signature_401(verifier: WebhookVerifier, sign: Sign) -> None:
    """A tampered body gets 401 and a non-ACK JSON body."""
    recorder = Recorder()
    chunks, headers = _signed(sign)
    result = await call(
        asgi_app(verifier, recorder), chunks=[chunks[0].replace(b"IDR", b"USD")], headers=headers
    )
    assert result.status == 401
    assert json.loads(result.body)["code"] == "SIGN_INVALID"
    assert recorder.calls == 0


async def test_missing_sign_401(verifier: WebhookVerifier, sign: Sign) -> None:
    """No sign header at all is 401."""
    chunks, _ = _signed(sign)
    result = await call(asgi_app(verifier, Recorder()), chunks=chunks)
    assert result.status == 401


async def test_malformed_payload_400(verifier: WebhookVerifier, sign: Sign) -> None:
    """A signed notification of the wrong type is 400."""
    chunks, headers = _signed(sign, notifyType="REFUND")
    result = await call(asgi_app(verifier, Recorder()), chunks=chunks, headers=headers)
    assert result.status == 400
    assert json.loads(result.body)["code"] == "NOTIFICATION_INVALID"


async def test_declared_oversize_413_without_reading(platform_keys: KeyPair) -> None:
    """A Content-Length over the cap is answered 413 before a single receive()."""
    app = asgi_app(WebhookVerifier(platform_keys.public_key, max_body_bytes=100), Recorder())
    result = await call(app, headers=[(b"content-length", b"5000")], endless=b"x" * 60)
    assert result.status == 413
    assert result.receives == 0


async def test_streamed_oversize_413_stops_reading_at_the_cap(platform_keys: KeyPair) -> None:
    """An endless body is cut off as soon as it passes the cap: no more messages are pulled."""
    app = asgi_app(WebhookVerifier(platform_keys.public_key, max_body_bytes=100), Recorder())
    result = await call(app, endless=b"x" * 60)
    assert result.status == 413
    assert json.loads(result.body)["code"] == "BODY_TOO_LARGE"
    assert result.receives == 2  # 60 bytes, then 120 > 100: stop


async def test_non_post_405(verifier: WebhookVerifier) -> None:
    """Any method but POST is 405 with Allow: POST."""
    result = await call(asgi_app(verifier, Recorder()), method="GET")
    assert result.status == 405
    assert result.headers[b"allow"] == b"POST"


async def test_client_disconnect_sends_nothing(verifier: WebhookVerifier) -> None:
    """If the sender disconnects mid-body, nothing is sent and the callback is not called."""
    recorder = Recorder()
    app = asgi_app(verifier, recorder)
    sent: list[dict[str, object]] = []
    incoming: list[dict[str, object]] = [
        {"type": "http.request", "body": b'{"partial', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "POST", "headers": []}, receive, send)
    assert sent == []
    assert incoming == []
    assert recorder.calls == 0


async def test_callback_failure_500_then_redelivery_acked(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """A raising callback gives 500 without a traceback; the redelivery is delivered and acked."""
    recorder = Recorder(failures=1)
    app = asgi_app(verifier, recorder)
    chunks, headers = _signed(sign)
    first = await call(app, chunks=chunks, headers=headers)
    assert first.status == 500
    assert first.body != ACK
    assert b"Traceback" not in first.body
    second = await call(app, chunks=chunks, headers=headers)
    assert (second.status, second.body) == (200, ACK)
    third = await call(app, chunks=chunks, headers=headers)
    assert (third.status, third.body) == (200, ACK)
    assert recorder.calls == 2
    assert recorder.statuses == [PayoutStatus.SUCCESS]


async def test_out_of_order_statuses_delivered_forward_only(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """BOUNCEBACK, then a late SUCCESS and PENDING: only BOUNCEBACK reaches the callback."""
    recorder = Recorder()
    app = asgi_app(verifier, recorder)
    for status in ["BOUNCEBACK", "SUCCESS", "PENDING"]:
        chunks, headers = _signed(sign, status=status)
        result = await call(app, chunks=chunks, headers=headers)
        assert (result.status, result.body) == (200, ACK)
    assert recorder.statuses == [PayoutStatus.BOUNCEBACK]


async def test_lifespan_events_answered(verifier: WebhookVerifier) -> None:
    """Startup and shutdown lifespan events are completed, so bare uvicorn runs the app."""
    app = asgi_app(verifier, Recorder())
    incoming: list[dict[str, object]] = [
        {"type": "lifespan.startup"},
        {"type": "lifespan.shutdown"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_websocket_refused(verifier: WebhookVerifier) -> None:
    """A websocket connection is closed rather than left hanging."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await asgi_app(verifier, Recorder())({"type": "websocket"}, receive, send)
    assert sent[0]["type"] == "websocket.close"


def test_asgi_app_arguments_validated(verifier: WebhookVerifier) -> None:
    """A callback that is not callable is refused when the app is built."""
    with pytest.raises(ConfigurationError):
        asgi_app(verifier, None)  # type: ignore[arg-type]

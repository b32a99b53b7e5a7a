"""aiohttp_handler over real loopback HTTP: status codes, dedupe, ordering, ack-after-success."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from payermax_async import ConfigurationError, KeyPair, PayoutOrder, PayoutStatus, WebhookVerifier
from payermax_async.webhooks import (
    ACK,
    MemoryNotificationLedger,
    NotificationLedger,
    aiohttp_handler,
)
from payermax_async.webhooks.aiohttp import _read_capped
from tests.support.recorder import Recorder
from tests.support.webhooks import (
    SECRET_EMAIL,
    SECRET_PHONE,
    SECRET_REDEEM,
    Sign,
    notification,
)

PATH = "/payermax/notify"
Serve = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def serve(verifier: WebhookVerifier) -> AsyncIterator[Serve]:
    """Start a real aiohttp server on 127.0.0.1 with the handler mounted; close it afterwards."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        callback: Any,
        *,
        dedupe: NotificationLedger | None = None,
        use: WebhookVerifier | None = None,
    ) -> TestClient[web.Request, web.Application]:
        app = web.Application()
        handler = aiohttp_handler(use or verifier, callback, dedupe=dedupe)
        app.router.add_route("*", PATH, handler)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def _post(
    client: TestClient[web.Request, web.Application], body: bytes, sign: str | None
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["sign"] = sign
    async with client.post(PATH, data=body, headers=headers) as response:
        return response.status, await response.read()


async def test_valid_notification_delivered_and_acked(serve: Serve, sign: Sign) -> None:
    """A genuine notification reaches the callback and gets 200 with exactly the ACK body."""
    recorder = Recorder()
    client = await serve(recorder)
    body, signature = sign(notification())
    async with client.post(PATH, data=body, headers={"sign": signature}) as response:
        assert response.status == 200
        assert await response.read() == ACK
        assert response.content_type == "application/json"
    assert recorder.delivered == [("PO20261129000001", PayoutStatus.SUCCESS)]


async def test_ack_is_the_exact_documented_body() -> None:
    """ACK is bytes, exactly what PayerMax expects back."""
    assert ACK == b'{"code":"SUCCESS","msg":"Success"}'
    assert json.loads(ACK) == {"code": "SUCCESS", "msg": "Success"}


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda body, sig: (body.replace(b"SUCCESS", b"FAILED"), sig), 401),
        (lambda body, sig: (body, None), 401),
        (lambda body, sig: (body, ""), 401),
        (lambda body, sig: (body, sig[:-10]), 401),
    ],
)
async def test_forgeries_get_401_and_no_callback(
    serve: Serve, sign: Sign, mutate: Callable[[bytes, str], tuple[bytes, str | None]], status: int
) -> None:
    """A tampered body or a missing, empty or truncated sign is answered 401, callback untouched."""
    recorder = Recorder()
    client = await serve(recorder)
    body, signature = mutate(*sign(notification()))
    code, reply = await _post(client, body, signature)
    assert code == status
    assert reply != ACK
    assert json.loads(reply)["code"] == "SIGN_INVALID"
    assert recorder.calls == 0


async def test_two_sign_headers_refused(serve: Serve, sign: Sign) -> None:
    """Two sign headers are ambiguous and refused with 401, even if one is valid."""
    recorder = Recorder()
    client = await serve(recorder)
    body, signature = sign(notification())
    async with client.post(
        PATH, data=body, headers=[("sign", signature), ("sign", signature)]
    ) as r:
        assert r.status == 401
    assert recorder.calls == 0


async def test_foreign_merchant_gets_400(serve: Serve, sign: Sign) -> None:
    """A correctly signed notification for another merchant is answered 400 and not delivered."""
    recorder = Recorder()
    client = await serve(recorder)
    code, reply = await _post(client, *sign(notification(merchantNo="999999999999999")))
    assert code == 400
    assert json.loads(reply)["code"] == "NOTIFICATION_INVALID"
    assert recorder.calls == 0


async def test_non_post_gets_405(serve: Serve) -> None:
    """GET on the notification URL is 405 with Allow: POST."""
    client = await serve(Recorder())
    async with client.get(PATH) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"


async def test_declared_oversize_body_gets_413_before_rsa(
    serve: Serve, platform_keys: KeyPair, sign: Sign
) -> None:
    """A body over the cap is refused with 413 and never reaches verification or the callback."""
    recorder = Recorder()
    small = WebhookVerifier(platform_keys.public_key, max_body_bytes=256)
    client = await serve(recorder, use=small)
    body, signature = sign(notification(padding="x" * 1000))
    code, reply = await _post(client, body, signature)
    assert code == 413
    assert json.loads(reply)["code"] == "BODY_TOO_LARGE"
    assert recorder.calls == 0


async def test_chunked_oversize_body_gets_413(
    serve: Serve, platform_keys: KeyPair, sign: Sign
) -> None:
    """A chunked body with no Content-Length is cut off at the cap with 413."""
    recorder = Recorder()
    small = WebhookVerifier(platform_keys.public_key, max_body_bytes=1024)
    client = await serve(recorder, use=small)
    body, signature = sign(notification(padding="x" * 3000))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    async with client.post(PATH, data=chunks(), headers={"sign": signature}) as response:
        assert response.status == 413
    assert recorder.calls == 0


async def test_chunked_body_within_the_cap_is_read_whole(serve: Serve, sign: Sign) -> None:
    """A chunked body under the cap is reassembled exactly and verifies."""
    recorder = Recorder()
    client = await serve(recorder)
    body, signature = sign(notification())

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    async with client.post(PATH, data=chunks(), headers={"sign": signature}) as response:
        assert response.status == 200
    assert recorder.calls == 1


class _CountingStream:
    """A stand-in for aiohttp's StreamReader that never ends and counts what was asked of it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    async def read(self, n: int = -1) -> bytes:
        chunk = b"x" * min(n, 100)
        self.bytes_read += len(chunk)
        return chunk


async def test_reader_stops_one_byte_past_the_cap() -> None:
    """The body reader never pulls more than limit + 1 bytes from an endless stream."""
    stream = _CountingStream()
    assert await _read_capped(stream, 1000) is None  # type: ignore[arg-type]
    assert stream.bytes_read == 1001


async def test_duplicates_and_out_of_order_reach_the_callback_once_in_forward_order(
    serve: Serve, sign: Sign
) -> None:
    """Repeats and late statuses are acked without calling back; each forward status arrives once."""
    recorder = Recorder()
    client = await serve(recorder)
    deliveries = ["PENDING", "SUCCESS", "PENDING", "SUCCESS", "BOUNCEBACK", "SUCCESS", "BOUNCEBACK"]
    for status in deliveries:
        code, reply = await _post(client, *sign(notification(status=status)))
        assert (code, reply) == (200, ACK)
    assert recorder.statuses == [
        PayoutStatus.PENDING,
        PayoutStatus.SUCCESS,
        PayoutStatus.BOUNCEBACK,
    ]


async def test_late_pending_after_success_is_acked_but_not_delivered(
    serve: Serve, sign: Sign
) -> None:
    """SUCCESS arriving before PENDING: the late PENDING is acknowledged and dropped."""
    recorder = Recorder()
    client = await serve(recorder)
    for status in ["SUCCESS", "PENDING"]:
        assert await _post(client, *sign(notification(status=status))) == (200, ACK)
    assert recorder.statuses == [PayoutStatus.SUCCESS]


async def test_payouts_are_deduplicated_independently(serve: Serve, sign: Sign) -> None:
    """Dedupe is per outTradeNo: the same status for two payouts is delivered for both."""
    recorder = Recorder()
    client = await serve(recorder)
    for number in ["PO_A", "PO_B", "PO_A"]:
        await _post(client, *sign(notification(number)))
    assert recorder.delivered == [("PO_A", PayoutStatus.SUCCESS), ("PO_B", PayoutStatus.SUCCESS)]


async def test_concurrent_copies_call_back_once(serve: Serve, sign: Sign) -> None:
    """Ten simultaneous deliveries of one notification reach the callback exactly once."""
    recorder = Recorder()
    client = await serve(recorder)
    body, signature = sign(notification())
    results = await asyncio.gather(*(_post(client, body, signature) for _ in range(10)))
    assert results == [(200, ACK)] * 10
    assert recorder.calls == 1


async def test_ack_only_after_the_callback_returned(serve: Serve, sign: Sign) -> None:
    """While the callback is still running, no answer has been sent; it comes when the callback returns."""
    gate = asyncio.Event()
    recorder = Recorder(gate=gate)
    client = await serve(recorder)
    request = asyncio.create_task(_post(client, *sign(notification())))
    await recorder.entered.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert not request.done()
    gate.set()
    assert await request == (200, ACK)


async def test_callback_failure_gets_500_and_redelivery_is_acked(
    serve: Serve, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising callback means 500 (no ACK, no traceback); PayerMax's retry then succeeds once."""
    recorder = Recorder(failures=1)
    client = await serve(recorder)
    body, signature = sign(notification())
    with caplog.at_level(logging.ERROR, logger="payermax_async.webhooks"):
        code, reply = await _post(client, body, signature)
    assert code == 500
    assert reply != ACK
    assert b"Traceback" not in reply
    assert b"RuntimeError" not in reply
    assert json.loads(reply)["code"] == "NOT_PROCESSED"
    assert any("on_notification raised RuntimeError" in r.getMessage() for r in caplog.records)
    assert recorder.delivered == []
    assert await _post(client, body, signature) == (200, ACK)  # the retry
    assert await _post(client, body, signature) == (200, ACK)  # a later duplicate
    assert recorder.calls == 2
    assert recorder.statuses == [PayoutStatus.SUCCESS]


async def test_amount_mismatch_refused_and_logged_as_security_event(
    serve: Serve, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    """A notification whose amount or currency differs from what was sent is 400, logged, not delivered."""
    ledger = MemoryNotificationLedger()
    await ledger.expect_trade("PO20261129000001", Decimal("150000"), "IDR")
    recorder = Recorder()
    client = await serve(recorder, dedupe=ledger)
    with caplog.at_level(logging.WARNING, logger="payermax_async.webhooks"):
        for amount, currency in [("150001", "IDR"), ("150000", "USD"), ("150000", "idr")]:
            code, reply = await _post(client, *sign(notification(amount=amount, currency=currency)))
            assert code == 400
            assert json.loads(reply)["code"] == "TRADE_MISMATCH"
    assert recorder.calls == 0
    events = [r for r in caplog.records if r.name == "payermax_async.webhooks"]
    assert len(events) == 3
    for record in events:
        text = record.getMessage()
        assert record.levelno == logging.WARNING
        assert "security" in text
        assert "…0001" in text
        assert "PO20261129000001" not in text
        assert "15000" not in text
    # The same payout with the amount written differently but equal is fine.
    assert await _post(client, *sign(notification(amount="150000.00"))) == (200, ACK)
    assert recorder.calls == 1


async def test_no_payee_data_sign_or_body_in_logs(
    serve: Serve, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    """Across accepted, refused and failed deliveries, logs hold no payee data, sign or body."""
    recorder = Recorder(failures=1)  # its exception message quotes the payee's email
    client = await serve(recorder)
    body, signature = sign(notification())
    with caplog.at_level(logging.DEBUG):
        await _post(client, body, signature)  # callback raises
        await _post(client, body, signature)  # delivered
        await _post(client, body, signature)  # duplicate
        await _post(client, body.replace(b"SUCCESS", b"FAILED"), signature)  # forged
        await _post(client, *sign(notification(merchantNo="999999999999999")))  # foreign
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert caplog.records
    for secret in (SECRET_EMAIL, SECRET_PHONE, SECRET_REDEEM, signature[:40], "PO20261129000001"):
        assert secret not in text
    assert body.decode()[:60] not in text


class _BrokenLedger:
    """A ledger whose store is down when recording."""

    def __init__(self) -> None:
        self.inner = MemoryNotificationLedger()

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        return await self.inner.last_notified(out_trade_no)

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        msg = "store unavailable"
        raise ConnectionError(msg)

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        return None


async def test_ledger_failure_after_callback_gets_500(serve: Serve, sign: Sign) -> None:
    """If the result cannot be recorded, the answer is 500 so PayerMax redelivers (at-least-once)."""
    recorder = Recorder()
    client = await serve(recorder, dedupe=_BrokenLedger())
    code, reply = await _post(client, *sign(notification()))
    assert code == 500
    assert reply != ACK
    assert recorder.calls == 1


def test_handler_arguments_validated(verifier: WebhookVerifier) -> None:
    """A wrong verifier, callback or ledger is a ConfigurationError when the handler is built."""
    with pytest.raises(ConfigurationError):
        aiohttp_handler("verifier", Recorder())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        aiohttp_handler(verifier, "not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        aiohttp_handler(verifier, Recorder(), dedupe=object())  # type: ignore[arg-type]

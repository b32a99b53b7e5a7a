"""The webhook port against hostile senders, over real servers (aiohttp's, and uvicorn for ASGI).

Slow clients are real raw sockets writing a byte at a time (tests/support/slow_client.py); the
adapters are configured with a short read timeout so that the tests stay quick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from payermax_async import ConfigurationError, WebhookVerifier
from payermax_async.webhooks import ACK, aiohttp_handler, asgi_app
from tests.support.compression import MIB, gzip_bomb, gzip_bytes, peak_python_memory
from tests.support.recorder import Recorder
from tests.support.servers import running_aiohttp, running_uvicorn
from tests.support.slow_client import abort_mid_body, request_head, trickle
from tests.support.webhooks import Sign, notification

PATH = "/payermax/notify"
ADAPTERS = ["aiohttp", "asgi"]
#: Short, so a slow client is cut off quickly; generous next to a loopback round trip.
READ_TIMEOUT = 0.3


@asynccontextmanager
async def serving(
    kind: str, verifier: WebhookVerifier, callback: Any, **options: Any
) -> AsyncIterator[int]:
    """The notification endpoint behind a real server of the given kind; yields its port."""
    if kind == "aiohttp":
        app = web.Application()
        app.router.add_post(PATH, aiohttp_handler(verifier, callback, **options))
        async with running_aiohttp(app) as port:
            yield port
    else:
        pytest.importorskip("uvicorn")
        async with running_uvicorn(asgi_app(verifier, callback, **options)) as port:
            yield port


async def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}{PATH}", data=body, headers=headers) as response,
    ):
        return response.status, await response.read()


class _Seen(logging.Handler):
    """Sets an event when a record containing ``text`` is logged (no polling, no sleeps)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# --------------------------------------------------------------------------------- slowloris


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_slow_client_gets_408_and_is_disconnected(
    kind: str, verifier: WebhookVerifier, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender trickling a genuine notification a byte at a time is answered 408 and hung up on
    long before its body is complete; the callback never runs and nothing is logged as an error."""
    caplog.set_level(logging.INFO)
    recorder = Recorder()
    body, signature = sign(notification())
    head = request_head(PATH, content_length=len(body), headers={"sign": signature})
    async with serving(kind, verifier, recorder, read_timeout=READ_TIMEOUT) as port:
        exchange = await trickle(port, head, body, interval=0.05)
    assert exchange.status == 408
    assert b"REQUEST_TIMEOUT" in exchange.answer
    assert exchange.closed
    assert exchange.body_bytes_sent < len(body)
    assert recorder.calls == 0
    assert _errors(caplog) == []
    assert any("not received within" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_many_slow_clients_are_all_cut_off(
    kind: str, verifier: WebhookVerifier, sign: Sign
) -> None:
    """Twenty half-sent bodies at once (chunked, never ending) each get 408 and a closed
    connection: none is held open for as long as its sender likes."""
    body, signature = sign(notification())
    head = request_head(PATH, content_length=None, headers={"sign": signature})
    endless = b"".join(b"1\r\n" + body[i : i + 1] + b"\r\n" for i in range(len(body)))
    async with serving(kind, verifier, Recorder(), read_timeout=READ_TIMEOUT) as port:
        exchanges = await asyncio.gather(
            *(trickle(port, head, endless, interval=0.05) for _ in range(20))
        )
    assert [e.status for e in exchanges] == [408] * 20
    assert all(e.closed for e in exchanges)


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_an_aborted_upload_is_one_quiet_line(
    kind: str, verifier: WebhookVerifier, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    """A sender that resets the connection mid-body is logged as one INFO line, with no aiohttp
    ERROR traceback, and the endpoint goes on serving."""
    caplog.set_level(logging.INFO)
    seen = _Seen("upload aborted")
    logging.getLogger("payermax_async.webhooks").addHandler(seen)
    recorder = Recorder()
    body, signature = sign(notification())
    head = request_head(PATH, content_length=len(body), headers={"sign": signature})
    try:
        async with serving(kind, verifier, recorder) as port:
            await abort_mid_body(port, head, body[:40], pause=0.05)
            await asyncio.wait_for(seen.event.wait(), 5)
            # One full exchange afterwards: anything the server would log late has been logged.
            assert await _post(port, body, {"sign": signature}) == (200, ACK)
    finally:
        logging.getLogger("payermax_async.webhooks").removeHandler(seen)
    assert _errors(caplog) == []
    aborted = [r for r in caplog.records if "upload aborted" in r.getMessage()]
    assert len(aborted) == 1
    assert aborted[0].levelno == logging.INFO
    assert recorder.calls == 1


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), True, "10"])
def test_the_read_timeout_is_validated(kind: str, verifier: WebhookVerifier, bad: Any) -> None:
    """read_timeout must be a positive, finite number of seconds."""
    build = aiohttp_handler if kind == "aiohttp" else asgi_app
    with pytest.raises(ConfigurationError, match="read_timeout"):
        build(verifier, Recorder(), read_timeout=bad)


# ------------------------------------------------------------------------- compressed bodies


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_gzip_notification_is_verified_over_its_decoded_bytes(
    kind: str, verifier: WebhookVerifier, sign: Sign
) -> None:
    """A gzip-encoded notification, signed over its JSON, is decoded, verified and delivered."""
    recorder = Recorder()
    body, signature = sign(notification())
    headers = {"sign": signature, "Content-Encoding": "gzip"}
    async with serving(kind, verifier, recorder) as port:
        assert await _post(port, gzip_bytes(body), headers) == (200, ACK)
    assert recorder.calls == 1


@pytest.mark.parametrize("kind", ADAPTERS)
async def test_a_gzip_bomb_notification_is_refused_without_inflating_it(
    kind: str, verifier: WebhookVerifier
) -> None:
    """A 60 KiB gzip body that inflates to 60 MiB (under the 64 KiB cap on the wire) gets 413,
    and the server's Python memory peaks far below the inflated size."""
    recorder = Recorder()
    bomb = gzip_bomb(60)
    assert len(bomb) < verifier.max_body_bytes
    headers = {"sign": "c2lnbg==", "Content-Encoding": "gzip"}
    async with serving(kind, verifier, recorder) as port:
        with peak_python_memory() as peak:
            status, answer = await _post(port, bomb, headers)
    assert status == 413
    assert b"BODY_TOO_LARGE" in answer
    assert peak[0] < 16 * MIB
    assert recorder.calls == 0


@pytest.mark.parametrize(
    ("kind", "encoding"),
    [
        ("aiohttp", "gzip, gzip"),
        ("aiohttp", "compress"),
        ("asgi", "gzip, gzip"),
        ("asgi", "compress"),
        ("asgi", "br"),
    ],
)
async def test_codings_the_sdk_does_not_decode_get_415(
    kind: str, verifier: WebhookVerifier, sign: Sign, encoding: str
) -> None:
    """A Content-Encoding other than one gzip or deflate layer gets 415 and never reaches the
    verifier (aiohttp would pass stacked or unknown codings through undecoded)."""
    recorder = Recorder()
    body, signature = sign(notification())
    headers = {"sign": signature, "Content-Encoding": encoding}
    async with serving(kind, verifier, recorder) as port:
        status, answer = await _post(port, gzip_bytes(body), headers)
    assert status == 415
    assert b"UNSUPPORTED_ENCODING" in answer
    assert recorder.calls == 0

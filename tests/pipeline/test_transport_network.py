"""Transport failure mapping and session lifecycle against real loopback servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import attrs
import pytest
from aiohttp import web

from payermax_async import KeyPair, PayerMaxClient, RsaSigner, RsaVerifier
from payermax_async.errors import (
    ClientClosedError,
    ConnectError,
    ConnectionLostError,
    InvalidResponseError,
    RequestTimeoutError,
)
from payermax_async.middleware.signing import SigningMiddleware
from payermax_async.pipeline import Call, Reply, build_chain
from payermax_async.pipeline.transport import AiohttpTransport
from payermax_async.protocol.envelope import EnvelopeWriter
from tests.support.mock_gateway import (
    SINGLE_ATTEMPT,
    LoopbackGateway,
    RawServer,
    loopback_config,
    read_http_request,
    valid_payout,
)
from tests.support.tls import self_signed

ORDER = {"outTradeNo": "PO20261129000001", "tradeNo": "T1", "status": "PENDING"}


def _signed_response(signer: RsaSigner, document: dict[str, object]) -> web.Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return web.Response(
        body=body, headers={"sign": signer.sign_sync(body)}, content_type="application/json"
    )


async def test_the_bytes_signed_are_the_bytes_sent(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
) -> None:
    """The body a real server receives verifies against its sign header with the merchant key."""

    async def handler(_request: web.Request) -> web.Response:
        return _signed_response(platform_signer, {"code": "APPLY_SUCCESS", "data": ORDER})

    loopback_gateway.handler = handler
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        result = await client.payouts.create(valid_payout())
    assert result.out_trade_no == ORDER["outTradeNo"]
    [(body, headers)] = loopback_gateway.received
    RsaVerifier(merchant_keys.public_key).verify(body, headers["sign"])
    assert json.loads(body)["data"] == valid_payout()
    assert headers["User-Agent"].startswith("payermax-async/")
    assert headers["Content-Type"] == "application/json"


async def test_connection_refused_is_not_sent(
    closed_port: int, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A refused connection (closed port) is ConnectError with maybe_sent False."""
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{closed_port}/gw")
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(ConnectError) as info:
            await client.payouts.create(valid_payout())
    assert info.value.maybe_sent is False


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full, so a new connection attempt hangs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_connect_timeout_is_not_sent(
    full_backlog: int, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A connection that cannot be established in time is ConnectError, maybe_sent False."""
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{full_backlog}/gw")
    timeout = aiohttp.ClientTimeout(total=5, connect=0.2)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT, timeout=timeout) as client:
        with pytest.raises(ConnectError) as info:
            await client.payouts.create(valid_payout())
    assert info.value.maybe_sent is False


async def test_reset_after_reading_the_request_may_have_been_sent(
    raw_server: RawServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A server that reads the whole request then resets is ConnectionLostError, maybe_sent True."""
    received: list[bytes] = []

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await read_http_request(reader))
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    raw_server.on_connection = reset
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{raw_server.port}/gw")
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(ConnectionLostError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is True
    assert json.loads(received[0])["data"]["outTradeNo"] == "PO20261129000001"


async def test_a_truncated_answer_is_a_lost_connection(
    raw_server: RawServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """An answer shorter than its Content-Length is ConnectionLostError, maybe_sent True."""

    async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_http_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"code":'
        )
        await writer.drain()
        writer.close()

    raw_server.on_connection = truncate
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{raw_server.port}/gw")
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(ConnectionLostError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is True


async def test_a_server_that_never_answers_is_a_read_timeout(
    raw_server: RawServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """No answer within sock_read is RequestTimeoutError with maybe_sent True."""

    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await read_http_request(reader)
        await raw_server.release.wait()

    raw_server.on_connection = silent
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{raw_server.port}/gw")
    timeout = aiohttp.ClientTimeout(total=5, sock_read=0.2)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT, timeout=timeout) as client:
        with pytest.raises(RequestTimeoutError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is True


async def test_a_per_call_timeout_applies(
    raw_server: RawServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """``timeout=`` on an operation overrides the client's (long) default."""

    async def silent(reader: asyncio.StreamReader, _writer: asyncio.StreamWriter) -> None:
        await read_http_request(reader)
        await raw_server.release.wait()

    raw_server.on_connection = silent
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{raw_server.port}/gw")
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(RequestTimeoutError):
            await client.payouts.retrieve("PO1", timeout=0.2)


@pytest.fixture
async def tls_gateway(tmp_path: Path) -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTPS server on loopback with a self-signed certificate; yields its port and bodies."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_post("/gw/{api}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield runner.addresses[0][1], received
    await runner.cleanup()


async def test_a_self_signed_certificate_is_refused(
    tls_gateway: tuple[int, list[bytes]], merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """TLS verification is on: a self-signed server is ConnectError, not sent, nothing received."""
    port, received = tls_gateway
    config = loopback_config(merchant_keys, platform_keys, f"https://127.0.0.1:{port}/gw")
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(ConnectError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is False
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)
    assert received == []


# ------------------------------------------------------------------------------- body size


async def _send(transport: AiohttpTransport, merchant_keys: KeyPair) -> Reply:
    writer = EnvelopeWriter(app_id="a", merchant_no="m")
    handler = build_chain(
        [SigningMiddleware(RsaSigner(merchant_keys.private_key), writer)], transport
    )
    return await handler(Call.build("paymentOrderQry", {"outTradeNo": "PO1"}))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversized_body_is_refused(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
    chunked: bool,
) -> None:
    """A body over the limit (declared or streamed in chunks) is InvalidResponseError."""
    payload = json.dumps({"code": "APPLY_SUCCESS", "data": {"x": "y" * 5000}}).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"sign": platform_signer.sign_sync(payload), "Content-Type": "application/json"}
        if not chunked:
            return web.Response(body=payload, headers=headers)
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(payload), 500):
            await response.write(payload[start : start + 500])
        await response.write_eof()
        return response

    loopback_gateway.handler = handler
    verifier = RsaVerifier(platform_keys.public_key)
    transport = AiohttpTransport(loopback_gateway.base_url, verifier, max_response_bytes=4096)
    try:
        with pytest.raises(InvalidResponseError, match="limit") as info:
            await _send(transport, merchant_keys)
        assert info.value.http_status == 200
        big_enough = AiohttpTransport(loopback_gateway.base_url, verifier)
        try:
            reply = await _send(big_enough, merchant_keys)
        finally:
            await big_enough.aclose()
        assert reply.raw == payload
    finally:
        await transport.aclose()


# ------------------------------------------------------------------------- session lifecycle


async def test_a_borrowed_session_is_never_closed(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
) -> None:
    """A session passed by the caller is used for requests and left open by aclose()."""

    async def handler(_request: web.Request) -> web.Response:
        return _signed_response(platform_signer, {"code": "APPLY_SUCCESS", "data": ORDER})

    loopback_gateway.handler = handler
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with aiohttp.ClientSession() as session:
        async with PayerMaxClient(config, retry=SINGLE_ATTEMPT, session=session) as client:
            await client.payouts.retrieve("PO20261129000001")
        assert client.closed
        assert not session.closed
        async with session.get(loopback_gateway.base_url.replace("/gw", "/")) as response:
            assert response.status == 404  # the borrowed session still works


async def test_an_owned_session_is_closed(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
) -> None:
    """The session the transport opened itself is closed by aclose()."""

    async def handler(_request: web.Request) -> web.Response:
        return _signed_response(platform_signer, {"code": "APPLY_SUCCESS", "data": ORDER})

    loopback_gateway.handler = handler
    transport = AiohttpTransport(loopback_gateway.base_url, RsaVerifier(platform_keys.public_key))
    await _send(transport, merchant_keys)
    session = transport._session
    assert session is not None
    assert not session.closed
    await transport.aclose()
    assert session.closed
    await transport.aclose()  # twice is fine


async def test_aclose_twice_and_use_after_close(
    merchant_keys: KeyPair, platform_keys: KeyPair, closed_port: int
) -> None:
    """aclose() may be called twice; any use afterwards raises ClientClosedError, before I/O."""
    config = loopback_config(merchant_keys, platform_keys, f"http://127.0.0.1:{closed_port}/gw")
    client = PayerMaxClient(config, retry=SINGLE_ATTEMPT)
    await client.aclose()
    await client.aclose()
    assert client.closed
    with pytest.raises(ClientClosedError):
        await client.payouts.retrieve("PO1")
    with pytest.raises(ClientClosedError):
        await client.payouts.create(valid_payout())
    with pytest.raises(ClientClosedError):
        async with client:
            pass


async def test_the_transport_refuses_use_after_close(platform_keys: KeyPair) -> None:
    """The transport itself refuses to open a new session once closed."""
    transport = AiohttpTransport("http://127.0.0.1:9/gw", RsaVerifier(platform_keys.public_key))
    await transport.aclose()
    assert transport.closed
    call = Call.build("paymentOrderQry", {"outTradeNo": "PO1"})
    with pytest.raises(ClientClosedError):
        await transport(attrs.evolve(call, body=b"{}", headers={"sign": "x"}))

"""Fixtures of the unit tests: reference data, a client on the mocked gateway, loopback servers."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import CallbackResult, aioresponses

from payermax_async import KeyPair, PayerMaxClient, PayerMaxConfig, RetryPolicy
from payermax_async.signing import RsaSigner

REFERENCE = Path(__file__).resolve().parents[1] / "data"
GATEWAY = "https://pay-gate-uat.payermax.com/aggregate-pay/api/gateway"


def load_json(name: str) -> Any:
    """One of the unchanged PayerMax reference files in ``tests/data``."""
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """PayerMax's Java-SDK signature vectors."""
    data: dict[str, Any] = load_json("java-sdk-signature-vectors.json")
    return data


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    """PayerMax's payout OpenAPI document."""
    data: dict[str, Any] = load_json("payermax-payout-openapi.json")
    return data


def valid_payout() -> dict[str, Any]:
    """A minimal valid payout ``data`` mapping (a fresh copy each time)."""
    return {
        "outTradeNo": "PO20261129000001",
        "country": "ID",
        "trade": {"amount": "150000", "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "0812323233332"},
            "name": {"fullName": "James Kanta"},
        },
    }


#: One attempt per call: these tests watch what a single exchange turns into; the retry layer that
#: would resend or query afterwards has its own tests (tests/reliability).
SINGLE_ATTEMPT = RetryPolicy(max_attempts=1)


@pytest.fixture
async def client(config: PayerMaxConfig) -> AsyncIterator[PayerMaxClient]:
    """A single-attempt client on the UAT URL (intercepted by ``gateway_mock``), closed after the test."""
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as payermax:
        yield payermax


def reply_with(
    signer: RsaSigner, document: dict[str, Any], *, status: int = 200
) -> Callable[..., CallbackResult]:
    """An aioresponses callback answering ``document`` signed by ``signer``."""
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {"sign": signer.sign_sync(body), "Content-Type": "application/json"}

    def callback(_url: object, **_kwargs: object) -> CallbackResult:
        return CallbackResult(status=status, body=body, headers=headers)

    return callback


def sent_bodies(mock: aioresponses) -> list[dict[str, Any]]:
    """Every request body the mocked gateway received, parsed, in order."""
    bodies = []
    for calls in mock.requests.values():
        for call in calls:
            data = call.kwargs["data"]
            assert isinstance(data, bytes)
            bodies.append(json.loads(data))
    return bodies


def request_count(mock: aioresponses) -> int:
    """How many requests the mocked gateway received."""
    return sum(len(calls) for calls in mock.requests.values())


# ----------------------------------------------------------------------------- loopback servers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackGateway:
    """A real aiohttp server on 127.0.0.1 whose single route runs ``handler``."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append((body, dict(request.headers)))
        assert self.handler is not None, "set gateway.handler in the test"
        return await self.handler(request)


@pytest.fixture
async def loopback_gateway() -> AsyncIterator[LoopbackGateway]:
    """A real HTTP server on a free loopback port serving ``POST /gw/{api}``."""
    gateway = LoopbackGateway()
    app = web.Application()
    app.router.add_post("/gw/{api}", gateway.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    gateway.base_url = f"http://127.0.0.1:{port}/gw"
    yield gateway
    await runner.cleanup()


class RawServer:
    """A plain TCP server on 127.0.0.1 whose connections are handled by ``on_connection``."""

    def __init__(self) -> None:
        self.on_connection: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
        self.port = 0
        self.release = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await self.on_connection(reader, writer)


async def read_http_request(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 request (headers and a Content-Length body) and return its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return await reader.readexactly(length)


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    """A raw TCP server for failures an HTTP framework will not produce (resets, silence)."""
    raw = RawServer()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    raw.port = server.sockets[0].getsockname()[1]
    yield raw
    raw.release.set()
    server.close()
    for writer in raw.writers:
        writer.close()
    await server.wait_closed()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def loopback_config(
    merchant_keys: KeyPair, platform_keys: KeyPair, base_url: str
) -> PayerMaxConfig:
    """A configuration pointing at a loopback server."""
    return PayerMaxConfig(
        app_id="3b242b56a8b64274bcc37dac281120e3",
        merchant_no="010213834123456",
        merchant_private_key=merchant_keys.private_key,
        platform_public_key=platform_keys.public_key,
        base_url=base_url,
    )


def tiny_timeout(**kwargs: float) -> aiohttp.ClientTimeout:
    """A short client timeout for failure tests (a limit, never a sleep)."""
    return aiohttp.ClientTimeout(**kwargs)

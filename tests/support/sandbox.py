"""Shared pieces of the sandbox, end-to-end and CLI tests: fixtures, a webhook receiver, payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import attrs
import pytest
from aiohttp import web

from payermax_async import KeyPair, PayerMaxClient
from payermax_async.sandbox import SandboxGateway
from payermax_async.signing import RsaSigner
from payermax_async.testing import fast_retry_policy

ACK = b'{"code":"SUCCESS","msg":"Success"}'


def payout(out_trade_no: str, amount: str = "15000", **extra: Any) -> dict[str, Any]:
    """A valid DANA wallet payout in Indonesia, in wire form."""
    return {
        "outTradeNo": out_trade_no,
        "country": "ID",
        "trade": {"amount": amount, "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "081234567890"},
            "name": {"fullName": "Siti Rahayu"},
        },
        **extra,
    }


@attrs.define
class Received:
    """One request the receiver got."""

    body: bytes
    sign: str | None


class Receiver:
    """A real loopback aiohttp server standing in for the merchant's webhook endpoint.

    ``replies`` scripts the first answers as ``(http_status, body)``; after them it acknowledges.
    """

    def __init__(self, replies: Iterable[tuple[int, bytes]] = ()) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self._runner = web.ServerRunner(web.Server(self._handle, access_log=None))
        self.url = ""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.received.append(Received(await request.read(), request.headers.get("sign")))
        status, body = self.replies.pop(0) if self.replies else (200, ACK)
        return web.Response(status=status, body=body, content_type="application/json")

    def documents(self) -> list[dict[str, Any]]:
        """The received bodies, parsed."""
        return [json.loads(item.body) for item in self.received]

    async def __aenter__(self) -> Receiver:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/payermax/notify"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def gateway(merchant_keys: KeyPair, platform_keys: KeyPair) -> AsyncIterator[SandboxGateway]:
    """A running sandbox with the session's keys (fast: no key generation per test)."""
    async with SandboxGateway(merchant_keys=merchant_keys, platform_keys=platform_keys) as gw:
        yield gw


@pytest.fixture
async def client(gateway: SandboxGateway) -> AsyncIterator[PayerMaxClient]:
    """A client configured for the sandbox, with retries armed but backoff off (no real sleeps)."""
    async with PayerMaxClient(gateway.config(), retry=fast_retry_policy()) as payermax:
        yield payermax


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver that acknowledges every notification."""
    async with Receiver() as running:
        yield running


@pytest.fixture
def merchant_signer(merchant_keys: KeyPair) -> RsaSigner:
    """Signs hand-made request envelopes as the merchant."""
    return RsaSigner(merchant_keys.private_key)


def envelope(
    gw: SandboxGateway,
    data: Any,
    signer: RsaSigner,
    *,
    request_time: str | None = None,
    **overrides: Any,
) -> tuple[bytes, dict[str, str]]:
    """A hand-made signed request body for ``gw`` and its headers."""
    from payermax_async.protocol.envelope import format_request_time, utc_now

    document = {
        "version": "1.4",
        "keyVersion": "1",
        "requestTime": request_time or format_request_time(utc_now()),
        "appId": gw.app_id,
        "merchantNo": gw.merchant_no,
        "data": data,
        **overrides,
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, {"sign": signer.sign_sync(body), "Content-Type": "application/json"}


@attrs.define
class RawAnswer:
    """An HTTP answer as received: status, headers, exact body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The parsed body."""
        return json.loads(self.body)


async def raw_post(
    gw: SandboxGateway,
    api: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float = 5.0,
) -> RawAnswer:
    """POST bytes to the sandbox with a plain aiohttp session (no SDK in the way)."""
    import aiohttp

    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(f"{gw.base_url}/{api}", data=body, headers=headers) as response,
    ):
        return RawAnswer(response.status, dict(response.headers), await response.read())

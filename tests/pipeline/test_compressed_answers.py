"""Compressed gateway answers against a real loopback server: decoded with an explicit cap.

The transport asks aiohttp for the raw bytes (auto_decompress=False) and inflates them itself,
asking zlib for at most one byte past MAX_RESPONSE_BYTES, so a gzip bomb is refused without being
inflated in full; the signature is checked over the decoded bytes (docs/protocol.md §3).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from payermax_async import KeyPair, PayerMaxClient, RsaSigner
from payermax_async.errors import InvalidResponseError
from payermax_async.pipeline.transport import MAX_RESPONSE_BYTES
from tests.support.compression import (
    MIB,
    deflate_bytes,
    gzip_bomb,
    gzip_bytes,
    peak_python_memory,
)
from tests.support.mock_gateway import SINGLE_ATTEMPT, LoopbackGateway, loopback_config

ORDER = {
    "outTradeNo": "PO20261129000001",
    "tradeNo": "T1",
    "status": "SUCCESS",
    "trade": {"amount": "150000", "currency": "IDR"},
}
ANSWER = json.dumps({"code": "APPLY_SUCCESS", "msg": "", "data": ORDER}).encode()

ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip_bytes,
    "deflate": deflate_bytes,
    "deflate-raw": lambda data: deflate_bytes(data, raw=True),
}


def _answer(
    signer: RsaSigner, wire: bytes, encoding: str, *, signed: bytes = ANSWER, chunked: bool = False
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {
            "sign": signer.sign_sync(signed),
            "Content-Type": "application/json",
            "Content-Encoding": encoding,
        }
        if not chunked:
            return web.Response(body=wire, headers=headers)
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(wire), 8192):
            await response.write(wire[start : start + 8192])
        await response.write_eof()
        return response

    return handler


@pytest.mark.parametrize("coding", sorted(ENCODINGS))
async def test_a_compressed_answer_is_verified_over_its_decoded_bytes(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
    coding: str,
) -> None:
    """gzip, zlib-deflate and raw-deflate answers are decoded, verified and parsed, and the request
    advertised only the codings the SDK decodes itself."""
    wire = ENCODINGS[coding](ANSWER)
    loopback_gateway.handler = _answer(platform_signer, wire, coding.split("-")[0])
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        order = await client.payouts.retrieve("PO20261129000001")
    assert order.status == "SUCCESS"
    [(_body, headers)] = loopback_gateway.received
    assert headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_gzip_bomb_is_refused_without_inflating_it(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
    chunked: bool,
) -> None:
    """A 64 KiB answer that inflates to 64 MiB is InvalidResponseError, and the client's Python
    memory peaks far below the inflated size (it stops one byte past the 4 MiB cap)."""
    bomb = gzip_bomb(64)
    assert len(bomb) < MAX_RESPONSE_BYTES  # the wire size alone would pass
    loopback_gateway.handler = _answer(platform_signer, bomb, "gzip", chunked=chunked)
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with peak_python_memory() as peak, pytest.raises(InvalidResponseError, match="limit"):
            await client.payouts.retrieve("PO20261129000001")
    assert peak[0] < 16 * MIB


@pytest.mark.parametrize(
    ("wire", "encoding", "problem"),
    [
        (gzip_bytes(ANSWER) + gzip_bytes(b""), "gzip", "after the end"),
        (gzip_bytes(ANSWER)[:-12], "gzip", "truncated"),
        (b"not gzip at all", "gzip", "not a valid"),
        (gzip_bytes(ANSWER), "br", "unsupported"),
        (gzip_bytes(gzip_bytes(ANSWER)), "gzip, gzip", "unsupported"),
    ],
    ids=["two-members", "truncated", "garbage", "brotli", "stacked"],
)
async def test_a_malformed_or_unexpected_coding_is_an_invalid_response(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
    wire: bytes,
    encoding: str,
    problem: str,
) -> None:
    """Concatenated members, a truncated or corrupt stream and a coding the SDK did not ask for
    are InvalidResponseError (maybe sent: a payout's outcome is then settled by a query)."""
    loopback_gateway.handler = _answer(platform_signer, wire, encoding)
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(InvalidResponseError, match=problem) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is True

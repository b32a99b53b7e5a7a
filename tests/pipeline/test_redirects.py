"""A redirect from the gateway's address is never followed: signed bytes go to one place only."""

from __future__ import annotations

import pytest
from aiohttp import web

from payermax_async import KeyPair, PayerMaxClient
from payermax_async.errors import InvalidResponseError
from tests.support.mock_gateway import SINGLE_ATTEMPT, LoopbackGateway, loopback_config


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed(
    loopback_gateway: LoopbackGateway, merchant_keys: KeyPair, platform_keys: KeyPair, status: int
) -> None:
    """A 3xx answer is an InvalidResponseError; the request is never re-sent to its Location."""

    async def redirect(request: web.Request) -> web.Response:
        if request.match_info["api"] == "elsewhere":
            return web.Response(text="{}")
        return web.Response(status=status, headers={"Location": "/gw/elsewhere"})

    loopback_gateway.handler = redirect
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(InvalidResponseError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.http_status == status
    assert len(loopback_gateway.received) == 1

"""Starting, pausing and stopping the sandbox: ports, keys, config, no leaked tasks."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from payermax_async import PayerMaxClient
from payermax_async.errors import ConnectError
from payermax_async.sandbox import SandboxGateway
from payermax_async.signing import RsaSigner, RsaVerifier
from tests.support.sandbox import Receiver, payout


async def test_refuse_connections_then_listen_again_on_the_same_port(gateway):
    """While refusing, connecting fails as "not sent"; afterwards the same URL works again."""
    url, port = gateway.base_url, gateway.port
    async with PayerMaxClient(gateway.config()) as client:
        await client.payouts.create(payout("l_1"))
        await gateway.refuse_connections(True)
        with pytest.raises(ConnectError) as caught:
            await client.payouts.retrieve("l_1")
        assert caught.value.maybe_sent is False
        await gateway.refuse_connections(False)
        assert (gateway.base_url, gateway.port) == (url, port)
        assert (await client.payouts.retrieve("l_1")).out_trade_no == "l_1"


async def test_exit_cancels_every_background_task(merchant_keys, platform_keys):
    """Leaving the context cancels pending outcomes and deliveries; no task survives."""
    async with Receiver([(503, b"")] * 10) as receiver:
        async with SandboxGateway(
            merchant_keys=merchant_keys,
            platform_keys=platform_keys,
            processing_delay=0.0,
            time_scale=1.0,
        ) as gw:
            async with PayerMaxClient(gw.config()) as client:
                await client.payouts.create(payout("l_slow", notifyUrl=receiver.url))
                await client.payouts.create(payout("l_later", remark="BOUNCEBACK"))
            for _ in range(100):  # let the first delivery attempt happen
                if gw.notifications:
                    break
                await asyncio.sleep(0.01)
        assert gw.notifications
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("payermax-sandbox")]
    assert leftovers == []


async def test_generated_keys_are_distinct_and_usable():
    """Without keys the sandbox makes its own: the config signs, the platform key verifies."""
    async with SandboxGateway() as gw:
        assert gw.merchant_public_key != gw.platform_public_key
        signature = RsaSigner(gw.platform_private_key).sign_sync(b"x")
        RsaVerifier(gw.platform_public_key).verify(b"x", signature)
        config = gw.config(key_version="1")
        assert config.base_url == gw.base_url
        assert config.app_id == gw.app_id
        assert config.merchant_no == gw.merchant_no


def test_base_url_needs_a_started_gateway():
    """The URL is only known once listening."""
    with pytest.raises(RuntimeError, match="not started"):
        _ = SandboxGateway().base_url


async def test_a_busy_port_is_an_os_error(gateway, merchant_keys, platform_keys):
    """Asking for a port in use fails loudly at start."""
    with pytest.raises(OSError):  # noqa: PT011 - the errno wording differs between platforms
        async with SandboxGateway(
            port=gateway.port, merchant_keys=merchant_keys, platform_keys=platform_keys
        ):
            pass


async def test_delayed_answers_end_when_the_gateway_closes(merchant_keys, platform_keys):
    """A DELAY fault never holds the gateway open: closing drops the waiting connection."""
    from payermax_async.sandbox import Fault, FaultKind

    async with SandboxGateway(merchant_keys=merchant_keys, platform_keys=platform_keys) as gw:
        gw.faults.add(Fault(FaultKind.DELAY, delay=30.0))
        async with aiohttp.ClientSession() as session:
            request = asyncio.ensure_future(
                session.post(f"{gw.base_url}/paymentOrderQry", data=b"{}")
            )
            for _ in range(200):
                if gw.ledger.post_count():
                    break
                await asyncio.sleep(0.005)
            await gw.aclose()
            with pytest.raises(aiohttp.ClientConnectionError):
                await request


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])  # noqa: S104
def test_only_loopback_hosts_are_allowed(host, merchant_keys, platform_keys):
    """The sandbox refuses to listen anywhere a network could reach it."""
    with pytest.raises(ValueError, match="loopback"):
        SandboxGateway(host=host, merchant_keys=merchant_keys, platform_keys=platform_keys)

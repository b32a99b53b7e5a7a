"""A borrowed session= cannot turn TLS verification off for a remote https gateway.

The gateway is a real HTTPS server on loopback with a self-signed certificate, reached under a
non-loopback host name (tests/support/tls.py's resolver), so the SDK treats it as remote.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable

import aiohttp
import pytest

from payermax_async import ConfigurationError, KeyPair, PayerMaxClient
from payermax_async.errors import ConnectError, InvalidResponseError
from tests.support.mock_gateway import SINGLE_ATTEMPT, loopback_config
from tests.support.tls import REMOTE_NAME, StaticResolver, TlsServer


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _no_hostname_check(server: TlsServer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.cert))
    context.check_hostname = False
    return context


def _fingerprint(server: TlsServer) -> aiohttp.Fingerprint:
    der = ssl.PEM_cert_to_DER_cert(server.cert.read_text())
    return aiohttp.Fingerprint(hashlib.sha256(der).digest())


INSECURE: dict[str, Callable[[TlsServer], ssl.SSLContext | bool | aiohttp.Fingerprint]] = {
    "ssl=False": lambda _server: False,
    "CERT_NONE": lambda _server: _unverified_context(),
    "check_hostname": _no_hostname_check,
    "fingerprint": _fingerprint,
}


@pytest.mark.parametrize("setting", sorted(INSECURE))
async def test_a_session_that_does_not_verify_is_refused_for_a_remote_gateway(
    tls_server: TlsServer, merchant_keys: KeyPair, platform_keys: KeyPair, setting: str
) -> None:
    """ssl=False, a CERT_NONE context, a context without host name checks or a bare fingerprint
    is a ConfigurationError naming the setting, and nothing reaches the server; the same session
    used directly does reach it (so the refusal is what kept the payout off the wire)."""
    base_url = f"https://{REMOTE_NAME}:{tls_server.port}/gw"
    config = loopback_config(merchant_keys, platform_keys, base_url)
    connector = aiohttp.TCPConnector(ssl=INSECURE[setting](tls_server), resolver=StaticResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(ConfigurationError, match=setting):
            PayerMaxClient(config, retry=SINGLE_ATTEMPT, session=session)
        assert tls_server.received == []
        async with session.post(f"{base_url}/paymentOrderQry", data=b"control") as response:
            assert response.status == 200
    assert tls_server.received == [b"control"]


async def test_a_session_with_its_own_verifying_ca_is_accepted(
    tls_server: TlsServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A session whose SSLContext verifies against the caller's own CA bundle is used as is."""
    base_url = f"https://{REMOTE_NAME}:{tls_server.port}/gw"
    config = loopback_config(merchant_keys, platform_keys, base_url)
    context = ssl.create_default_context(cafile=str(tls_server.cert))
    connector = aiohttp.TCPConnector(ssl=context, resolver=StaticResolver())
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        PayerMaxClient(config, retry=SINGLE_ATTEMPT, session=session) as client,
    ):
        with pytest.raises(InvalidResponseError):  # the test server answers "{}"
            await client.payouts.retrieve("PO20261129000001")
    assert len(tls_server.received) == 1


async def test_a_default_session_refuses_the_self_signed_remote_gateway(
    tls_server: TlsServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """A borrowed session with aiohttp's default (verifying) connector fails the handshake:
    ConnectError, not sent, nothing received."""
    base_url = f"https://{REMOTE_NAME}:{tls_server.port}/gw"
    config = loopback_config(merchant_keys, platform_keys, base_url)
    connector = aiohttp.TCPConnector(resolver=StaticResolver())
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        PayerMaxClient(config, retry=SINGLE_ATTEMPT, session=session) as client,
    ):
        with pytest.raises(ConnectError) as info:
            await client.payouts.retrieve("PO20261129000001")
    assert info.value.maybe_sent is False
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)
    assert tls_server.received == []


async def test_an_unverifying_session_may_talk_to_a_loopback_gateway(
    tls_server: TlsServer, merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """Loopback hosts are exempt (as for plain http): a local test server with a throwaway
    certificate can be reached through a session with ssl=False."""
    config = loopback_config(
        merchant_keys, platform_keys, f"https://127.0.0.1:{tls_server.port}/gw"
    )
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session,
        PayerMaxClient(config, retry=SINGLE_ATTEMPT, session=session) as client,
    ):
        with pytest.raises(InvalidResponseError):
            await client.payouts.retrieve("PO20261129000001")
    assert len(tls_server.received) == 1


def test_a_session_of_the_wrong_type_is_refused(
    merchant_keys: KeyPair, platform_keys: KeyPair
) -> None:
    """session= must be an aiohttp.ClientSession; anything else is a ConfigurationError."""
    config = loopback_config(merchant_keys, platform_keys, "https://pay-gate.example.test/gw")
    with pytest.raises(ConfigurationError, match="ClientSession"):
        PayerMaxClient(config, session=object())  # type: ignore[arg-type]

"""Helpers for testing code that uses payermax-async; also a pytest plugin, loaded automatically.

Installing payermax-async registers this module with pytest (entry point ``pytest11``), which gives
every test suite these fixtures::

    async def test_payout(payermax_sandbox):
        async with PayerMaxClient(payermax_sandbox.config()) as client:
            result = await client.payouts.create({...})
        await payermax_sandbox.settle()
        assert payermax_sandbox.ledger.orders[result.out_trade_no].status == "SUCCESS"

- ``payermax_sandbox``: a running :class:`~payermax_async.sandbox.SandboxGateway`, closed after the
  test (needs pytest-asyncio; with its strict mode too).
- ``payermax_sandbox_keys``: the merchant and platform key pairs the sandbox uses, made once per
  session because RSA key generation is slow. Override it to bring your own.
- ``payermax_webhook_relay``: a started :class:`~payermax_async.testing.relay.WebhookRelay`, a
  loopback URL whose requests reach an in-process ASGI app or aiohttp application, so the sandbox's
  notifications reach the app under test::

      async def test_webhook(payermax_sandbox, payermax_webhook_relay):
          app = create_app(notify_url=payermax_webhook_relay.url_for("/payermax/notify"))
          await payermax_webhook_relay.attach(app)

And, for the retry layer, :func:`fast_retry_policy` (backoff off), :class:`FakeClock` and
:class:`RecordingSleep` (an ``asyncio.sleep`` stand-in that records the delays asked for).

Importing this module is cheap: the sandbox and aiohttp's server are imported only when a fixture runs,
and without pytest installed the module simply defines no fixtures.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .retry import FakeClock, RecordingSleep, fast_retry_policy

if TYPE_CHECKING:
    from ..sandbox import SandboxGateway
    from ..signing.keys import KeyPair
    from .relay import WebhookRelay

__all__: list[str] = ["FakeClock", "RecordingSleep", "fast_retry_policy", "sandbox_keys"]

_HAS_PYTEST = importlib.util.find_spec("pytest") is not None
_HAS_PYTEST_ASYNCIO = _HAS_PYTEST and importlib.util.find_spec("pytest_asyncio") is not None


def sandbox_keys() -> tuple[KeyPair, KeyPair]:
    """A fresh ``(merchant_keys, platform_keys)`` pair of RSA-2048 key pairs for a sandbox."""
    from ..signing.keys import generate_keypair

    return generate_keypair(), generate_keypair()


async def _running_relay() -> AsyncIterator[WebhookRelay]:
    from .relay import WebhookRelay

    async with WebhookRelay() as relay:
        yield relay


async def _running_sandbox(keys: tuple[KeyPair, KeyPair]) -> AsyncIterator[SandboxGateway]:
    from ..sandbox import SandboxGateway

    merchant_keys, platform_keys = keys
    async with SandboxGateway(merchant_keys=merchant_keys, platform_keys=platform_keys) as gateway:
        yield gateway


if _HAS_PYTEST:
    import pytest

    __all__ += ["payermax_sandbox", "payermax_sandbox_keys", "payermax_webhook_relay"]

    @pytest.fixture(scope="session")
    def payermax_sandbox_keys() -> tuple[KeyPair, KeyPair]:
        """The ``(merchant_keys, platform_keys)`` of ``payermax_sandbox``, made once per session."""
        return sandbox_keys()

    if _HAS_PYTEST_ASYNCIO:
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def payermax_sandbox(
            payermax_sandbox_keys: tuple[KeyPair, KeyPair],
        ) -> AsyncIterator[SandboxGateway]:
            """A running sandbox gateway on a free loopback port, closed after the test."""
            async for gateway in _running_sandbox(payermax_sandbox_keys):
                yield gateway

        @pytest_asyncio.fixture
        async def payermax_webhook_relay() -> AsyncIterator[WebhookRelay]:
            """A loopback relay to the app under test (``await relay.attach(app)``), closed after."""
            async for relay in _running_relay():
                yield relay

    else:

        @pytest.fixture
        def payermax_sandbox() -> None:
            """Stands in when pytest-asyncio is missing, to say what to install."""
            pytest.fail(
                "the payermax_sandbox fixture needs pytest-asyncio: pip install pytest-asyncio"
            )

        @pytest.fixture
        def payermax_webhook_relay() -> None:
            """Stands in when pytest-asyncio is missing, to say what to install."""
            pytest.fail(
                "the payermax_webhook_relay fixture needs pytest-asyncio: pip install pytest-asyncio"
            )

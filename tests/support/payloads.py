"""Fixtures for the reliability suite: a sandbox gateway, fast policies, payout requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from payermax_async import KeyPair
from payermax_async.sandbox import SandboxGateway


def payout(key: str, amount: str = "10", **extra: object) -> dict[str, object]:
    """A wire-form payout with payee data that must never be logged."""
    return {
        "outTradeNo": key,
        "country": "US",
        "trade": {"amount": amount, "currency": "USD"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "PAYPAL",
            "accountInfo": {"accountNo": "4111222233334444"},
            "name": {"fullName": "Josephine Marchetti"},
            "email": "josephine.marchetti@example.org",
        },
        **extra,
    }


@pytest.fixture
async def gw(payermax_sandbox_keys: tuple[KeyPair, KeyPair]) -> AsyncIterator[SandboxGateway]:
    """A sandbox gateway with a fixed fault seed and instant outcomes."""
    merchant, platform = payermax_sandbox_keys
    async with SandboxGateway(
        seed=7, merchant_keys=merchant, platform_keys=platform, processing_delay=0.0
    ) as gateway:
        yield gateway

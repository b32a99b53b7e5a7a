"""Shared fixtures: key pairs, a ready config, and an aioresponses mock of the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioresponses.core as aioresponses_core
import pytest
from aioresponses import aioresponses

from payermax_async import KeyPair, PayerMaxConfig, generate_keypair
from payermax_async.signing import RsaSigner
from tests._compat import AIOHTTP_NEEDS_STREAM_WRITER, CompatClientResponse

REFERENCE = Path(__file__).resolve().parent / "data"  # also in tests.support.reference


@pytest.fixture(scope="session")
def merchant_keys() -> KeyPair:
    """The merchant's key pair (signs requests)."""
    return generate_keypair()


@pytest.fixture(scope="session")
def platform_keys() -> KeyPair:
    """PayerMax's key pair (signs responses and notifications)."""
    return generate_keypair()


@pytest.fixture
def config(merchant_keys: KeyPair, platform_keys: KeyPair) -> PayerMaxConfig:
    """A UAT configuration with test keys."""
    return PayerMaxConfig(
        app_id="3b242b56a8b64274bcc37dac281120e3",
        merchant_no="010213834123456",
        merchant_private_key=merchant_keys.private_key,
        platform_public_key=platform_keys.public_key,
    )


@pytest.fixture
def platform_signer(platform_keys: KeyPair) -> RsaSigner:
    """Signs fake gateway responses as PayerMax would."""
    return RsaSigner(platform_keys.private_key)


@pytest.fixture
def gateway_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, patched for aiohttp 3.14 (see tests/_compat.py)."""
    if AIOHTTP_NEEDS_STREAM_WRITER:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", CompatClientResponse)
    with aioresponses() as mock:
        yield mock


def signed_body(signer: RsaSigner, document: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A response body and the headers PayerMax would send with it."""
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, {"sign": signer.sign_sync(body), "Content-Type": "application/json"}

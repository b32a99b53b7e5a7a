"""Fixtures for the webhook tests: PayerMax's signer, notification documents, a verifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from payermax_async import KeyPair, RsaSigner, WebhookVerifier, generate_keypair
from tests.support.reference import REFERENCE

MERCHANT_NO = "010213834123456"
APP_ID = "3b242b56a8b64274bcc37dac281120e3"

#: Payee data that must never reach a log line or a reply.
SECRET_EMAIL = "payee.secret@example.com"
SECRET_PHONE = "081234567890"
SECRET_REDEEM = "REDEEM-998877"


def load_reference(name: str) -> Any:
    """A file from shared/reference, parsed as JSON."""
    return json.loads((REFERENCE / name).read_text(encoding="utf-8"))


def notification(
    out_trade_no: str = "PO20261129000001",
    status: str = "SUCCESS",
    *,
    amount: str = "150000",
    currency: str = "IDR",
    key_version: str | None = "1",
    **top: Any,
) -> dict[str, Any]:
    """A PAYOUT notification document as PayerMax sends it (with some payee data in it)."""
    document: dict[str, Any] = {"code": "APPLY_SUCCESS", "msg": "Success."}
    if key_version is not None:
        document["keyVersion"] = key_version
    document |= {
        "appId": APP_ID,
        "merchantNo": MERCHANT_NO,
        "notifyTime": "2026-11-29T04:05:00.000+00:00",
        "notifyType": "PAYOUT",
        "data": {
            "outTradeNo": out_trade_no,
            "tradeNo": "20261129040000PO71330000270184",
            "status": status,
            "trade": {"amount": amount, "currency": currency},
            "notifyEmail": SECRET_EMAIL,
            "notifyPhone": SECRET_PHONE,
            "redeemCode": SECRET_REDEEM,
        },
    }
    document |= top
    return document


Sign = Callable[[dict[str, Any]], tuple[bytes, str]]


def signer_for(signer: RsaSigner) -> Sign:
    """A function serialising a document compactly and signing the exact bytes."""

    def sign(document: dict[str, Any]) -> tuple[bytes, str]:
        body = json.dumps(document, separators=(",", ":")).encode()
        return body, signer.sign_sync(body)

    return sign


@pytest.fixture(scope="session")
def next_platform_keys() -> KeyPair:
    """PayerMax's next key pair (keyVersion "2"), for rotation tests."""
    return generate_keypair()


@pytest.fixture(scope="session")
def sign(platform_keys: KeyPair) -> Sign:
    """Serialise and sign a notification as PayerMax would, with keyVersion 1's key."""
    return signer_for(RsaSigner(platform_keys.private_key))


@pytest.fixture
def verifier(platform_keys: KeyPair) -> WebhookVerifier:
    """A verifier for this merchant and app with PayerMax's current key."""
    return WebhookVerifier(platform_keys.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)

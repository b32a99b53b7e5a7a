"""The hand-written baselines the SDK is measured against: what a careful engineer writes by hand."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._common import Gateway

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def load_private(der_base64: str) -> rsa.RSAPrivateKey:
    """A private key from PayerMax's one-line base64 PKCS#8."""
    key = serialization.load_der_private_key(base64.b64decode(der_base64), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_public(der_base64: str) -> rsa.RSAPublicKey:
    """A public key from PayerMax's one-line base64 SPKI."""
    key = serialization.load_der_public_key(base64.b64decode(der_base64))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


class RawClient:
    """Envelope, sign, POST the bytes, verify the answer's signature, parse. Nothing else."""

    def __init__(self, gateway: Gateway, session: aiohttp.ClientSession) -> None:
        self._key = load_private(gateway.merchant.private_key)
        self._public = load_public(gateway.platform.public_key)
        self._gateway, self._session = gateway, session
        self._url = f"{gateway.base_url}/paymentOrderPay"

    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """One payout; returns the answer's ``data``."""
        envelope = {
            "version": "1.4",
            "keyVersion": "1",
            "requestTime": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "appId": self._gateway.app_id,
            "merchantNo": self._gateway.merchant_no,
            "data": data,
        }
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        sign = base64.b64encode(self._key.sign(body, _PKCS1, _SHA256)).decode()
        async with self._session.post(
            self._url, data=body, headers={"Content-Type": "application/json", "sign": sign}
        ) as response:
            raw = await response.read()
            signature = response.headers["sign"]
        self._public.verify(base64.b64decode(signature), raw, _PKCS1, _SHA256)
        document = json.loads(raw)
        if document["code"] != "APPLY_SUCCESS":
            raise RuntimeError(document["code"])
        result: dict[str, Any] = document["data"]
        return result


def raw_verify_notification(public: rsa.RSAPublicKey, body: bytes, sign: str) -> dict[str, Any]:
    """The minimum a webhook handler must do: verify the signature over the raw bytes, parse."""
    public.verify(base64.b64decode(sign), body, _PKCS1, _SHA256)
    document: dict[str, Any] = json.loads(body)
    return document

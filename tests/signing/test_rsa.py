"""SHA256withRSA signing and verification against PayerMax's own Java-SDK vectors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aioresponses import aioresponses

from payermax_async import (
    KeyPair,
    PayerMaxClient,
    PayerMaxConfig,
    RsaSigner,
    RsaVerifier,
    Signer,
    generate_keypair,
)
from payermax_async.errors import SignatureError
from payermax_async.signing import peek_key_version
from tests.support.mock_gateway import GATEWAY, reply_with, valid_payout


def _cases(vectors: dict[str, Any]) -> list[tuple[bytes, str]]:
    return [(case["body"].encode("utf-8"), case["sign"]) for case in vectors["cases"]]


def test_vectors_are_not_empty(vectors: dict[str, Any]) -> None:
    """The vector file holds several cases, including one with non-ASCII text."""
    bodies = [body for body, _ in _cases(vectors)]
    assert len(bodies) >= 4
    assert any(not body.isascii() for body in bodies)


def test_signer_reproduces_every_java_signature(vectors: dict[str, Any]) -> None:
    """RsaSigner makes exactly the signature PayerMax's Java SDK made, for every vector."""
    signer = RsaSigner(vectors["private_key_pkcs8_base64"])
    for body, sign in _cases(vectors):
        assert signer.sign_sync(body) == sign


async def test_async_sign_equals_sync_sign(vectors: dict[str, Any]) -> None:
    """The async ``sign`` returns the same bytes as ``sign_sync``."""
    signer = RsaSigner(vectors["private_key_pkcs8_base64"])
    body, sign = _cases(vectors)[0]
    assert await signer.sign(body) == sign


def test_verifier_accepts_every_java_signature(vectors: dict[str, Any]) -> None:
    """RsaVerifier accepts every vector signature over its exact body."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    for body, sign in _cases(vectors):
        verifier.verify(body, sign)


def _altered(body: bytes, position: int) -> bytes:
    return body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]


def test_every_altered_byte_of_a_small_body_is_rejected(vectors: dict[str, Any]) -> None:
    """Flipping any single byte of a small signed body makes verification fail."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    body, sign = min(_cases(vectors), key=lambda case: len(case[0]))
    for position in range(len(body)):
        with pytest.raises(SignatureError):
            verifier.verify(_altered(body, position), sign)


def test_sampled_altered_bytes_of_a_large_body_are_rejected() -> None:
    """Flipping a byte at sampled positions of a ~64 KB body makes verification fail."""
    pair = generate_keypair()
    body = json.dumps({"code": "APPLY_SUCCESS", "data": {"blob": "x" * 65_000}}).encode()
    sign = RsaSigner(pair.private_key).sign_sync(body)
    verifier = RsaVerifier(pair.public_key)
    verifier.verify(body, sign)
    for position in (0, 1, 17, 1000, len(body) // 2, len(body) - 2, len(body) - 1):
        with pytest.raises(SignatureError):
            verifier.verify(_altered(body, position), sign)
    with pytest.raises(SignatureError):
        verifier.verify(body + b" ", sign)
    with pytest.raises(SignatureError):
        verifier.verify(body[:-1], sign)


def test_a_reserialised_body_is_rejected(vectors: dict[str, Any]) -> None:
    """The same JSON re-serialised (json.loads + json.dumps with spaces) does not verify."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    for body, sign in _cases(vectors):
        reserialised = json.dumps(json.loads(body)).encode()
        assert reserialised != body
        with pytest.raises(SignatureError):
            verifier.verify(reserialised, sign)


def test_a_wrong_key_is_rejected(vectors: dict[str, Any]) -> None:
    """A signature checked with another RSA key is rejected."""
    verifier = RsaVerifier(generate_keypair().public_key)
    body, sign = _cases(vectors)[0]
    with pytest.raises(SignatureError, match="does not match"):
        verifier.verify(body, sign)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("", "missing or empty"),
        ("   \n\t", "missing or empty"),
        ("not base64 at all!", "base64"),
        ("ab$c", "base64"),
    ],
)
def test_malformed_signatures_are_rejected(
    vectors: dict[str, Any], signature: str, message: str
) -> None:
    """Empty, whitespace-only and non-base64 signatures raise SignatureError."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    body, _ = _cases(vectors)[0]
    with pytest.raises(SignatureError, match=message):
        verifier.verify(body, signature)


def test_truncated_signatures_are_rejected(vectors: dict[str, Any]) -> None:
    """A signature cut short (as text or as bytes) is rejected."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    body, sign = _cases(vectors)[0]
    raw = base64.b64decode(sign)
    for cut in (sign[:-4], sign[:200], base64.b64encode(raw[:-1]).decode(), sign[:4]):
        with pytest.raises(SignatureError):
            verifier.verify(body, cut)


def test_a_non_bytes_payload_is_rejected(vectors: dict[str, Any]) -> None:
    """Only raw bytes are verified: a str body is refused outright."""
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    body, sign = _cases(vectors)[0]
    with pytest.raises(SignatureError, match="raw body bytes"):
        verifier.verify(body.decode(), sign)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ key-version mapping


def _signed(pair: KeyPair, document: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(document, separators=(",", ":")).encode()
    return body, RsaSigner(pair.private_key).sign_sync(body)


@pytest.fixture(scope="module")
def two_pairs() -> tuple[KeyPair, KeyPair]:
    """Two platform key pairs, as during a key rotation."""
    return generate_keypair(), generate_keypair()


def test_key_version_selects_the_only_key_tried(two_pairs: tuple[KeyPair, KeyPair]) -> None:
    """With {keyVersion: key}, the body's keyVersion picks the key; the other key's signature fails."""
    old, new = two_pairs
    verifier = RsaVerifier({"1": old.public_key, "2": new.public_key})
    assert verifier.key_versions == ("1", "2")
    body, sign = _signed(new, {"code": "APPLY_SUCCESS", "keyVersion": "2"})
    verifier.verify(body, sign)
    forged, forged_sign = _signed(old, {"code": "APPLY_SUCCESS", "keyVersion": "2"})
    with pytest.raises(SignatureError, match="does not match"):
        verifier.verify(forged, forged_sign)
    body_v1, sign_v1 = _signed(old, {"code": "APPLY_SUCCESS", "keyVersion": "1"})
    verifier.verify(body_v1, sign_v1)


def test_explicit_key_version_overrides_the_body(two_pairs: tuple[KeyPair, KeyPair]) -> None:
    """``key_version=`` names the key to use whatever the body says."""
    old, new = two_pairs
    verifier = RsaVerifier({"1": old.public_key, "2": new.public_key})
    body, sign = _signed(new, {"code": "APPLY_SUCCESS"})
    verifier.verify(body, sign, key_version="2")
    with pytest.raises(SignatureError):
        verifier.verify(body, sign, key_version="1")


def test_without_key_version_each_key_is_tried(two_pairs: tuple[KeyPair, KeyPair]) -> None:
    """A body naming no keyVersion verifies against any configured key."""
    old, new = two_pairs
    verifier = RsaVerifier({"1": old.public_key, "2": new.public_key})
    for pair in (old, new):
        body, sign = _signed(pair, {"code": "APPLY_SUCCESS", "data": {}})
        verifier.verify(body, sign)
    stranger, stranger_sign = _signed(generate_keypair(), {"code": "APPLY_SUCCESS"})
    with pytest.raises(SignatureError):
        verifier.verify(stranger, stranger_sign)


def test_unknown_key_version_is_rejected(two_pairs: tuple[KeyPair, KeyPair]) -> None:
    """A keyVersion that is not configured is rejected, even with an otherwise valid signature."""
    old, new = two_pairs
    verifier = RsaVerifier({"1": old.public_key, "2": new.public_key})
    body, sign = _signed(new, {"code": "APPLY_SUCCESS", "keyVersion": "9"})
    with pytest.raises(SignatureError, match="keyVersion"):
        verifier.verify(body, sign)


def test_peek_key_version() -> None:
    """peek_key_version finds the body's keyVersion string and nothing else."""
    assert peek_key_version(b'{"a":1,"keyVersion" : "7"}') == "7"
    assert peek_key_version(b'{"keyVersion":7}') is None
    assert peek_key_version(b"{}") is None


def test_an_empty_mapping_is_refused() -> None:
    """A rotation mapping with no key is a configuration error."""
    from payermax_async.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="empty"):
        RsaVerifier({})


# -------------------------------------------------------------------------- pluggable signer


def test_signer_protocol_is_runtime_checkable(merchant_keys: KeyPair) -> None:
    """isinstance works with Signer: RsaSigner and any object with ``async sign`` qualify."""

    class Custom:
        async def sign(self, payload: bytes) -> str:
            return "x"

    assert isinstance(RsaSigner(merchant_keys.private_key), Signer)
    assert isinstance(Custom(), Signer)
    assert not isinstance(object(), Signer)


class RecordingSigner:
    """A custom signer (think KMS) that records what it signed."""

    def __init__(self, pair: KeyPair) -> None:
        self.inner = RsaSigner(pair.private_key)
        self.payloads: list[bytes] = []

    async def sign(self, payload: bytes) -> str:
        self.payloads.append(payload)
        return self.inner.sign_sync(payload)


async def test_a_custom_signer_signs_the_requests(
    config: PayerMaxConfig, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """PayerMaxClient(signer=...) uses that signer: it saw the body sent, its signature is the header."""
    other = generate_keypair()
    signer = RecordingSigner(other)
    gateway_mock.post(
        f"{GATEWAY}/paymentOrderPay",
        callback=reply_with(
            platform_signer,
            {"code": "APPLY_SUCCESS", "msg": "", "data": {"outTradeNo": "PO20261129000001"}},
        ),
    )
    async with PayerMaxClient(config, signer=signer) as client:
        await client.payouts.create(valid_payout())
    [call] = next(iter(gateway_mock.requests.values()))
    sent = call.kwargs["data"]
    assert signer.payloads == [sent]
    RsaVerifier(other.public_key).verify(sent, call.kwargs["headers"]["sign"])

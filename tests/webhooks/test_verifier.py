"""WebhookVerifier: what it accepts, what it refuses, and in which order it checks."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from payermax_async import (
    ConfigurationError,
    KeyPair,
    PayerMaxConfig,
    PayoutStatus,
    RsaSigner,
    ValidationError,
    WebhookSignatureError,
    WebhookVerifier,
    generate_keypair,
)
from payermax_async.signing import RsaVerifier
from payermax_async.webhooks import verify_file
from tests.support.webhooks import (
    APP_ID,
    MERCHANT_NO,
    Sign,
    load_reference,
    notification,
    signer_for,
)

VECTORS = load_reference("java-sdk-signature-vectors.json")


def _openapi_notification() -> dict[str, Any]:
    spec = load_reference("payermax-payout-openapi.json")
    content = spec["paths"]["/disbursementResultNotifyUrl"]["post"]["requestBody"]["content"]
    example: dict[str, Any] = content["application/json"]["example"]
    return example


# ------------------------------------------------------------------------------------------ accepted


async def test_java_sdk_signed_notification_verifies() -> None:
    """The notification PayerMax's own Java SDK signed (vector case 3) is accepted and parsed."""
    case = VECTORS["cases"][2]
    verifier = WebhookVerifier(
        {"1": VECTORS["public_key_spki_base64"]}, merchant_no=MERCHANT_NO, app_id=APP_ID
    )
    result = await verifier.verify(case["body"].encode(), case["sign"])
    assert result.notify_type == "PAYOUT"
    assert result.merchant_no == MERCHANT_NO
    assert result.app_id == APP_ID
    assert result.key_version == "1"
    assert result.notify_time is not None
    assert result.notify_time.isoformat() == "2026-11-29T04:05:00+00:00"
    assert result.data.out_trade_no == "PO20261129000001"
    assert result.data.status is PayoutStatus.SUCCESS
    assert result.data.trade is not None
    assert result.data.trade.amount == Decimal("150000")
    assert result.data.trade.currency == "IDR"


async def test_java_sdk_vector_refused_with_one_flipped_byte() -> None:
    """Changing one byte of the Java-signed body makes the same signature fail."""
    case = VECTORS["cases"][2]
    verifier = WebhookVerifier(VECTORS["public_key_spki_base64"])
    body = case["body"].encode().replace(b"150000", b"150001")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(body, case["sign"])


async def test_openapi_example_notification_parses(platform_keys: KeyPair) -> None:
    """PayerMax's documented notification example parses fully, money as Decimal, times lenient."""
    example = _openapi_notification()
    # Any layout will do: the signature covers the exact bytes, whatever their formatting.
    body = json.dumps(example, ensure_ascii=False, indent=2).encode()
    sign = RsaSigner(platform_keys.private_key).sign_sync(body)
    verifier = WebhookVerifier(platform_keys.public_key, merchant_no="010213834123456")
    result = await verifier.verify(body, sign)
    order = result.data
    assert order.out_trade_no == "outTradeNo167823423411"
    assert order.status is PayoutStatus.SUCCESS
    assert order.trade is not None
    assert order.trade.amount == Decimal("30.00")
    assert order.source is not None
    assert order.source.fee == Decimal("1.00")
    assert order.destination is not None
    assert order.destination.exchange_rate == Decimal("1.0000000000")
    assert order.expiry_time is not None
    assert order.expiry_time.isoformat() == "2023-03-12T02:37:37+00:00"
    assert order.bounce_back_time is None  # "" in the example
    assert order.additional_identifier is not None
    assert order.additional_identifier.reference_id == "2024041710121481030100166528590615003"
    assert result.notify_time is not None
    assert result.notify_time.isoformat() == "2023-03-08T16:22:05+00:00"
    assert "18168567713" not in repr(result)  # payee phone masked in repr


@pytest.mark.parametrize("kind", [bytearray, memoryview])
async def test_bytes_like_raw_bodies_accepted(
    kind: type, verifier: WebhookVerifier, sign: Sign
) -> None:
    """A bytearray or memoryview of the raw body is the same raw bytes, so it verifies."""
    body, signature = sign(notification())
    result = await verifier.verify(kind(body), signature)
    assert result.data.status is PayoutStatus.SUCCESS


async def test_unknown_top_level_fields_kept(verifier: WebhookVerifier, sign: Sign) -> None:
    """Fields from a newer gateway version survive in ``extra`` instead of failing the parse."""
    body, signature = sign(notification(futureField="x"))
    result = await verifier.verify(body, signature)
    assert result.extra == {"futureField": "x"}


# ------------------------------------------------------------------------------------------ forgeries


async def test_flipped_byte_refused(verifier: WebhookVerifier, sign: Sign) -> None:
    """Any single changed byte in the body breaks the signature."""
    body, signature = sign(notification())
    forged = body.replace(b'"SUCCESS"', b'"FAILED"')
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(forged, signature)


async def test_signed_by_another_key_refused(verifier: WebhookVerifier) -> None:
    """A notification signed with any key but PayerMax's is refused."""
    attacker = signer_for(RsaSigner(generate_keypair().private_key))
    body, signature = attacker(notification())
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await verifier.verify(body, signature)


@pytest.mark.parametrize(
    ("sign_value", "message"),
    [
        (None, "missing"),
        ("", "empty"),
        ("   ", "empty"),
        ("not base64!!", "base64"),
        ("x" * 5000, "too long"),
    ],
)
async def test_missing_empty_or_garbage_sign_refused(
    verifier: WebhookVerifier, sign: Sign, sign_value: str | None, message: str
) -> None:
    """A missing, empty, non-base64 or absurdly long sign header is refused with its own message."""
    body, _ = sign(notification())
    with pytest.raises(WebhookSignatureError, match=message):
        await verifier.verify(body, sign_value)


async def test_truncated_sign_refused(verifier: WebhookVerifier, sign: Sign) -> None:
    """A signature cut short (still valid base64) does not verify."""
    body, signature = sign(notification())
    truncated = base64.b64encode(base64.b64decode(signature)[:-4]).decode()
    with pytest.raises(WebhookSignatureError):
        await verifier.verify(body, truncated)
    with pytest.raises(WebhookSignatureError):
        await verifier.verify(body, signature[:-8])


async def test_reserialised_json_refused(verifier: WebhookVerifier, sign: Sign) -> None:
    """Parsing and re-serialising a body (as ``request.json()`` then ``json.dumps`` would) breaks it."""
    body, signature = sign(notification())
    reserialised = json.dumps(json.loads(body)).encode()  # same data, default separators
    assert reserialised != body
    with pytest.raises(WebhookSignatureError):
        await verifier.verify(reserialised, signature)


async def test_str_body_refused_with_a_hint(verifier: WebhookVerifier, sign: Sign) -> None:
    """A decoded str body is refused, even with a valid signature, and the message says what to pass."""
    body, signature = sign(notification())
    with pytest.raises(WebhookSignatureError, match=r"raw request bytes.*request\.read\(\)"):
        await verifier.verify(body.decode(), signature)  # type: ignore[arg-type]


async def test_parsed_dict_body_refused_with_a_hint(verifier: WebhookVerifier, sign: Sign) -> None:
    """Parsed JSON (a dict) is refused with a hint to verify before parsing."""
    body, signature = sign(notification())
    with pytest.raises(WebhookSignatureError, match="not dict: verify before parsing"):
        await verifier.verify(json.loads(body), signature)


async def test_non_str_sign_refused(verifier: WebhookVerifier, sign: Sign) -> None:
    """A sign passed as bytes is refused rather than silently coerced."""
    body, signature = sign(notification())
    with pytest.raises(WebhookSignatureError, match="must be a str"):
        await verifier.verify(body, signature.encode())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ rotation


@pytest.fixture
def rotating(platform_keys: KeyPair, next_platform_keys: KeyPair) -> WebhookVerifier:
    """A verifier that knows keyVersion 1 and 2 during PayerMax's key rotation."""
    return WebhookVerifier(
        {"1": platform_keys.public_key, "2": next_platform_keys.public_key}, merchant_no=MERCHANT_NO
    )


async def test_rotation_picks_the_key_by_key_version(
    rotating: WebhookVerifier, sign: Sign, next_platform_keys: KeyPair
) -> None:
    """Each body verifies with the key its keyVersion names, old and new alike."""
    old_body, old_sign = sign(notification(key_version="1"))
    new_sign = signer_for(RsaSigner(next_platform_keys.private_key))
    new_body, new_signature = new_sign(notification(key_version="2"))
    assert (await rotating.verify(old_body, old_sign)).key_version == "1"
    assert (await rotating.verify(new_body, new_signature)).key_version == "2"


async def test_rotation_refuses_a_signature_by_the_other_configured_key(
    rotating: WebhookVerifier, next_platform_keys: KeyPair
) -> None:
    """A body naming keyVersion 1 but signed with version 2's key is refused: only the named key counts."""
    body, signature = signer_for(RsaSigner(next_platform_keys.private_key))(
        notification(key_version="1")
    )
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await rotating.verify(body, signature)


async def test_rotation_refuses_an_unknown_key_version(
    rotating: WebhookVerifier, sign: Sign
) -> None:
    """A keyVersion with no configured key is refused before any RSA work."""
    body, signature = sign(notification(key_version="9"))
    with pytest.raises(WebhookSignatureError, match="no platform public key configured"):
        await rotating.verify(body, signature)


async def test_rotation_without_key_version_tries_each_key(
    rotating: WebhookVerifier, next_platform_keys: KeyPair
) -> None:
    """A body naming no keyVersion is accepted if any configured key verifies it."""
    body, signature = signer_for(RsaSigner(next_platform_keys.private_key))(
        notification(key_version=None)
    )
    assert (await rotating.verify(body, signature)).key_version is None


async def test_rotation_refuses_a_nested_key_version_that_differs_from_the_top_level(
    rotating: WebhookVerifier, next_platform_keys: KeyPair
) -> None:
    """If a nested "keyVersion" comes first and picks the key, the top-level one must still agree."""
    base = notification(key_version=None)
    nested = {**base.pop("data"), "keyVersion": "2"}
    document = {"data": nested, **base, "keyVersion": "1"}  # data serialised first
    body, signature = signer_for(RsaSigner(next_platform_keys.private_key))(document)
    assert body.index(b'"keyVersion":"2"') < body.index(b'"keyVersion":"1"')
    with pytest.raises(WebhookSignatureError, match="top-level keyVersion"):
        await rotating.verify(body, signature)


# ------------------------------------------------------------------------------- payload checks


async def test_size_cap_checked_before_any_rsa(
    platform_keys: KeyPair, sign: Sign, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An oversized body is refused without calling the RSA verifier, even when correctly signed."""
    calls: list[int] = []
    original = RsaVerifier.verify

    def spy(self: RsaVerifier, payload: bytes, signature: str, **kw: Any) -> None:
        calls.append(len(payload))
        original(self, payload, signature, **kw)

    monkeypatch.setattr(RsaVerifier, "verify", spy)
    body, signature = sign(notification(padding="x" * 600))
    small = WebhookVerifier(platform_keys.public_key, max_body_bytes=len(body) - 1)
    with pytest.raises(ValidationError, match="over the limit"):
        await small.verify(body, signature)
    assert calls == []
    exact = WebhookVerifier(platform_keys.public_key, max_body_bytes=len(body))
    await exact.verify(body, signature)
    assert calls == [len(body)]  # the spy does see verifications that reach RSA


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not well-formed JSON"),
        (b"\xff\xfe{}", "not well-formed JSON"),
        (b'["a list"]', "must be a JSON object"),
        (b'{"a": NaN}', "not well-formed JSON"),
        (b'{"notifyType":"PAYOUT","notifyType":"PAYOUT"}', "duplicate member name"),
        (b"[" * 60000 + b"]" * 60000, "nested too deeply|not well-formed"),
    ],
)
async def test_malformed_json_refused_after_signature(
    platform_keys: KeyPair, body: bytes, message: str
) -> None:
    """Signed but malformed bodies (bad JSON, not UTF-8, NaN, duplicate keys, deep nesting) are ValidationError."""
    signature = RsaSigner(platform_keys.private_key).sign_sync(body)
    verifier = WebhookVerifier(platform_keys.public_key, max_body_bytes=200_000)
    with pytest.raises(ValidationError, match=message):
        await verifier.verify(body, signature)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"notifyType": "PAYMENT"}, "notifyType"),
        ({"notifyType": None}, "notifyType"),
        ({"merchantNo": "999999999999999"}, "merchantNo"),
        ({"appId": "someone-elses-app"}, "appId"),
        ({"data": "not an object"}, "data"),
    ],
)
async def test_foreign_or_wrong_type_notification_refused(
    verifier: WebhookVerifier, sign: Sign, changes: dict[str, Any], field: str
) -> None:
    """A non-PAYOUT notification or one for another merchant/app is a ValidationError naming the field."""
    body, signature = sign(notification() | changes)
    with pytest.raises(ValidationError) as caught:
        await verifier.verify(body, signature)
    assert caught.value.field == field
    assert "999999999999999" not in str(caught.value)


async def test_missing_merchant_refused_when_configured(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """A notification without merchantNo is refused when the verifier expects one."""
    document = notification()
    del document["merchantNo"]
    body, signature = sign(document)
    with pytest.raises(ValidationError, match="merchantNo is missing"):
        await verifier.verify(body, signature)


@pytest.mark.parametrize(
    ("data_changes", "message"),
    [
        ({"outTradeNo": ""}, "outTradeNo is missing"),
        ({"status": "REFUNDED"}, "malformed"),
        ({"trade": {"amount": "abc", "currency": "IDR"}}, "amount"),
    ],
)
async def test_malformed_data_refused(
    verifier: WebhookVerifier, sign: Sign, data_changes: dict[str, Any], message: str
) -> None:
    """An empty outTradeNo, an unknown status or a non-numeric amount is a ValidationError."""
    document = notification()
    document["data"] |= data_changes
    body, signature = sign(document)
    with pytest.raises(ValidationError, match=message):
        await verifier.verify(body, signature)


async def test_signature_checked_before_json(verifier: WebhookVerifier) -> None:
    """Unsigned garbage gets a signature error, never a parse error: nothing is parsed unverified."""
    with pytest.raises(WebhookSignatureError):
        await verifier.verify(b"not json at all", base64.b64encode(b"x" * 256).decode())


# -------------------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("not a key", {}),
        ({}, {}),
        ({"1": "garbage"}, {}),
        (None, {"max_body_bytes": 0}),
        (None, {"max_body_bytes": True}),
        (None, {"merchant_no": ""}),
        (None, {"app_id": 123}),
    ],
)
def test_constructor_validates_eagerly(
    platform_keys: KeyPair, key: object, kwargs: dict[str, Any]
) -> None:
    """Bad keys and bad options raise ConfigurationError at construction, not at first use."""
    with pytest.raises(ConfigurationError):
        WebhookVerifier(platform_keys.public_key if key is None else key, **kwargs)  # type: ignore[arg-type]


async def test_from_config_checks_merchant_and_app(config: PayerMaxConfig, sign: Sign) -> None:
    """from_config uses the config's platform key and refuses other merchants and apps."""
    verifier = WebhookVerifier.from_config(config, max_body_bytes=4096)
    assert verifier.max_body_bytes == 4096
    body, signature = sign(notification())
    assert (await verifier.verify(body, signature)).merchant_no == config.merchant_no
    body, signature = sign(notification(appId="another-app"))
    with pytest.raises(ValidationError, match="appId"):
        await verifier.verify(body, signature)


def test_repr_shows_no_key_material(platform_keys: KeyPair) -> None:
    """The verifier's repr names no key bytes."""
    text = repr(WebhookVerifier(platform_keys.public_key))
    assert platform_keys.public_key[40:60] not in text
    assert "max_body_bytes=65536" in text


# ---------------------------------------------------------------------------------------- verify_file


def test_verify_file_reads_raw_bytes(tmp_path: Path, verifier: WebhookVerifier, sign: Sign) -> None:
    """verify_file (what the CLI runs) verifies the exact bytes saved in a file."""
    body, signature = sign(notification())
    path = tmp_path / "notification.json"
    path.write_bytes(body)
    assert verify_file(verifier, path, signature).data.out_trade_no == "PO20261129000001"
    path.write_bytes(body + b"\n")  # an editor's trailing newline is a different body
    with pytest.raises(WebhookSignatureError):
        verify_file(verifier, path, signature)


def test_verify_file_caps_the_read(tmp_path: Path, platform_keys: KeyPair) -> None:
    """verify_file refuses a file over the cap and a missing file with ValidationError."""
    verifier = WebhookVerifier(platform_keys.public_key, max_body_bytes=10)
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 1000)
    with pytest.raises(ValidationError, match="over the limit"):
        verify_file(verifier, path, "c2lnbg==")
    with pytest.raises(ValidationError, match="cannot read"):
        verify_file(verifier, tmp_path / "absent.json", "c2lnbg==")

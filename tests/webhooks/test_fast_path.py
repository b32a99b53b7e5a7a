"""The quick way a notification is built gives what the strict, general path gives, on hostile bodies too.

``WebhookVerifier`` builds the model directly for a plain document and hands anything unusual to the
cattrs converter. These tests verify each body twice, once as shipped and once with the converter
forced, and require the same notification or the same error (type and message); bodies with a
repeated member name at any depth must be refused on both.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import payermax_async.webhooks.verifier as verifier_module
from payermax_async import (
    PayerMaxError,
    RsaSigner,
    ValidationError,
    WebhookVerifier,
    generate_keypair,
)
from payermax_async.models import PayoutNotification
from payermax_async.models._fast import _builder
from payermax_async.models.values import _parse_general, parse_time
from payermax_async.models.wire import structure
from tests.support.fuzz import budget, hostile_text
from tests.support.webhooks import APP_ID, MERCHANT_NO, notification


@pytest.fixture(scope="module")
def keys() -> tuple[WebhookVerifier, RsaSigner]:
    """A verifier and PayerMax's signer for it."""
    pair = generate_keypair()
    verifier = WebhookVerifier(pair.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)
    return verifier, RsaSigner(pair.private_key)


def _outcome(verifier: WebhookVerifier, body: bytes, sign: str) -> tuple[str, Any]:
    try:
        return "ok", verifier.verify_sync(body, sign)
    except PayerMaxError as exc:
        return type(exc).__name__, str(exc)


def _both(
    keys: tuple[WebhookVerifier, RsaSigner], body: bytes, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    verifier, signer = keys
    sign = signer.sign_sync(body)
    quick = _outcome(verifier, body, sign)
    with monkeypatch.context() as patch:
        # The strict path: every document through the cattrs converter.
        patch.setattr(verifier_module, "structure_fast", structure)
        strict = _outcome(verifier, body, sign)
    return quick, strict


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    hostile_text,
    st.sampled_from(
        ["", "0", "150000", "-1", "1e3", "NaN", "Infinity", " 12.50 ", "SUCCESS", "1_0"]
    ),
    st.sampled_from(
        [
            "2026-11-29T04:05:00.000+00:00",
            "2026-02-30T04:05:00.000+00:00",
            "2026-11-29T24:05:00.000+00:00",
            "2026-11-29T04:05:00+05:30",
            "2026-11-29T04:05:00.123456-23:59",
            "2026-11-29 04:05:00",
            "2026-11-29T04:05:00Z",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
_DATA_FIELDS = [
    "outTradeNo",
    "status",
    "subStatus",
    "tradeNo",
    "trade",
    "source",
    "destination",
    "expiryTime",
    "additionalIdentifier",
    "payFinishTime",
    "unknownNewField",
]
_MONEY_FIELDS = ["amount", "currency", "fee", "exchangeRate", "tax", "extraThing"]
_TOP_FIELDS = ["notifyTime", "msg", "keyVersion", "code", "appId", "merchantNo", "data"]


def _document(data: dict[str, Any], source: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    document = notification()
    document["data"] = document["data"] | data
    if source:
        document["data"]["source"] = {"amount": "1", "currency": "IDR"} | source
    return document | top


@budget(200)
@given(
    st.dictionaries(st.sampled_from(_DATA_FIELDS), _values, max_size=3),
    st.dictionaries(st.sampled_from(_MONEY_FIELDS), _values, max_size=3),
    st.dictionaries(st.sampled_from(_TOP_FIELDS), _values, max_size=2),
    st.sampled_from(["", "bom", "latin-1", "utf-16", "deep", "nan", "big int", "exponent"]),
)
def test_the_quick_path_gives_the_strict_paths_verdict_and_notification(
    keys: tuple[WebhookVerifier, RsaSigner],
    monkeypatch: pytest.MonkeyPatch,
    data: dict[str, Any],
    source: dict[str, Any],
    top: dict[str, Any],
    twist: str,
) -> None:
    """Hostile but correctly signed bodies: the same notification, or the same error and message."""
    body = json.dumps(_document(data, source, top), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    if twist == "bom":
        body = b"\xef\xbb\xbf" + body
    elif twist == "latin-1":
        body = body.replace(b'"IDR"', b'"ID\xe9"', 1)
    elif twist == "utf-16":
        body = body.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    elif twist == "deep":
        body = body[:-1] + b',"x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    elif twist == "nan":
        body = body.replace(b'"150000"', b"NaN", 1)
    elif twist == "big int":
        body = body.replace(b'"150000"', b"9" * 5000, 1)
    elif twist == "exponent":
        body = body.replace(b'"150000"', b"1.5e999999", 1)
    quick, strict = _both(keys, body, monkeypatch)
    assert quick == strict


def _with_duplicate(document: dict[str, Any], path: list[str], key: str) -> bytes:
    """The document's JSON with ``key`` written twice in the object at ``path`` (a last-wins parse
    would see only the second value)."""
    text = json.dumps(document, separators=(",", ":"))
    target = document
    for step in path:
        target = target[step]
    marker = json.dumps({key: target[key]}, separators=(",", ":"))[1:-1]
    inner = json.dumps(target, separators=(",", ":"))
    doubled = inner[:-1] + "," + marker.replace(json.dumps(target[key]), '"FORGED"', 1) + "}"
    return text.replace(inner, doubled, 1).encode()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ([], "notifyType"),
        ([], "merchantNo"),
        (["data"], "status"),
        (["data"], "outTradeNo"),
        (["data", "trade"], "amount"),
        (["data", "source"], "fee"),
        (["data", "source", "deeper"], "x"),
    ],
)
def test_a_repeated_member_name_is_refused_at_any_depth(
    keys: tuple[WebhookVerifier, RsaSigner],
    monkeypatch: pytest.MonkeyPatch,
    path: list[str],
    key: str,
) -> None:
    """``{"status":"SUCCESS","status":"FORGED"}`` has no one meaning: both paths refuse it."""
    document = notification()
    document["data"]["source"] = {"amount": "1", "fee": "2", "deeper": {"x": 1}}
    body = _with_duplicate(document, path, key)
    quick, strict = _both(keys, body, monkeypatch)
    assert quick == strict == ("ValidationError", "notification body has a duplicate member name")


def test_a_plain_notification_takes_the_quick_path_and_equals_the_converters() -> None:
    """The builder is generated for the model (a silent fallback would hide a slow path)."""
    document = notification()
    document["data"] |= {
        "source": {"amount": "150000", "currency": "IDR", "fee": "2500", "feeCurrency": "IDR"},
        "createTime": "2026-11-29T04:04:58.001+00:00",
    }
    built = _builder(PayoutNotification)(document)
    assert built == structure(document, PayoutNotification, what="notification")
    assert built.data.extra == {"createTime": "2026-11-29T04:04:58.001+00:00"}


def test_the_quick_path_never_accepts_what_the_converter_refuses() -> None:
    """A non-finite amount in an exact string is refused with the converter's message."""
    document = notification(amount="Infinity")
    with pytest.raises(ValidationError) as quick:
        verifier_module.structure_fast(document, PayoutNotification, what="notification")
    with pytest.raises(ValidationError) as strict:
        structure(document, PayoutNotification, what="notification")
    assert str(quick.value) == str(strict.value)


_two = st.integers(0, 99).map(lambda n: f"{n:02d}")
_iso_like = st.builds(
    "{}-{}-{}T{}:{}:{}{}{}{}:{}".format,
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    _two,
    _two,
    _two,
    _two,
    _two,
    st.sampled_from(["", ".123", ".123456", ".1", ".1234567"]),
    st.sampled_from(["+", "-"]),
    _two,
    _two,
)


@budget(300)
@given(st.one_of(_iso_like, _iso_like.map(lambda s: f" {s}\n")))
def test_parse_time_reads_the_usual_spelling_as_the_general_parser_does(text: str) -> None:
    """datetime.fromisoformat is used only where it agrees with the general parser, offsets too."""
    quick = parse_time(text)
    general = _parse_general(text.strip())
    assert quick == general
    if isinstance(quick, datetime) and isinstance(general, datetime):
        assert quick.utcoffset() == general.utcoffset()

"""The prebuilt JSON encoder and the direct scanner give exactly what ``json`` gives, errors included,
and the places that use them keep their contracts (a fingerprint, a request body, a strict read)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payermax_async._fastjson import compact_encoder, scanner
from payermax_async.errors import ValidationError
from payermax_async.pipeline.chain import Call
from payermax_async.protocol.envelope import encode_data
from payermax_async.protocol.strict_json import read_json

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_json_values)
def test_the_encoder_writes_what_json_encoder_writes(value: Any) -> None:
    for sort_keys in (False, True):
        for ensure_ascii in (False, True):
            standard = json.JSONEncoder(
                separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=ensure_ascii
            )
            fast = compact_encoder(sort_keys=sort_keys, ensure_ascii=ensure_ascii)
            assert fast(value) == standard.encode(value)


@given(_json_values, st.sampled_from(["", " ", "\n\t "]), st.sampled_from(["", " ", "\r\n"]))
def test_the_scanner_reads_what_json_loads_reads(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value) + after
    assert scanner(json.JSONDecoder())(text) == json.loads(text)


@pytest.mark.parametrize(
    "text", ["", " ", "{", '{"a":1}x', '{"a":1} {}', "[1,]", '{"a":NaN', "nul", '"\\x"']
)
def test_the_scanner_fails_as_json_loads_fails(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as standard:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as fast:
        scanner(json.JSONDecoder())(text)
    assert (fast.value.msg, fast.value.pos) == (standard.value.msg, standard.value.pos)


def test_default_and_allow_nan_are_honoured() -> None:
    encode = compact_encoder(allow_nan=False, default=lambda value: format(value, "f"))
    assert encode({"amount": Decimal("1.50")}) == '{"amount":"1.50"}'
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode({"x": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_encoder()({"x": object()})


def test_request_data_that_contains_itself_is_refused_not_a_crash() -> None:
    data: dict[str, object] = {"outTradeNo": "A1"}
    data["self"] = data
    with pytest.raises(ValidationError, match="contains itself"):
        encode_data(data)
    with pytest.raises(ValidationError, match="contains itself"):
        Call.build("paymentOrderPay", data)


def test_under_a_raised_recursion_limit_a_cycle_is_still_refused_not_a_crash() -> None:
    """Above a limit the C stack may not take, request data goes through the encoder that looks for
    cycles instead of recursing into one."""
    data: dict[str, object] = {"outTradeNo": "A1"}
    data["self"] = data
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        with pytest.raises(ValidationError, match="Circular reference"):
            encode_data(data)
        assert encode_data({"a": ["é", None]}) == '{"a":["é",null]}'.encode()
    finally:
        sys.setrecursionlimit(limit)


def test_an_encoding_failure_leaves_the_encoder_usable() -> None:
    with pytest.raises(ValidationError):
        encode_data({"a": [{"b": object()}]})
    shared = {"b": 1}
    # The same object twice is not a cycle (the encoder keeps no markers across calls).
    assert encode_data({"x": shared, "y": [shared]}) == b'{"x":{"b":1},"y":[{"b":1}]}'


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a":1}', {"a": 1}),
        (b' {"a":1.5} ', {"a": Decimal("1.5")}),
        ('{"a":"é"}'.encode("utf-16"), {"a": "é"}),
        ('{"a":"é"}'.encode("utf-16-le"), {"a": "é"}),
        ('{"a":"é"}'.encode("utf-32"), {"a": "é"}),
        (b'\xef\xbb\xbf{"a":2}', {"a": 2}),
    ],
)
def test_the_strict_reader_detects_encodings_and_whitespace_as_before(
    raw: bytes, expected: object
) -> None:
    assert read_json(raw, what="body") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate member name"),
        (b'{"a":NaN}', "non-standard constant"),
        (b'{"a":1}x', "not well-formed"),
        (b"{", "not well-formed"),
        (b"{\xff}", "not well-formed"),
    ],
)
def test_the_strict_reader_refuses_as_before(raw: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        read_json(raw, what="body")

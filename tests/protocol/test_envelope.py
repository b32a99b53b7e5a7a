"""Request envelope bytes, requestTime, and response envelope parsing."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from payermax_async.errors import InvalidResponseError, ValidationError
from payermax_async.middleware.signing import SigningMiddleware
from payermax_async.pipeline import Call, Reply
from payermax_async.protocol.envelope import (
    EnvelopeWriter,
    encode_data,
    format_request_time,
    parse_response,
)
from payermax_async.signing import RsaSigner, RsaVerifier

VECTOR_TIME = datetime(2026, 11, 29, 4, 0, tzinfo=timezone.utc)


def _request_cases(vectors: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(case["body"]) | {"_raw": case["body"].encode("utf-8"), "_sign": case["sign"]}
        for case in vectors["cases"]
        if '"requestTime"' in case["body"]
    ]


def test_writer_reproduces_the_vector_request_bodies(vectors: dict[str, Any]) -> None:
    """EnvelopeWriter at the vectors' time rebuilds each signed request body byte for byte."""
    cases = _request_cases(vectors)
    assert len(cases) >= 2
    for case in cases:
        writer = EnvelopeWriter(app_id=case["appId"], merchant_no=case["merchantNo"])
        body = writer.body(encode_data(case["data"]), request_time=VECTOR_TIME)
        assert body == case["_raw"]


def test_writer_output_carries_the_java_signature(vectors: dict[str, Any]) -> None:
    """Signing the rebuilt body gives the Java SDK's signature (non-ASCII text included)."""
    signer = RsaSigner(vectors["private_key_pkcs8_base64"])
    for case in _request_cases(vectors):
        writer = EnvelopeWriter(
            app_id=case["appId"], merchant_no=case["merchantNo"], clock=lambda: VECTOR_TIME
        )
        assert signer.sign_sync(writer.body(encode_data(case["data"]))) == case["_sign"]


def test_request_time_format() -> None:
    """requestTime is RFC 3339 with milliseconds and an offset, e.g. 2026-11-29T04:00:00.000+00:00."""
    assert format_request_time(VECTOR_TIME) == "2026-11-29T04:00:00.000+00:00"
    assert format_request_time(datetime(2026, 1, 2, 3, 4, 5, 678_999)) == (
        "2026-01-02T03:04:05.678+00:00"
    )
    east = timezone(timedelta(hours=8))
    assert format_request_time(datetime(2023, 3, 8, 10, 0, 0, 500_000, tzinfo=east)) == (
        "2023-03-08T10:00:00.500+08:00"
    )


def test_encode_data_keeps_order_and_non_ascii() -> None:
    """data is compact UTF-8 JSON, keys in the caller's order, non-ASCII not escaped."""
    data = {"z": "José 王", "a": {"y": "", "b": "1"}, "payeeType ": "PERSONAL"}
    assert (
        encode_data(data) == '{"z":"José 王","a":{"y":"","b":"1"},"payeeType ":"PERSONAL"}'.encode()
    )


def test_encode_data_sends_decimals_as_strings() -> None:
    """A Decimal in a mapping goes out as its plain decimal string, never a float."""
    assert encode_data({"amount": Decimal("1.50")}) == b'{"amount":"1.50"}'
    assert encode_data({"amount": Decimal("1E+2")}) == b'{"amount":"100"}'


@pytest.mark.parametrize("value", [float("nan"), object(), {1, 2}])
def test_encode_data_refuses_what_json_cannot_carry(value: object) -> None:
    """NaN, sets and arbitrary objects are a ValidationError, not a TypeError."""
    with pytest.raises(ValidationError):
        encode_data({"x": value})


async def test_fresh_request_time_per_attempt(vectors: dict[str, Any]) -> None:
    """Each pass through SigningMiddleware takes a new time from the clock and re-signs."""
    times = iter([VECTOR_TIME, VECTOR_TIME + timedelta(seconds=90, milliseconds=250)])
    writer = EnvelopeWriter(app_id="a", merchant_no="m", clock=lambda: next(times))
    middleware = SigningMiddleware(RsaSigner(vectors["private_key_pkcs8_base64"]), writer)
    seen: list[Call] = []

    async def terminal(call: Call) -> Reply:
        seen.append(call)
        return Reply(
            api=call.api, code="APPLY_SUCCESS", msg="", data=None, http_status=200, raw=b""
        )

    call = Call.build("paymentOrderPay", {"outTradeNo": "X1"})
    await middleware(call, terminal)
    await middleware(call, terminal)
    first, second = (json.loads(c.body or b"") for c in seen)
    assert first["requestTime"] == "2026-11-29T04:00:00.000+00:00"
    assert second["requestTime"] == "2026-11-29T04:01:30.250+00:00"
    assert first["data"] == second["data"] == {"outTradeNo": "X1"}
    verifier = RsaVerifier(vectors["public_key_spki_base64"])
    for sent in seen:
        assert sent.body is not None
        verifier.verify(sent.body, sent.headers["sign"])
    assert seen[0].headers["sign"] != seen[1].headers["sign"]
    assert call.body is None  # the original call was not mutated


def test_envelope_field_order_and_versions() -> None:
    """The envelope is version, keyVersion, requestTime, appId, merchantNo, data, as configured."""
    writer = EnvelopeWriter(app_id="app", merchant_no="mno", version="1.5", key_version="2")
    body = json.loads(writer.body(b"{}", request_time=VECTOR_TIME))
    assert list(body) == ["version", "keyVersion", "requestTime", "appId", "merchantNo", "data"]
    assert (body["version"], body["keyVersion"], body["appId"]) == ("1.5", "2", "app")


# ---------------------------------------------------------------------------- response parsing


def test_parse_response_reads_the_envelope() -> None:
    """code, msg and data come out of a well-formed answer; a missing data is None."""
    envelope = parse_response(
        b'{"code":"APPLY_SUCCESS","msg":"Success.","data":{"a":"1"}}', http_status=200
    )
    assert (envelope.code, envelope.msg, envelope.data) == ("APPLY_SUCCESS", "Success.", {"a": "1"})
    error = parse_response(
        b'{"msg":"The targetOrg is incorrect.","code":"PARAMS_INVALID"}', http_status=200
    )
    assert (error.code, error.data) == ("PARAMS_INVALID", None)


@pytest.mark.parametrize(
    "raw",
    [
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b'{"code":"APPLY_SUCCESS","msg":"Succ',
        b'[{"code":"APPLY_SUCCESS"}]',
        b'"APPLY_SUCCESS"',
        b"",
        b"\xff\xfe\x00garbage",
        b'{"code":5,"msg":"x"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["html", "truncated", "array", "string", "empty", "binary", "code-not-str", "deep"],
)
def test_parse_response_refuses_non_envelopes(raw: bytes) -> None:
    """HTML, truncated, array, binary and absurdly nested bodies raise InvalidResponseError."""
    with pytest.raises(InvalidResponseError) as info:
        parse_response(raw, http_status=200, content_type="text/html")
    assert info.value.http_status == 200
    assert info.value.maybe_sent is True
    assert not isinstance(info.value, json.JSONDecodeError)


def test_parse_response_message_does_not_quote_the_body() -> None:
    """The error describes the body (status, type, size) without quoting it."""
    with pytest.raises(InvalidResponseError) as info:
        parse_response(b"<html>secret-account-0812323233332</html>", http_status=502)
    assert "0812323233332" not in str(info.value)
    assert "502" in str(info.value)


@pytest.mark.parametrize(
    "now_ns",
    [
        1_764_662_400_000_000_000,  # a second's first instant
        1_764_662_400_999_999_999,  # the last nanosecond of a second: millisecond 999
        1_764_662_401_000_999_999,  # floored to microsecond 000999: millisecond 000
        1_764_662_401_250_000_000,
        1_767_225_599_500_400_000,  # the last second of a year
    ],
)
def test_the_default_clock_writes_what_format_request_time_writes(
    now_ns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default clock's quicker stamp is format_request_time() of the same instant exactly
    (floored to the microsecond, as datetime.now() floors the clock), across second boundaries:
    it caches the part up to the second."""
    writer = EnvelopeWriter(app_id="a", merchant_no="m")
    monkeypatch.setattr(time, "time_ns", lambda: now_ns - 1_000_000_000)
    writer.body(b"{}")  # caches the second before
    monkeypatch.setattr(time, "time_ns", lambda: now_ns)
    stamp = json.loads(writer.body(b"{}"))["requestTime"]
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=now_ns // 1000)
    assert stamp == format_request_time(moment)

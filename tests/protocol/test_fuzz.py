"""Fuzzing the request checks and the response parser (issue 12): whatever the data, the only
exceptions are the SDK's typed ones, and data the checks accept can always be serialised.

A short fixed budget runs in CI; PAYERMAX_FUZZ_EXAMPLES=20000 runs a long one (docs/bad-input.md).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from payermax_async.errors import InvalidResponseError, ValidationError
from payermax_async.pipeline import Call
from payermax_async.protocol import rules
from payermax_async.protocol.envelope import parse_response
from payermax_async.protocol.rules import check_validation_data
from payermax_async.protocol.shape import MAX_DATA_BYTES, MAX_DEPTH
from payermax_async.resources.inputs import payout_data
from tests.support.fuzz import HOSTILE, budget, hostile_payouts
from tests.support.payloads import payout


def _checked_or_refused(data: Any) -> None:
    """Either ValidationError, or checks that pass and bytes that serialise and parse back."""
    try:
        checked, number = payout_data(data)
    except ValidationError:
        return  # typed, and raised before anything was signed
    call = Call.build("paymentOrderPay", checked, idempotency_key=number)
    assert json.loads(call.data_json)["outTradeNo"] == number


@budget(400)
@given(hostile_payouts())
@example({"outTradeNo": "F1", "remark": "\ud800"})
@example({"outTradeNo": "F1", "x": {"\ud800": [float("nan")]}})
def test_hostile_payouts_are_refused_with_validation_error_or_are_sendable(data: Any) -> None:
    """A valid payout with values replaced by hostile ones: ValidationError, or sendable bytes."""
    _checked_or_refused(data)


@budget(300)
@given(st.dictionaries(st.text(max_size=8), HOSTILE, max_size=6))
def test_arbitrary_mappings_only_raise_validation_error(data: dict[str, Any]) -> None:
    """Arbitrary JSON-ish mappings, for a payout and for a field validation."""
    _checked_or_refused(data)
    with pytest.raises(ValidationError):
        check_validation_data(data | {"country": 5})


_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"code": st.text(max_size=8)}, optional={"data": _json, "msg": _json}
    ).map(lambda doc: json.dumps(doc).encode()),
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from([b'{"code":"\\ud800"}', b'{"code":"X","data":1e999}', b"9" * 5000]),
)


@budget(400)
@given(_bodies, st.integers(100, 599))
def test_the_response_parser_raises_only_invalid_response_error(body: bytes, status: int) -> None:
    """Any bytes with any HTTP status parse as an envelope or raise InvalidResponseError."""
    with contextlib.suppress(InvalidResponseError):
        parse_response(body, http_status=status, content_type="application/json")


def _verdict(data: Any) -> object:
    """What check_payout_data says: the outTradeNo, or the refusal's field and message."""
    try:
        return rules.check_payout_data(data)
    except ValidationError as refused:
        return (refused.field, str(refused))


@budget(400)
@given(
    st.one_of(
        hostile_payouts(),
        st.builds(
            payout,
            st.from_regex(r"[A-Za-z0-9_]{1,63}", fullmatch=True),
            st.sampled_from(["10", "10.5", "0.001", "150000", "0", "1e3"]),
        ),
    )
)
def test_the_one_pass_check_agrees_with_the_full_checks(data: Any) -> None:
    """The one-pass path for plain requests gives the verdict the full checks give, on every input."""
    one_pass = _verdict(data)
    with patch.object(rules, "_plain", return_value=False):
        assert _verdict(data) == one_pass


def test_no_request_the_one_pass_check_accepts_can_break_the_shape_limits() -> None:
    """Every field at its limit, four bytes a character: still under the size and depth limits."""
    size, depth = rules._worst_case(rules.PAYOUT_SPEC)
    assert size < MAX_DATA_BYTES
    assert depth < MAX_DEPTH

"""Property tests: local validation of arbitrary JSON-ish data only ever raises ValidationError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from payermax_async.errors import ValidationError
from payermax_async.models.wire import parse_time
from payermax_async.pipeline import Call
from payermax_async.protocol.rules import check_payout_data, check_validation_data
from payermax_async.resources.payouts import payout_data
from tests.support.mock_gateway import valid_payout

KEYS = [
    "outTradeNo",
    "country",
    "trade",
    "amount",
    "currency",
    "payeeInfo",
    "paymentMethodType",
    "accountInfo",
    "accountNo",
    "name",
    "fullName",
    "email",
    "birthDate",
    "notifyUrl",
    "notifyEmail",
    "clearingRail",
    "sourceAccount",
    "document",
    "documentIssueDate",
    "payerInfo",
    "riskParams",
    "payeeType ",
]
TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["ID", "IDR", "BHD", "1.234", "0", "-1", "1e5", "١٠٠", "http://[::1", "ftp://x", "a@b.c"]
    ),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=6
        ),
    ),
    max_leaves=25,
)
MAPPINGS = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), JSONISH, max_size=8
)


def _only_validation_errors(data: Any) -> None:
    try:
        checked, _ = payout_data(data)
        Call.build("paymentOrderPay", checked)
    except ValidationError:
        pass
    with contextlib.suppress(ValidationError):
        check_validation_data(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MAPPINGS)
def test_arbitrary_mappings_pass_or_raise_validation_error(data: dict[str, Any]) -> None:
    """Any JSON-ish mapping either passes local validation or raises ValidationError."""
    _only_validation_errors(data)


@st.composite
def _mutated_payouts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid payout with one value somewhere in it replaced by arbitrary JSON-ish data."""
    data = valid_payout()
    paths = [
        ("outTradeNo",),
        ("country",),
        ("trade",),
        ("trade", "amount"),
        ("trade", "currency"),
        ("payeeInfo",),
        ("payeeInfo", "paymentMethodType"),
        ("payeeInfo", "accountInfo"),
        ("payeeInfo", "accountInfo", "accountNo"),
        ("payeeInfo", "name"),
        ("payeeInfo", "email"),
        ("payeeInfo", "birthDate"),
        ("notifyUrl",),
        ("notifyEmail",),
        ("riskParams",),
    ]
    path = draw(st.sampled_from(paths))
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    values = JSONISH
    if path == ("notifyUrl",):
        values = st.one_of(
            JSONISH, st.from_regex(r"(https?|ftp)://\[?[0-9a-f:.]{0,8}\]?/?", fullmatch=True)
        )
    node[path[-1]] = draw(values)
    return data


@settings(max_examples=300, deadline=None)
@given(_mutated_payouts())
@example(valid_payout() | {"notifyUrl": "http://[::1"})  # once a bare ValueError from urlsplit
@example(valid_payout() | {"trade": {"amount": "١٠٠", "currency": "IDR"}})
@example(valid_payout() | {"notifyUrl": ["http://x"]})
def test_mutated_valid_payouts_pass_or_raise_validation_error(data: dict[str, Any]) -> None:
    """A valid payout with one field replaced by anything passes or raises ValidationError."""
    _only_validation_errors(data)
    error: ValidationError | None = None
    try:
        out_trade_no = check_payout_data(data)
    except ValidationError as exc:
        error = exc
    if error is None:
        assert out_trade_no == data["outTradeNo"]
    else:
        assert error.field is None or isinstance(error.field, str)


@given(st.text(max_size=40))
def test_parse_time_never_raises(text: str) -> None:
    """parse_time returns a datetime or None for any text."""
    parse_time(text)

"""The plain-dict fast path of the request checks reports exactly what the spec-order walk does."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

import pytest

from payermax_async.errors import ValidationError
from payermax_async.protocol.rules import check_payout_data
from tests.support.mock_gateway import valid_payout


def _first_error(data: Any) -> str | None:
    try:
        check_payout_data(data)
    except ValidationError as exc:
        return exc.field
    return None


def test_first_failure_is_named_in_spec_order_whatever_the_key_order() -> None:
    """Two bad fields, the later-in-spec one first in the dict: the spec's first one is reported."""
    data = valid_payout()
    country = data.pop("country")
    assert isinstance(country, str)
    reordered = {"reference": "x" * 256, **data, "country": country + "X"}
    assert _first_error(reordered) == "country"


def test_nested_failure_matches_a_non_dict_mapping() -> None:
    """A too-long nested field fails the same way in a dict and in another Mapping type."""
    data = valid_payout()
    data["payeeInfo"] = {**data["payeeInfo"], "email": "a" * 65 + "@x.io"}
    as_dict = _first_error(data)
    as_mapping = _first_error(OrderedDict(data))
    assert as_dict == as_mapping == "payeeInfo.email"


@pytest.mark.parametrize("amount", [Decimal("10.50"), "10.50"])
def test_decimal_or_string_amount_is_accepted(amount: object) -> None:
    """A Decimal amount (not a str) leaves the fast path and is still accepted by the walk."""
    data = valid_payout()
    data["trade"] = {**data["trade"], "amount": amount, "currency": "USD"}
    assert _first_error(data) is None

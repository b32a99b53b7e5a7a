"""Trade amounts (issue 12): the model keeps the text it was given, refuses what a mapping refuses,
and writes a Decimal out once, plainly, after checking that it fits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payermax_async import PayoutRequest, ValidationError
from payermax_async.models import Trade
from payermax_async.models.wire import structure, unstructure
from payermax_async.protocol.amounts import plain_length
from payermax_async.protocol.rules import check_payout_data
from tests.support.fuzz import budget
from tests.support.mock_gateway import valid_payout

REFUSED_TEXTS = [
    "1e3",
    "1E3",
    "1_000",
    " 2000 ",
    "2000 ",
    "١٠٠٠",
    "１０００",
    "+5",
    "-5",
    "0",
    "0.00",
]
REFUSED_TEXTS += ["1.", ".5", "1,000", "", "NaN", "Infinity", "1E+999999999", "1234567890123"]


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_a_model_refuses_exactly_the_texts_a_mapping_refuses(text: str) -> None:
    """Each text refused in a mapping's trade.amount is refused by Trade(), naming trade.amount."""
    with pytest.raises(ValidationError) as mapping_error:
        check_payout_data(valid_payout() | {"trade": {"amount": text, "currency": "USD"}})
    with pytest.raises(ValidationError) as model_error:
        Trade(amount=text, currency="USD")
    assert mapping_error.value.field == model_error.value.field == "trade.amount"


@pytest.mark.parametrize("text", ["0012.50", "12.50", "12.5", "007", "150000", "0.01"])
def test_accepted_texts_go_out_exactly_as_written(text: str) -> None:
    """An accepted text goes out unchanged ("0012.50"); trade.amount is its Decimal value."""
    trade = Trade(amount=text, currency="USD")
    assert trade.amount == Decimal(text)
    assert isinstance(trade.amount, Decimal)
    assert trade.amount_text == text
    assert unstructure(trade) == {"amount": text, "currency": "USD"}
    check_payout_data(valid_payout() | {"trade": {"amount": text, "currency": "USD"}})


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (Decimal("150000"), "150000"),
        (Decimal("1E+3"), "1000"),
        (Decimal("12.50"), "12.50"),
        (Decimal("0.10"), "0.10"),
        (150000, "150000"),
    ],
)
def test_decimals_and_ints_are_written_out_once_plainly(value: Decimal | int, sent: str) -> None:
    """A Decimal (or int) goes out as format(d, "f"), never in exponent form."""
    assert Trade(amount=value, currency="USD").amount_text == sent


@pytest.mark.parametrize(
    "value",
    [Decimal("1E+999999999"), Decimal("1E+13"), Decimal("1E-999999999"), 10**400, -(10**400)],
)
def test_oversized_numbers_fail_on_their_length_before_being_written_out(value: object) -> None:
    """A number whose plain form exceeds 12 characters is refused on that length, never written."""
    with pytest.raises(ValidationError, match="longer than 12 characters") as info:
        Trade(amount=value, currency="USD")  # type: ignore[arg-type]
    assert info.value.field == "trade.amount"


@pytest.mark.parametrize("value", [1.5, True, None, b"10", Decimal("NaN"), Decimal("-Infinity")])
def test_other_amount_types_are_refused(value: object) -> None:
    """Floats, bools, None, bytes and non-finite Decimals are refused as trade.amount."""
    with pytest.raises(ValidationError) as info:
        Trade(amount=value, currency="USD")  # type: ignore[arg-type]
    assert info.value.field == "trade.amount"


def test_a_structured_request_keeps_the_wire_text_and_names_a_bad_amount() -> None:
    """Structuring a wire request keeps "0012.50"; a refused amount names trade.amount."""
    wire = valid_payout() | {"trade": {"amount": "0012.50", "currency": "USD"}}
    model = structure(wire, PayoutRequest, what="payout")
    assert unstructure(model)["trade"] == {"amount": "0012.50", "currency": "USD"}
    with pytest.raises(ValidationError, match=r"trade\.amount"):
        structure(
            wire | {"trade": {"amount": "1e3", "currency": "USD"}},
            PayoutRequest,
            what="payout",
        )


@budget(300)
@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d.adjusted()) < 200
    )
)
def test_plain_length_is_the_length_of_the_plain_form(value: Decimal) -> None:
    """plain_length() predicts len(format(d, "f")) for any finite Decimal it is asked about."""
    assert plain_length(value) == len(format(value, "f"))

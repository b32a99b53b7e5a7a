"""``trade.amount``: the one rule every request path applies to the amount text.

PayerMax takes the amount as a decimal **string** of ASCII digits, at most 12 characters, in the
currency's precision (docs/protocol.md §5). A mapping request carries that text itself; a model carries
the text the caller gave (``Trade(amount="0012.50")`` sends ``0012.50``) or, for a ``Decimal``, its
plain decimal form written once (``format(d, "f")``). Both paths then pass the same text through
:func:`check_amount_text`, so they accept exactly the same amounts.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..errors import ValidationError

__all__ = [
    "AMOUNT_FIELD",
    "MAX_AMOUNT_LENGTH",
    "amount_text",
    "check_amount_text",
    "decimals_of",
    "plain_length",
]

AMOUNT_FIELD = "trade.amount"
#: The OpenAPI maxLength of ``trade.amount``.
MAX_AMOUNT_LENGTH = 12
# ASCII digits only: \d also matches "١٠٠" or "１００", which Decimal() accepts but PayerMax does not.
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")


def _fail(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field} {problem}", field=field)


def plain_length(value: Decimal) -> int:
    """The length of ``format(value, "f")`` for a finite ``value``, computed without building it
    (``Decimal("1E+999999999")`` would take gigabytes to write out)."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: the caller checked
    if exponent >= 0:
        length = 1 if digits == (0,) else len(digits) + exponent
    else:
        fraction = -exponent
        length = max(len(digits) - fraction, 1) + 1 + fraction
    return length + sign


def check_amount_text(text: str, field: str = AMOUNT_FIELD) -> str:
    """Check an amount text as the wire carries it; return it unchanged.

    Raises:
        ValidationError: empty, longer than 12 characters, not ASCII digits with an optional
            fraction, or not greater than zero.
    """
    if text == "":
        raise _fail(field, "is required")
    if len(text) > MAX_AMOUNT_LENGTH:  # first: nothing below looks at an over-long text
        raise _fail(field, f"is longer than {MAX_AMOUNT_LENGTH} characters")
    if not _AMOUNT.fullmatch(text):
        raise _fail(field, 'must be a positive decimal string such as "150000" or "12.50"')
    if not text.strip("0."):  # only digits and one point (checked above): zero iff no other digit
        raise _fail(field, "must be greater than zero")
    return text


def amount_text(value: object, field: str = AMOUNT_FIELD) -> str:
    """The exact text sent for an amount given as a string (unchanged) or a ``Decimal`` (its plain
    decimal form, written once and only after its length is known to fit).

    Raises:
        ValidationError: naming ``field``; see :func:`check_amount_text`.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _fail(field, "is not a finite decimal number")
        if plain_length(value) > MAX_AMOUNT_LENGTH:
            raise _fail(field, f"is longer than {MAX_AMOUNT_LENGTH} characters")
        text = format(value, "f")
    else:
        msg = f"must be a decimal string or Decimal, not {type(value).__name__}"
        raise _fail(field, msg)
    return check_amount_text(text, field)


def decimals_of(text: str) -> int:
    """How many digits a checked amount text has after its decimal point, as written."""
    return len(text.partition(".")[2])

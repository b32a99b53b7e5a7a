"""Values on the wire: field names, money as ``Decimal`` (never float), lenient times."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ..errors import ValidationError

__all__ = ["parse_time", "to_decimal", "wire_name"]


def wire_name(attribute: attrs.Attribute[Any]) -> str:
    """The wire (camelCase) name of a model attribute."""
    explicit = attribute.metadata.get("wire")
    if explicit:
        return str(explicit)
    head, *rest = attribute.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_decimal(value: object, *, field: str) -> Decimal:
    """Convert a wire or user amount to ``Decimal``; floats are refused (they cannot hold money)."""
    if type(value) is str:  # the wire case first: an exact str needs no str() or further checks
        text = value
    elif isinstance(value, Decimal):
        return value
    elif isinstance(value, bool | float):
        msg = f"{field} must be a decimal string or Decimal, not {type(value).__name__}"
        raise ValidationError(msg, field=field)
    elif isinstance(value, int | str):
        text = str(value)
    else:
        msg = f"{field} must be a decimal string or Decimal, not {type(value).__name__}"
        raise ValidationError(msg, field=field)
    try:
        result = Decimal(text.strip())
    except InvalidOperation:
        msg = f"{field} is not a decimal number"
        raise ValidationError(msg, field=field) from None
    if not result.is_finite():
        msg = f"{field} is not a finite decimal number"
        raise ValidationError(msg, field=field)
    return result


_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


# The spelling PayerMax sends most ("2024-05-01T10:00:00.123+00:00"), with every field in range so
# that datetime.fromisoformat (C, and the same on every supported Python) reads it exactly as the
# general parser below would; dates out of range (Feb 30) still go to the general parser.
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{3}|\.\d{6})?[+-](?:[01]\d|2[0-3]):[0-5]\d",
    re.ASCII,
)

# Zone spellings seen so far ("+00:00", "Z", "+0800", ...) and their tzinfo; a few per gateway.
_ZONES: dict[str, timezone] = {"Z": timezone.utc, "z": timezone.utc}
_MAX_ZONES = 256


def _zone(zone: str) -> timezone:
    tz = _ZONES.get(zone)
    if tz is None:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        tz = timezone(sign * offset)  # ValueError for an offset of a day or more
        if len(_ZONES) < _MAX_ZONES:
            _ZONES[zone] = tz
    return tz


def parse_time(value: object) -> datetime | None:
    """Parse PayerMax's many time spellings into an aware UTC-based ``datetime``.

    Accepts ``2022-12-02T11:35:17 +0000``, ``...Z``, ``...+08:00``, ``...+0800``, ``2023-03-12 02:37:37``
    (taken as UTC), with or without fractions; empty or unparseable values give ``None``.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _ISO.fullmatch(text):
        # try/except, not contextlib.suppress: this runs per notification and per typed answer, and
        # the context manager cost more than the parse itself.
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return _parse_general(text)


def _parse_general(text: str) -> datetime | None:
    """Every spelling :func:`parse_time` accepts, from the stripped text."""
    match = _TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz = _zone(zone) if zone else timezone.utc
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None

"""The one cattrs converter that knows PayerMax's wire format.

Models stay dumb attrs classes with snake_case names; this module owns the rules: camelCase names (a
field's ``metadata["wire"]`` overrides), amounts as ``Decimal`` ⇄ decimal strings (never float), lenient
time parsing, ``None`` fields left out of requests, and unknown response fields kept in ``extra``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ..errors import ValidationError

__all__ = ["converter", "parse_time", "structure", "to_decimal", "unstructure", "wire_name"]

T = TypeVar("T")

converter = cattrs.Converter()


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
    match = _TIME.match(value.strip())
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


def _structure_optional_decimal(value: object, _type: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return to_decimal(value, field="amount")


def _structure_decimal(value: object, _type: object) -> Decimal:
    return to_decimal(value, field="amount")


def _is_optional(type_: object) -> bool:
    args = getattr(type_, "__args__", ())
    return (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _optional_factory(type_: Any) -> Callable[[object, object], object]:
    # cattrs' own Optional hook looks the inner type's hook up again on every value; resolve it once.
    inner = next(arg for arg in type_.__args__ if arg is not type(None))
    hook = converter.get_structure_hook(inner)  # cattrs >= 23.2
    if hook is cattrs.Converter._structure_call:
        # cattrs structures str, enums, ... by calling the type: do that here, one call fewer.
        def structure_optional_call(value: object, _type: object) -> object:
            return None if value is None else inner(value)

        return structure_optional_call

    def structure_optional(value: object, _type: object) -> object:
        return None if value is None else hook(value, inner)

    return structure_optional


# Registered first: the more specific Optional hooks below are consulted before it.
converter.register_structure_hook_factory(_is_optional, _optional_factory)
converter.register_structure_hook(Decimal, _structure_decimal)
converter.register_structure_hook_func(lambda t: t == (Decimal | None), _structure_optional_decimal)
converter.register_unstructure_hook(Decimal, lambda d: format(d, "f"))
converter.register_structure_hook_func(
    lambda t: t == (datetime | None), lambda v, _t: parse_time(v)
)
converter.register_unstructure_hook(datetime, lambda d: d.isoformat())


def _has_extra(cls: type) -> bool:
    return any(a.name == "extra" for a in attrs.fields(cls))


def _structure_factory(cls: type[Any]) -> Callable[[Mapping[str, Any], type[Any]], Any]:
    overrides = {
        a.name: (override(omit=True) if a.name == "extra" else override(rename=wire_name(a)))
        for a in attrs.fields(cls)
    }
    base = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
    if not _has_extra(cls):
        return base
    known = frozenset(wire_name(a) for a in attrs.fields(cls) if a.name != "extra")

    def structure_keeping_extra(data: Mapping[str, Any], type_: type[Any]) -> Any:
        result = base(data, type_)
        if known.issuperset(data):  # the usual case, checked in C: no unknown field to keep
            return result
        extra = {key: value for key, value in data.items() if key not in known}
        if extra:
            # The instance was made a line above and nobody else holds it yet: setting its field
            # here is what attrs.evolve would do, without building and validating a second copy.
            object.__setattr__(result, "extra", extra)
        return result

    return structure_keeping_extra


def _unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    overrides = {
        a.name: (override(omit=True) if a.name == "extra" else override(rename=wire_name(a)))
        for a in attrs.fields(cls)
    }
    base = make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
    keeps_extra = _has_extra(cls)

    def unstructure_without_nones(instance: Any) -> dict[str, Any]:
        # Unset optional fields (None) are left out of the wire form; every other value, defaults
        # included (a PENDING status), is written.
        result = {key: value for key, value in base(instance).items() if value is not None}
        if keeps_extra:
            for key, value in instance.extra.items():
                result.setdefault(key, value)
        return result

    return unstructure_without_nones


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def structure(data: object, cls: type[T], *, what: str) -> T:
    """Build a model from wire data.

    Raises:
        ValidationError: the data does not have the model's shape. The message names the paths that
            failed, never their values.
    """
    if not isinstance(data, Mapping):
        msg = f"{what} must be a JSON object"
        raise ValidationError(msg)
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        problems = (
            "; ".join(cattrs.transform_error(exc, path=what))
            if isinstance(exc, cattrs.BaseValidationError)
            else type(exc).__name__
        )
        msg = f"{what} is malformed: {problems}"
        raise ValidationError(msg) from None


def unstructure(instance: object) -> dict[str, Any]:
    """Turn a model into its wire mapping (camelCase, amounts as strings, ``None`` left out)."""
    result = converter.unstructure(instance)
    assert isinstance(result, dict)
    return result

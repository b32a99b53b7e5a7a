"""The one cattrs converter that knows PayerMax's wire format.

Models stay dumb attrs classes with snake_case names; this module owns the rules: camelCase names (a
field's ``metadata["wire"]`` overrides), amounts as ``Decimal`` ⇄ decimal strings (never float), lenient
time parsing, ``None`` fields left out of requests, and unknown response fields kept in ``extra``.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from ..errors import ValidationError
from .payouts import Trade
from .validation import FieldValidationResult, structure_validation, unstructure_validation
from .values import parse_time, to_decimal, wire_name

__all__ = [
    "converter",
    "make_converter",
    "parse_time",
    "structure",
    "to_decimal",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")


def _structure_optional_decimal(value: object, _type: object) -> Decimal | None:
    if value is None or value == "":
        return None
    return to_decimal(value, field="amount")


def _structure_decimal(value: object, _type: object) -> Decimal:
    return to_decimal(value, field="amount")


def _unstructure_trade(trade: Trade) -> dict[str, Any]:
    # The amount goes out as the text the caller gave (or its Decimal written out once), never
    # re-formatted here: "0012.50" stays "0012.50" (protocol/amounts.py).
    wire = {"amount": trade.amount_text, "currency": trade.currency}
    return {key: value for key, value in wire.items() if value is not None}


def _structure_trade(data: object, _type: object) -> Trade:
    if not isinstance(data, Mapping):
        msg = "trade must be an object"
        raise ValidationError(msg, field="trade")
    return Trade(amount=data.get("amount"), currency=data.get("currency"))  # type: ignore[arg-type]


def _is_optional(type_: object) -> bool:
    args = getattr(type_, "__args__", ())
    return (
        typing.get_origin(type_) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _optional_factory(
    converter: cattrs.Converter, type_: Any
) -> Callable[[object, object], object]:
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


def _has_extra(cls: type) -> bool:
    return any(a.name == "extra" for a in attrs.fields(cls))


def _structure_factory(
    converter: cattrs.Converter, cls: type[Any]
) -> Callable[[Mapping[str, Any], type[Any]], Any]:
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


def _unstructure_factory(
    converter: cattrs.Converter, cls: type[Any]
) -> Callable[[Any], dict[str, Any]]:
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


def make_converter() -> cattrs.Converter:
    """A converter that knows the wire format (see the module docstring)."""
    converter = cattrs.Converter()
    # Registered first: the more specific hooks below are consulted before it.
    converter.register_structure_hook_factory(
        _is_optional, lambda type_: _optional_factory(converter, type_)
    )
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_structure_hook_func(
        lambda t: t == (Decimal | None), _structure_optional_decimal
    )
    converter.register_unstructure_hook(Decimal, lambda d: format(d, "f"))
    converter.register_structure_hook_func(
        lambda t: t == (datetime | None), lambda v, _t: parse_time(v)
    )
    converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
    converter.register_structure_hook(FieldValidationResult, structure_validation)
    converter.register_unstructure_hook(FieldValidationResult, unstructure_validation)
    converter.register_structure_hook_factory(
        attrs.has, lambda cls: _structure_factory(converter, cls)
    )
    converter.register_unstructure_hook_factory(
        attrs.has, lambda cls: _unstructure_factory(converter, cls)
    )
    # Registered for the class itself, so it wins over the attrs factories above.
    converter.register_unstructure_hook(Trade, _unstructure_trade)
    converter.register_structure_hook(Trade, _structure_trade)
    return converter


@functools.cache
def converter() -> cattrs.Converter:
    """The package's one converter, made on first use."""
    return make_converter()


def _describe(exc: BaseException, type_: type | None) -> str:
    # A model's own ValidationError (Trade's amount rules) says what is wrong better than cattrs'
    # "invalid value for type"; like every message here it names fields and types, never values.
    if isinstance(exc, ValidationError):
        return str(exc)
    return format_exception(exc, type_)


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
        return converter().structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        problems = (
            "; ".join(cattrs.transform_error(exc, path=what, format_exception=_describe))
            if isinstance(exc, cattrs.BaseValidationError)
            else type(exc).__name__
        )
        msg = f"{what} is malformed: {problems}"
        raise ValidationError(msg) from None


def unstructure(instance: object) -> dict[str, Any]:
    """Turn a model into its wire mapping (camelCase, amounts as strings, ``None`` left out)."""
    result = converter().unstructure(instance)
    assert isinstance(result, dict)
    return result

"""Type checks of request models before they are turned into wire data.

attrs models do not check their field types, so ``PayoutRequest(trade={"amount": ...})`` builds fine
and only fails deep inside serialisation (an ``AttributeError``). :func:`check_model_types` walks a
request model first and names the first field whose value has the wrong type by its dotted wire path
(``trade``, ``payeeInfo.name.fullName``); messages name types, never values.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Callable
from decimal import Decimal

import attrs

from ..errors import ValidationError
from .values import wire_name

__all__ = ["check_model_types"]


_Field = tuple[str, type, bool]


@functools.cache
def _plan(cls: type) -> tuple[Callable[[object], tuple[object, ...]], tuple[_Field, ...]]:
    """A getter of every checked field's value at once (one C call), and ``(wire name, expected
    type, optional)`` for each, in the same order."""
    fields = _fields(cls)
    getter = operator.attrgetter(*(name for name, _, _, _ in fields))
    if len(fields) == 1:  # attrgetter of one name returns the value itself, not a tuple
        single = getter
        return (lambda instance: (single(instance),)), tuple(f[1:] for f in fields)
    return getter, tuple(f[1:] for f in fields)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, str, type, bool], ...]:
    """``(attribute, wire name, expected type, optional)`` of each field of a model class."""
    hints = typing.get_type_hints(cls)
    result = []
    for attribute in attrs.fields(cls):
        if not attribute.init or attribute.name == "extra":
            continue  # not set by the caller (Trade's amount text), or kept as given
        hint = hints[attribute.name]
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            hint = args[0] if len(args) == 1 else object
        hint = typing.get_origin(hint) or hint  # dict[str, Any] is checked as a dict
        result.append((attribute.name, wire_name(attribute), hint, optional))
    return tuple(result)


def _describe(expected: type) -> str:
    if expected is str:
        return "a string"
    if expected is Decimal:
        return "a Decimal"
    return f"a {expected.__name__}"


def check_model_types(instance: object, prefix: str = "") -> None:
    """Check that every field of a request model (and of the models inside it) has its declared type.

    Raises:
        ValidationError: naming the first wrong field by its dotted wire path.
    """
    cls: type = type(instance)
    getter, fields = _plan(cls)
    for (wire, expected, optional), value in zip(fields, getter(instance), strict=True):
        if value is None:
            if optional:
                continue  # the usual case: most optional fields are unset
            path = f"{prefix}{wire}"
            msg = f"{path} is required"
            raise ValidationError(msg, field=path)
        kind = type(value)
        if kind is not expected and expected is not object and not isinstance(value, expected):
            path = f"{prefix}{wire}"
            msg = f"{path} must be {_describe(expected)}, not {kind.__name__}"
            raise ValidationError(msg, field=path)
        if kind is not str and attrs.has(kind):
            check_model_types(value, f"{prefix}{wire}.")

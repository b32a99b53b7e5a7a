"""Type checks of request models before they are turned into wire data.

attrs models do not check their field types, so ``PayoutRequest(trade={"amount": ...})`` builds fine
and only fails deep inside serialisation (an ``AttributeError``). :func:`check_model_types` walks a
request model first and names the first field whose value has the wrong type by its dotted wire path
(``trade``, ``payeeInfo.name.fullName``); messages name types, never values.
"""

from __future__ import annotations

import functools
import types
import typing
from decimal import Decimal

import attrs

from ..errors import ValidationError
from .values import wire_name

__all__ = ["check_model_types"]


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
    for name, wire, expected, optional in _fields(cls):
        value = getattr(instance, name)
        path = f"{prefix}{wire}"
        if value is None:
            if optional:
                continue
            msg = f"{path} is required"
            raise ValidationError(msg, field=path)
        if expected is not object and not isinstance(value, expected):
            msg = f"{path} must be {_describe(expected)}, not {type(value).__name__}"
            raise ValidationError(msg, field=path)
        if attrs.has(type(value)):
            check_model_types(value, f"{path}.")

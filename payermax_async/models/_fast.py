"""A quicker way to build a model from a plain JSON document, giving exactly what :func:`structure` gives.

The cattrs converter in :mod:`.wire` handles every input, and names every bad field when it refuses
one; that generality costs more than the rest of a notification's checks together. For the plain
case (a ``dict`` of ``str`` members, nested ``dict`` objects, every required field present) this
module builds the same instance directly, calling the converter's own hooks for every value it does
not pass through unchanged (amounts, times, enums). Anything else (a missing field, a number where a
string was expected, a list where an object was expected, any error) falls back to :func:`structure`
on the whole document, so a refusal and its message are exactly the converter's.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from cattrs import BaseConverter

from .._frozen import positional_constructor
from .values import wire_name
from .wire import _structure_optional_decimal, converter, structure

__all__ = ["structure_fast"]

T = TypeVar("T")

_Build = Callable[[Any], Any]


def _optional_inner(type_: object) -> object | None:
    """``X`` for ``X | None`` (or ``Optional[X]``), else ``None``."""
    args: tuple[object, ...] = getattr(type_, "__args__", ())
    union = typing.get_origin(type_) in (typing.Union, types.UnionType)
    if union and len(args) == 2 and type(None) in args:
        return next(arg for arg in args if arg is not type(None))
    return None


def _is_generated(cls: type) -> bool:
    # Only classes the converter structures with its generic attrs hooks are rebuilt here; a class
    # with a hook of its own (Trade checks its amount) keeps that hook.
    if not attrs.has(cls):
        return False
    name = getattr(converter().get_structure_hook(cls), "__name__", "")
    return name in ("structure_keeping_extra", f"structure_{cls.__name__}")


def _value_code(index: int, attribute: attrs.Attribute[Any], names: dict[str, object]) -> list[str]:
    """Source lines that read one member into ``a{index}`` (or raise, to fall back)."""
    key = wire_name(attribute)
    type_ = attribute.type
    inner = _optional_inner(type_)
    optional = inner is not None
    target = inner if optional else type_
    hook = converter().get_structure_hook(type_)
    names[f"h{index}"], names[f"t{index}"] = hook, type_
    if optional:
        if attribute.default is not None:
            msg = f"{attribute.name}: an optional field must default to None"
            raise TypeError(msg)
        lines = [f"    v = o.get({key!r})", f"    if v is None: a{index} = None"]
        branch = "    elif "
    else:
        # A required member that is missing raises KeyError here: the converter names it.
        lines = [f"    v = o[{key!r}]"]
        branch = "    if "
    call = f"a{index} = h{index}(v, t{index})"
    if type_ == (Decimal | None) and hook is _structure_optional_decimal:
        # What to_decimal does with the wire's exact str; every other value goes to the hook.
        names["Decimal"] = Decimal
        lines += [
            f"{branch}v.__class__ is str and v:",
            f"        a{index} = Decimal(v.strip())",
            f"        if not a{index}.is_finite(): raise _Unusual",
            f"    else: {call}",
        ]
    elif isinstance(target, enum.EnumMeta) and hook is BaseConverter._structure_call:
        # The converter calls the enum class; a known value's member is that call's result.
        names[f"m{index}"] = dict(target._value2member_map_)
        lines += [
            f"{branch}v.__class__ is str and v in m{index}: a{index} = m{index}[v]",
            f"    else: {call}",
        ]
    elif target is str:
        # str(v) is v itself for an exact str: what the converter's hook returns, without the call.
        lines += [f"{branch}v.__class__ is str: a{index} = v", f"    else: {call}"]
    elif isinstance(target, type) and _is_generated(target):
        names[f"b{index}"] = _builder(target)
        lines += [
            f"{branch}v.__class__ is dict: a{index} = b{index}(v)",
            "    else: raise _Unusual",
        ]
    else:
        lines.append(f"    else: {call}" if optional else f"    {call}")
    return lines


@functools.cache
def _builder(cls: Any) -> _Build:
    """Generate ``build(o) -> cls`` for an attrs model (see the module docstring)."""
    # Annotations are strings under `from __future__ import annotations`: resolve them, as cattrs does.
    fields = attrs.fields(attrs.resolve_types(cls))
    names: dict[str, object] = {"_Unusual": _Unusual, "cls": _constructor(cls, fields)}
    lines = [f"def build_{cls.__name__}(o):"]
    arguments = []
    for index, attribute in enumerate(fields):
        if not attribute.init or attribute.kw_only:
            msg = f"{cls.__name__}.{attribute.name} is not a positional __init__ argument"
            raise TypeError(msg)
        if attribute.name == "extra":
            continue
        lines.extend(_value_code(index, attribute, names))
        arguments.append(f"a{index}")
    if any(a.name == "extra" for a in fields):
        names["known"] = frozenset(wire_name(a) for a in fields if a.name != "extra")
        # Members the model does not know (a newer gateway's) are kept, as the converter keeps them.
        lines.append("    extra = {} if known.issuperset(o) else ")
        lines[-1] += "{k: x for k, x in o.items() if k not in known}"
        arguments.append("extra")
    lines.append(f"    return cls({', '.join(arguments)})")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<fast structure {cls.__name__}>", "exec"), names, namespace)  # noqa: S102
    build: _Build = namespace[f"build_{cls.__name__}"]
    return build


def _constructor(cls: Any, fields: tuple[attrs.Attribute[Any], ...]) -> Callable[..., Any]:
    """What the builder calls with every field in order: the quick slot-by-slot constructor where
    the class allows it (no converters or validators to run), else the class itself."""
    constructor: Callable[..., Any] = cls
    if all(a.name != "extra" for a in fields[:-1]):  # the builder passes extra last
        # A class with converters or validators keeps its own __init__, which runs them.
        with contextlib.suppress(TypeError):
            constructor = positional_constructor(cls)
    return constructor


class _Unusual(Exception):
    """Raised inside a builder: the input is not the plain case, so the converter decides."""


def structure_fast(data: Mapping[str, Any], cls: type[T], *, what: str) -> T:
    """:func:`~payermax_async.models.wire.structure`, quicker for a plain document; the same result.

    Raises:
        ValidationError: as :func:`~payermax_async.models.wire.structure`, with the same message.
    """
    if data.__class__ is dict:
        try:
            result: T = _builder(cls)(data)  # type: ignore[arg-type]  # a type is hashable
        except Exception:  # noqa: S110 - every surprise goes to the converter, which explains it
            pass
        else:
            return result
    return structure(data, cls, what=what)

"""A quicker constructor for the frozen attrs classes every payout builds several of.

attrs gives a frozen slotted class an ``__init__`` that stores each field through
``object.__setattr__(self, name, value)``, which looks the name up on the class every time, and a
frozen class refuses plain attribute stores. Counted in instructions on CPython 3.11, one field
costs about 1,000 that way and about 740 through the slot's own descriptor; a payout builds some 80
fields (two journal records, two calls, a reply, an intent, a result), which made object building
about a sixth of the SDK's own work.

So the constructor made here fills a *draft*: an instance of a plain class with exactly the same
slots, whose fields are stored by ordinary attribute assignment (about 90 instructions each), and
then turns it into an instance of the real class by assigning ``__class__``. CPython allows that
only between classes whose memory layout is identical (it checks, and raises ``TypeError``
otherwise), so the result is an ordinary, frozen instance of the class. On Python 3.10 and 3.11 a
class with a ``__weakref__`` slot never passes that check (its weak-reference slot sits after the
fields), so the hot classes are declared with ``weakref_slot=False``, alike on every supported
version; any other class gets the slower constructor through the slots' descriptors.

Either way it exists only for classes whose fields have no converter or validator and that have no
init hook or ``__init__`` of their own (it checks), so what it builds equals what the class's
``__init__`` builds. Callers pass every field, positionally, in the class's field order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs

__all__ = ["positional_constructor"]

T = TypeVar("T")


_INIT_HOOKS = ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init__")


def positional_constructor(cls: type[T]) -> Callable[..., T]:
    """A function ``(field1, field2, ...) -> cls`` taking every field of ``cls`` in order.

    Raises:
        TypeError: ``cls`` is not a slotted attrs class, a field has a converter or validator, the
            class has an init hook or an ``__init__`` of its own (the fast path would skip them), or
            it has a slot that is not a field (a cached hash).
    """
    fields = attrs.fields(cast(Any, cls))
    names = [field.name for field in fields]
    for field in fields:
        if field.converter is not None or field.validator is not None:
            msg = f"{cls.__name__}.{field.name} has a converter or validator"
            raise TypeError(msg)
    if "__slots__" not in vars(cls) or any(not field.init for field in fields):
        msg = f"{cls.__name__} must be a slotted attrs class whose fields are all in __init__"
        raise TypeError(msg)
    hooks = [name for name in _INIT_HOOKS if hasattr(cls, name)]
    if hooks:
        # A hook (or a hand-written __init__ beside attrs' __attrs_init__) must run on every build.
        msg = f"{cls.__name__} has {hooks[0]}, which only its own __init__ runs"
        raise TypeError(msg)
    if not set(vars(cls)["__slots__"]) <= {*names, "__weakref__"}:
        # A slot no field fills (attrs' cached hash) would be left unset: its __init__ must run.
        msg = f"{cls.__name__} has slots that are not its fields"
        raise TypeError(msg)
    draft = _draft_class(cls, names)
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_draft": draft}
    lines = [f"def build({', '.join(names)}):"]
    if draft is not None:
        lines.append("    self = _new(_draft)")
        lines.extend(f"    self.{name} = {name}" for name in names)
        lines.append("    self.__class__ = _cls  # same layout: CPython checked it once, below")
    else:
        lines.append("    self = _new(_cls)")
        for index, name in enumerate(names):
            # The slot's descriptor, bound once: no per-call lookup of the name on the class.
            namespace[f"_set{index}"] = getattr(cls, name).__set__
            lines.append(f"    _set{index}(self, {name})")
    lines.append("    return self")
    # Generated like attrs' own methods: one straight-line function per class, built at import.
    exec("\n".join(lines), namespace)  # noqa: S102 - our own field names, checked identifiers
    build: Callable[..., T] = namespace["build"]
    build.__qualname__ = f"{cls.__qualname__}.<positional constructor>"
    return build


def _draft_class(cls: type, names: list[str]) -> type | None:
    """A plain class whose instances can become ``cls`` instances by ``__class__`` assignment, or
    ``None`` when CPython refuses that for ``cls`` (a ``__weakref__`` slot, slots inherited from a
    base)."""
    slots = vars(cls)["__slots__"]
    if cls.__bases__ != (object,) or sorted(slots) != sorted(names):
        return None
    draft = type(f"{cls.__name__}Draft", (), {"__slots__": tuple(slots), "__module__": __name__})
    try:
        # One trial now, so that the generated constructor never meets the refusal. The probe has no
        # fields set and is dropped here.
        probe: Any = object.__new__(draft)
        probe.__class__ = cls
    except TypeError:
        return None
    return draft

"""What any request ``data`` must be before it is serialised and signed: JSON, valid Unicode, bounded.

These checks look at every value, known fields and unknown keys alike (unknown keys are sent as
given, so they must be sendable): dicts with string keys, lists, strings that are valid Unicode (a lone
surrogate such as ``"\\ud800"`` cannot be written as UTF-8), finite numbers, integers a JSON reader can
hold, ``Decimal`` values of sane size, at most :data:`MAX_DEPTH` levels of nesting and about
:data:`MAX_DATA_BYTES` of JSON in all **[decided]**. PayerMax's deepest field is three levels down and
a real payout's data is one to three KiB, so both limits are far from anything legitimate; they exist
so that hostile or broken data ends as a :class:`~payermax_async.errors.ValidationError` naming the
field, before any signing, never as a ``RecursionError``, ``UnicodeEncodeError`` or a huge allocation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from ..errors import ValidationError
from .amounts import plain_length

__all__ = ["MAX_DATA_BYTES", "MAX_DEPTH", "check_shape"]

#: The deepest nesting of objects and arrays accepted below ``data`` [decided].
MAX_DEPTH = 16
#: About the largest ``data`` accepted, as compact UTF-8 JSON [decided].
MAX_DATA_BYTES = 256 * 1024
# JSON readers (Java's long, JavaScript's doubles) lose larger integers; PayerMax's gateway is Java.
_MAX_INT = 2**63 - 1
# A Decimal anywhere but trade.amount is written out plainly; refuse one that would be huge.
_MAX_DECIMAL_LENGTH = 64
_MAX_KEY_SHOWN = 64


def _fail(field: str | None, problem: str) -> ValidationError:
    return ValidationError(f"{field or 'data'} {problem}", field=field)


def _shown(key: str) -> str:
    """A key as it may appear in a field path: printable, short, never a lone surrogate."""
    if key.isprintable() and key.isascii() and len(key) <= _MAX_KEY_SHOWN:
        return key
    return key.encode("ascii", "backslashreplace").decode("ascii")[:_MAX_KEY_SHOWN]


def _text_size(text: str) -> int:
    """Bytes of ``text`` as a JSON string; -1 when it is not valid Unicode (a lone surrogate)."""
    if text.isascii():
        return len(text) + 3  # quotes and a separator
    try:
        return len(text.encode("utf-8")) + 3
    except UnicodeEncodeError:
        return -1


def _child(path: str | None, key: str) -> str:
    shown = _shown(key)
    return f"{path}.{shown}" if path else shown


_NOT_UNICODE = "is not valid Unicode text (it holds a lone surrogate)"


class _Walk:
    """One pass over the data, spending a byte budget as it goes so huge data stops early. Paths
    are only written out for an error: most values are short strings that pass."""

    def __init__(self) -> None:
        self.left = MAX_DATA_BYTES
        self.top: str | None = None

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            top = _shown(self.top) if self.top is not None else None
            at = f" (at {top})" if top else ""
            msg = f"data is larger than {MAX_DATA_BYTES} bytes as JSON{at}"
            raise ValidationError(msg, field=top)

    def mapping(self, value: Mapping[object, object], path: str | None, depth: int) -> None:
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise _fail(path, f"has a key that is not a string ({type(key).__name__})")
            if depth == 0:
                self.top = key  # shown only if the budget runs out
            if type(item) is str and item.isascii() and key.isascii():
                # The usual case, without a call per value: ASCII cannot hold a lone surrogate.
                self.left -= len(key) + len(item) + 6
                if self.left < 0:
                    self.spend(0)  # raises, naming the top-level key
                continue
            key_size = _text_size(key)
            if key_size < 0:
                raise _fail(_child(path, key), _NOT_UNICODE)
            if isinstance(item, str):
                item_size = _text_size(item)
                if item_size < 0:
                    raise _fail(_child(path, key), _NOT_UNICODE)
                self.spend(key_size + item_size)
            else:
                self.spend(key_size)
                self.value(item, _child(path, key), depth + 1)

    def value(self, value: object, path: str, depth: int) -> None:
        kind = type(value)
        if isinstance(value, str):
            size = _text_size(value)
            if size < 0:
                raise _fail(path, _NOT_UNICODE)
            self.spend(size)
        elif isinstance(value, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise _fail(path, f"is nested more than {MAX_DEPTH} levels deep")
            self.spend(2)
            if isinstance(value, dict):
                self.mapping(value, path, depth)
            else:
                for index, item in enumerate(value):
                    self.value(item, f"{path}[{index}]", depth + 1)
        elif value is None or kind is bool:
            self.spend(6)
        elif isinstance(value, int):
            if not -_MAX_INT <= value <= _MAX_INT:
                raise _fail(path, "is an integer too large to send as JSON")
            self.spend(21)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _fail(path, "is not a finite number")
            self.spend(26)
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise _fail(path, "is not a finite decimal number")
            size = plain_length(value)
            if size > _MAX_DECIMAL_LENGTH:
                raise _fail(path, f"is a decimal number longer than {_MAX_DECIMAL_LENGTH} digits")
            self.spend(size + 3)
        elif isinstance(value, Mapping):
            raise _fail(path, f"must be a JSON object (a dict), not {type(value).__name__}")
        else:
            raise _fail(path, f"cannot be sent as JSON (a {type(value).__name__})")


def check_shape(data: Mapping[str, object]) -> None:
    """Check that ``data`` can be serialised as PayerMax expects, within the limits above.

    Raises:
        ValidationError: naming the dotted path of the first value that cannot be sent (list items
            as ``[index]``), or the top-level key at which ``data`` grew too large.
    """
    if not isinstance(data, dict):
        msg = f"request data must be a JSON object (a dict), not {type(data).__name__}"
        raise ValidationError(msg)
    _Walk().mapping(data, None, 0)

"""Reading a payout's JSON file strictly: what is paid is exactly what the file says, or nothing.

A repeated key is refused, naming it (``json.loads`` would silently pay the last value:
``"amount":"110","amount":"150000"``); so are files over a size limit, nesting deeper than any
payout, and bytes that are not UTF-8, each with a message naming the file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable

from ..errors import ValidationError

__all__ = ["MAX_DEPTH", "MAX_PAYOUT_FILE_BYTES", "read_payout_file"]

#: A payout's data is a few KiB; a file far larger is a mistake (refused before parsing).
MAX_PAYOUT_FILE_BYTES = 1024 * 1024
#: A payout's data nests four levels; deeper than this is refused before parsing.
MAX_DEPTH = 32
# JSON strings (skipped: brackets inside them do not nest) and brackets.
_STRINGS_AND_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


class _Repeated(dict[str, object]):
    """An object in which ``repeated`` appeared more than once (found after parsing, with its path)."""

    def __init__(self, pairs: Iterable[tuple[str, object]], repeated: str) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Repeated(pairs, key)
        seen.add(key)
    return dict(pairs)


def _find_repeated(node: object, path: str) -> str | None:
    """The dotted path of the first repeated key in ``node``, if any."""
    if isinstance(node, _Repeated):
        return f"{path}{node.repeated}"
    children: Iterable[tuple[str, object]] = ()
    if isinstance(node, dict):
        children = ((f"{path}{key}.", value) for key, value in node.items())
    elif isinstance(node, list):
        children = ((f"{path}{index}.", value) for index, value in enumerate(node))
    for child_path, child in children:
        found = _find_repeated(child, child_path)
        if found is not None:
            return found
    return None


def _depth(text: str) -> int:
    depth = deepest = 0
    for match in _STRINGS_AND_BRACKETS.finditer(text):
        lexeme = match.group(0)
        if lexeme in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif lexeme in _CLOSING:
            depth -= 1
    return deepest


def _read_bytes(source: str) -> bytes:
    if source != "-":
        with open(source, "rb") as handle:
            return handle.read(MAX_PAYOUT_FILE_BYTES + 1)
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        data: bytes = stream.read(MAX_PAYOUT_FILE_BYTES + 1)
        return data
    return sys.stdin.read(MAX_PAYOUT_FILE_BYTES + 1).encode("utf-8", "surrogatepass")


def read_payout_file(source: str) -> dict[str, object]:
    """The JSON object in the file ``source`` (``-``: stdin), read strictly.

    Raises:
        ValidationError: the file is over :data:`MAX_PAYOUT_FILE_BYTES`, not UTF-8, not JSON,
            nested deeper than :data:`MAX_DEPTH`, not an object, or repeats a key in an object
            (``field`` is that key's dotted path). Messages name the file, never its values.
        OSError: the file cannot be read.
    """
    name = "stdin" if source == "-" else source
    raw = _read_bytes(source)
    if len(raw) > MAX_PAYOUT_FILE_BYTES:
        msg = f"{name} is larger than {MAX_PAYOUT_FILE_BYTES} bytes; a payout's data is a few KiB"
        raise ValidationError(msg)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{name} is not UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8"
        raise ValidationError(msg) from None
    if _depth(text) > MAX_DEPTH:
        msg = f"{name} nests objects or arrays more than {MAX_DEPTH} deep; a payout's data has 4"
        raise ValidationError(msg)
    try:
        data = json.loads(text, object_pairs_hook=_object)
    except (ValueError, RecursionError) as exc:
        detail = exc if isinstance(exc, ValueError) else "nested too deeply"
        msg = f"{name} is not valid JSON: {detail}"
        raise ValidationError(msg) from None
    repeated = _find_repeated(data, "")
    if repeated is not None:
        msg = (
            f"{name}: the key {repeated!r} appears more than once in one object; refusing to "
            "guess which value to pay"
        )
        raise ValidationError(msg, field=repeated)
    if not isinstance(data, dict):
        msg = f"{name} must hold a JSON object (the request's data)"
        raise ValidationError(msg)
    return data

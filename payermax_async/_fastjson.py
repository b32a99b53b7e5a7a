"""JSON without the standard library's per-call setup, for the documents every payout reads or writes.

``JSONEncoder.encode`` builds a C encoder object and a dict of markers on every call, and
``json.loads`` wraps its C scanner in two whitespace matches and three Python frames. Per payout,
with four documents, that setup costs more than the encoding itself. Here the C encoder is built
once and the C scanner is called directly; the output is exactly what ``JSONEncoder.encode`` and
``JSONDecoder.decode`` give (tests/test_fastjson.py holds them together), and anything the fast path
does not cover (no C accelerator, surrounding whitespace, a malformed document) takes the standard
path, so errors read the same too. (``json.loads`` itself differs only for a ``str`` that starts with
a byte order mark, which it names; both refuse it.)
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

__all__ = ["compact_encoder", "scanner"]


def compact_encoder(
    *,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    allow_nan: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> Callable[[object], str]:
    """An encoder of compact JSON (``","`` and ``":"``) with these options, built once.

    It does not check for circular references (a cycle ends in ``RecursionError`` instead of
    ``ValueError``): give it data that cannot hold one, or catch both.
    """
    standard = json.JSONEncoder(
        separators=(",", ":"),
        sort_keys=sort_keys,
        ensure_ascii=ensure_ascii,
        allow_nan=allow_nan,
        default=default,
        check_circular=False,
    )
    make = getattr(json.encoder, "c_make_encoder", None)  # the C accelerator (not in typeshed)
    if make is None:  # pragma: no cover (CPython always has it)
        return standard.encode
    quote = encode_basestring_ascii if ensure_ascii else encode_basestring
    encode = make(None, standard.default, quote, None, ":", ",", sort_keys, False, allow_nan)
    join = "".join

    def encoder(value: object) -> str:
        return join(encode(value, 0))

    return encoder


def scanner(decoder: json.JSONDecoder) -> Callable[[str], Any]:
    """``decoder.decode`` for a document with no whitespace around it, as most are; anything else
    (and every error) goes to ``decoder.decode`` itself, so results and errors are the same."""
    scan = decoder.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__
    full = decoder.decode

    def decode(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return full(text)  # not a value at offset 0: whitespace first, or malformed
        if end != len(text):
            return full(text)  # trailing whitespace or extra data
        return value

    return decode

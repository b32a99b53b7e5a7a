"""The one JSON reader for what PayerMax sends: gateway answers and notifications alike.

Two parsers that read one document differently are how a signed body can mean two things, so both
the response parser (:func:`~payermax_async.protocol.envelope.parse_response`) and the webhook
verifier read with :func:`read_json`:

- duplicate member names are refused (``{"status":"FAILED","status":"SUCCESS"}`` has no one meaning);
- numbers with a fraction or exponent become ``Decimal``, never ``float``, so a numeric amount
  (``"amount": 150000.50``) keeps every digit; integers stay ``int``;
- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON) are refused;
- UTF-8, UTF-16 and UTF-32 are detected as ``json.loads`` does; deep nesting is refused, not a crash.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .._fastjson import scanner
from ..errors import ValidationError

__all__ = ["read_json"]


class _Refused(ValueError):
    """Raised inside the decoder's hooks; turned into a ValidationError below."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse_constant(name: str) -> object:
    raise _Refused(f"is not well-formed JSON (non-standard constant {name})")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Refused("has a duplicate member name")
    return result


# Built once: json.loads(body, **hooks) would build a decoder and its scanner on every call.
_decode = scanner(
    json.JSONDecoder(
        parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
    )
)


def read_json(raw: bytes, *, what: str) -> object:
    """Parse ``raw`` strictly (see the module docstring).

    Args:
        raw: the exact bytes received.
        what: how messages name the document (``"notification body"``, ``"answer"``).

    Raises:
        ValidationError: the bytes are not one well-formed JSON value, repeat a member name, or nest
            too deeply. The message says which, and never quotes the body.
    """
    try:
        # Exactly what json.loads does with bytes: detect UTF-8/16/32, then decode. An object's
        # "{" and a non-zero second byte are what json.detect_encoding calls UTF-8.
        if raw[:1] == b"{" and raw[1:2] not in (b"", b"\x00"):
            text = raw.decode("utf-8", "surrogatepass")
        else:
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _decode(text)
    except RecursionError:
        msg = f"{what} is nested too deeply"
        raise ValidationError(msg) from None
    except _Refused as exc:
        msg = f"{what} {exc.reason}"
        raise ValidationError(msg) from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, integers past the digit limit
        msg = f"{what} is not well-formed JSON"
        raise ValidationError(msg) from None

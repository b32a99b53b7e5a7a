"""HTTP content codings (gzip, deflate), decoded with an explicit cap on the decoded size.

A few kilobytes of gzip can inflate to gigabytes. The transport and the webhook adapters never let a
library inflate a body on their behalf without a bound: they decode here, asking zlib for at most
``limit + 1`` bytes, so a bomb is refused after producing one byte more than the cap, never inflated
in full. What is signed (and verified) is the decoded body (docs/protocol.md §3).
"""

from __future__ import annotations

import zlib
from typing import Literal

from ..errors import PayerMaxError

__all__ = ["ACCEPT_ENCODING", "ContentCodingError", "decode_content", "is_supported"]

#: What the transport advertises: the codings :func:`decode_content` reads.
ACCEPT_ENCODING = "gzip, deflate"

Reason = Literal["unsupported", "too_large", "corrupt"]


class ContentCodingError(PayerMaxError):
    """A body could not be decoded: an unsupported coding, over the cap, or corrupt.

    Internal: the transport turns it into ``InvalidResponseError`` and the webhook adapters into
    415, 413 or 400.
    """

    def __init__(self, message: str, *, reason: Reason) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def _codings(content_encoding: str | None) -> list[str]:
    return [
        part.strip().lower()
        for part in (content_encoding or "").split(",")
        if part.strip() and part.strip().lower() != "identity"
    ]


def is_supported(content_encoding: str | None) -> bool:
    """Whether :func:`decode_content` reads this ``Content-Encoding`` (none, or one gzip/deflate)."""
    codings = _codings(content_encoding)
    return not codings or (len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"))


def _wbits(coding: str, data: bytes) -> int:
    if coding in ("gzip", "x-gzip"):
        return 16 + zlib.MAX_WBITS
    # "deflate" is the zlib format (RFC 9110 §8.4.1.2), but some servers send raw deflate: a zlib
    # stream starts with a header whose first two bytes, read as a number, divide by 31.
    if len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


def decode_content(data: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """Decode ``data`` as its ``Content-Encoding`` says, producing at most ``limit`` bytes.

    ``identity`` (or no header) returns ``data`` as is. One gzip or deflate stream is accepted;
    anything after its end (a second member, trailing bytes) is refused, since concatenated members
    are how a small body costs quadratic work.

    Raises:
        ContentCodingError: the coding is not gzip/deflate/identity (``unsupported``), the decoded
            body would exceed ``limit`` (``too_large``), or the stream is truncated, has trailing
            data or is not valid (``corrupt``).
    """
    codings = _codings(content_encoding)
    if not codings:
        if len(data) > limit:
            msg = f"body of {len(data)} bytes exceeds the {limit}-byte limit"
            raise ContentCodingError(msg, reason="too_large")
        return data
    if not is_supported(content_encoding):
        shown = ", ".join(coding[:16] for coding in codings[:3])
        msg = f"unsupported content encoding {shown!r} (gzip or deflate expected)"
        raise ContentCodingError(msg, reason="unsupported")
    decompressor = zlib.decompressobj(_wbits(codings[0], data))
    try:
        decoded = decompressor.decompress(data, limit + 1)
    except zlib.error:
        msg = f"{codings[0]} body is not a valid stream"
        raise ContentCodingError(msg, reason="corrupt") from None
    if len(decoded) > limit:
        msg = f"{codings[0]} body inflates past the {limit}-byte limit"
        raise ContentCodingError(msg, reason="too_large")
    if not decompressor.eof:
        msg = f"{codings[0]} body is truncated"
        raise ContentCodingError(msg, reason="corrupt")
    if decompressor.unused_data:
        msg = f"{codings[0]} body has data after the end of its stream"
        raise ContentCodingError(msg, reason="corrupt")
    return decoded

"""Formats of single request values (codes, dates, URLs, text), shared by the client's checks and
the sandbox gateway so that both judge a value alike."""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import date
from urllib.parse import urlsplit

__all__ = [
    "COUNTRY",
    "CURRENCY",
    "EMAIL",
    "has_control_characters",
    "is_date",
    "is_http_url",
]

#: ISO 3166-1 alpha-2: two upper-case ASCII letters.
COUNTRY = re.compile(r"[A-Z]{2}")
#: ISO 4217: three upper-case ASCII letters.
CURRENCY = re.compile(r"[A-Z]{3}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# C0 and C1 controls, line and paragraph separators, and the bidirectional marks, embeddings,
# overrides and isolates that can make a name display as something else ("Trojan source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# A URL is printable ASCII without spaces (RFC 3986); other characters must be percent-encoded.
_URL_TEXT = re.compile(r"[!-~]+")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character or a bidirectional-formatting character."""
    # isprintable() is one fast C pass and False for every character _CONTROL matches.
    return not text.isprintable() and _CONTROL.search(text) is not None


def is_date(value: str) -> bool:
    """Whether ``value`` is a real calendar date written ``yyyy-MM-dd``."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_host(host: str) -> bool:
    if ":" in host or host.replace(".", "").isdigit():  # looks like an IP address: it must be one
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


# A merchant sends a handful of notify URLs, the same on every payout: remember the verdicts.
@functools.lru_cache(maxsize=256)
def is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute ``http``/``https`` URL PayerMax can post to: printable ASCII,
    a valid host name or IP address, a valid port if any, and no ``user:password@`` part."""
    if not _URL_TEXT.fullmatch(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number below 65536
    except ValueError:  # e.g. "http://[::1": an unbalanced IPv6 bracket
        return False
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return False
    host = parts.hostname
    return host is not None and _is_host(host)

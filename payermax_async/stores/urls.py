"""Open a journal from a URL, as the ``payermax journal`` commands take it (``--journal URL``).

=========================================  ==================================================
``sqlite:///journal.db``                    :class:`SQLiteStore` on a relative path
``sqlite:////var/lib/payouts/journal.db``   :class:`SQLiteStore` on an absolute path
``redis://host:6379/0?prefix=payermax:``    :class:`RedisStore` (``rediss://`` for TLS)
``postgresql://user@host/db?schema=x``      :class:`PostgresStore` (``postgres://`` too)
=========================================  ==================================================

A URL may carry a password, so no message here repeats it.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError
from ._journal import JournalStore
from .postgres import PostgresStore
from .redis import RedisStore
from .sqlite import SQLiteStore

__all__ = ["open_store"]


def _pop_option(url: str, name: str) -> tuple[str, str | None]:
    """``url`` without its ``name`` query option, and that option's value."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    values = [value for key, value in query if key == name]
    rest = urlencode([(key, value) for key, value in query if key != name])
    return urlunsplit(parts._replace(query=rest)), (values[-1] if values else None)


def _sqlite(url: str) -> JournalStore:
    path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not path or "?" in path:
        msg = "a SQLite journal URL is sqlite:///relative/path or sqlite:////absolute/path"
        raise ConfigurationError(msg)
    return SQLiteStore(path)


def _redis(url: str) -> JournalStore:
    rest, prefix = _pop_option(url, "prefix")
    return RedisStore(rest, prefix=prefix if prefix is not None else "payermax:")


def _postgres(url: str) -> JournalStore:
    rest, schema = _pop_option(url, "schema")
    return PostgresStore(rest, schema=schema or "payermax")


#: One opener per URL scheme; another store is one more entry.
_OPENERS: dict[str, Callable[[str], JournalStore]] = {
    "sqlite": _sqlite,
    "redis": _redis,
    "rediss": _redis,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_store(url: str) -> JournalStore:
    """The journal a URL names (table in the module docstring); the caller closes it.

    Raises:
        ConfigurationError: an unknown scheme or a malformed URL (the URL itself is not repeated:
            it may hold a password), or the store's package is not installed.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{name}://" for name in _OPENERS)
        msg = f"unsupported journal URL scheme {scheme!r}: use one of {known}"
        raise ConfigurationError(msg)
    return opener(url)

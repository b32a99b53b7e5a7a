"""``open_store(url)``: a journal from a URL, for the ``payermax`` command and for configuration files.

=================================================  =============================================
URL                                                store
=================================================  =============================================
``sqlite:///relative/path.db``,                    :class:`~payermax_async.SQLiteStore` (three
``sqlite:////absolute/path.db``                    slashes, then the path, as SQLAlchemy writes it)
``redis://host:6379/0``, ``rediss://...``,         :class:`~payermax_async.RedisStore` on one node
``unix:///run/redis.sock``
``redis+cluster://host:port[,host:port...]``,      :class:`~payermax_async.RedisStore` on a Redis
``rediss+cluster://...``                           Cluster (hash-tagged keys)
``postgresql://user@host/db?schema=payermax``,     :class:`~payermax_async.PostgresStore`
``postgres://...``
=================================================  =============================================

Redis URLs take ``?prefix=...`` for a key prefix other than ``payermax:`` (the same prefix the
application's ``RedisStore`` uses, or the journal will look empty); PostgreSQL URLs take
``?schema=...``. A URL may carry a password, so no message here repeats a network URL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError
from ._journal import JournalStore

__all__ = ["open_store"]


def _sqlite_path(url: str) -> str:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path:
        msg = "a SQLite journal URL is sqlite:///relative/path.db or sqlite:////absolute/path.db"
        raise ConfigurationError(msg)
    return path


def _sqlite(url: str) -> JournalStore:
    from .sqlite import SQLiteStore

    return SQLiteStore(_sqlite_path(url))


def _sqlite_exists(url: str) -> bool:
    return Path(_sqlite_path(url)).is_file()


def _redis(url: str) -> JournalStore:
    from .redis import RedisStore

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for key, value in query if key == "prefix"), "payermax:")
    rest = urlencode([(key, value) for key, value in query if key != "prefix"])
    return RedisStore.from_url(urlunsplit(parts._replace(query=rest)), prefix=prefix)


def _postgres(url: str) -> JournalStore:
    from .postgres import PostgresStore

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), "payermax")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return PostgresStore(urlunsplit(parts._replace(query=rest)), schema=schema)


#: One opener per URL scheme; a new kind of store is one more entry.
_OPENERS: dict[str, Callable[[str], JournalStore]] = {
    "sqlite": _sqlite,
    "redis": _redis,
    "rediss": _redis,
    "unix": _redis,
    "redis+cluster": _redis,
    "rediss+cluster": _redis,
    "postgresql": _postgres,
    "postgres": _postgres,
}
#: How to tell that a journal exists, for schemes where opening one would create it.
_EXISTS: dict[str, Callable[[str], bool]] = {"sqlite": _sqlite_exists}


def open_store(url: str, *, create: bool = True) -> JournalStore:
    """The journal at ``url`` (see the module docstring for the forms). The caller closes it.

    Args:
        url: where the journal is.
        create: whether a journal may be created where none is (``False`` for tools that only
            read one: a mistyped SQLite path is then an error, not an empty journal).

    Raises:
        ConfigurationError: an unknown scheme, a malformed URL, a missing driver, or (with
            ``create=False``) no SQLite file at the path.
    """
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{name}://" for name in sorted(_OPENERS))
        msg = f"unknown journal URL scheme {scheme!r}; use one of {known}"
        raise ConfigurationError(msg)
    exists = _EXISTS.get(scheme)
    if not create and exists is not None and not exists(url):
        msg = f"no journal at {url!r}"
        raise ConfigurationError(msg)
    return opener(url)

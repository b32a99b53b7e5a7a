"""What the journal commands print: a record's safe fields, aligned tables, CSV a spreadsheet cannot
turn into a formula, and a journal opened from ``--journal`` (or ``PAYERMAX_JOURNAL_URL``)."""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TextIO

from ..errors import ConfigurationError
from ._common import out

if TYPE_CHECKING:
    from ..stores._journal import JournalStore
    from ..stores.base import PayoutRecord

__all__ = [
    "JOURNAL_ENV",
    "add_journal_option",
    "open_journal",
    "print_table",
    "record_view",
    "safe_cell",
    "write_csv",
]

#: Where ``--journal`` is read from when it is not given (e.g. in a cron job's environment).
JOURNAL_ENV = "PAYERMAX_JOURNAL_URL"
#: Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def add_journal_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--journal URL`` (default: ``$PAYERMAX_JOURNAL_URL``)."""
    parser.add_argument(
        "--journal",
        metavar="URL",
        default=os.environ.get(JOURNAL_ENV),
        help=(
            "the journal: sqlite:///path.db, redis://host:6379/0, rediss://..., "
            "redis+cluster://host:port[,host:port] (?prefix=... for Redis), "
            f"postgresql://user@host/db (?schema=...); default ${JOURNAL_ENV}"
        ),
    )


def open_journal(url: str | None) -> JournalStore:
    """The journal named by ``--journal``; it must exist (a typo never reads as an empty journal).

    Raises:
        ConfigurationError: no URL, an unusable one, or no journal there.
    """
    from ..stores.urls import open_store

    if not url:
        msg = f"say which journal: --journal URL or ${JOURNAL_ENV}"
        raise ConfigurationError(msg)
    return open_store(url, create=False)


def _time(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object) -> str:
    return getattr(value, "value", None) or ("" if value is None else str(value))


#: The fields an operator sees, in order. The journal holds no payee data; the recorded gateway
#: answer (``result``) and the request's fingerprint are left out all the same.
_FIELDS: list[tuple[str, Callable[[PayoutRecord], object]]] = [
    ("outTradeNo", lambda r: r.out_trade_no),
    ("state", lambda r: r.state.value),
    ("status", lambda r: _text(r.status)),
    ("tradeNo", lambda r: r.trade_no or ""),
    ("amount", lambda r: r.amount or ""),
    ("currency", lambda r: r.currency or ""),
    ("orderAmount", lambda r: r.order_amount or ""),
    ("orderCurrency", lambda r: r.order_currency or ""),
    ("attempts", lambda r: r.attempts),
    ("maybeSent", lambda r: r.maybe_sent),
    ("errorCode", lambda r: r.error_code or ""),
    ("lastError", lambda r: r.last_error or ""),
    ("notifiedStatus", lambda r: _text(r.notified_status)),
    ("owner", lambda r: r.owner or ""),
    ("leaseExpires", lambda r: _time(r.lease_expires)),
    ("sentUntil", lambda r: _time(r.sent_until)),
    ("createdAt", lambda r: _time(r.created_at)),
    ("updatedAt", lambda r: _time(r.updated_at)),
]
#: The column names of :func:`record_view`, for CSV headers.
RECORD_COLUMNS = [name for name, _ in _FIELDS]


def record_view(record: PayoutRecord) -> dict[str, object]:
    """A record's fields for printing, by their camelCase names (numbers whole: they are yours)."""
    return {name: read(record) for name, read in _FIELDS}


def safe_cell(value: object) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula (a leading ``'`` added)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def write_csv(stream: TextIO, columns: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """A header and one line per row, every cell through :func:`safe_cell`."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([safe_cell(column) for column in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(column)) for column in columns])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns, two spaces apart."""
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

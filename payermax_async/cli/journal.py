"""``payermax journal``: see and settle the payout journal from the shell, in any store.

Every action takes ``--journal URL`` (or ``$PAYERMAX_JOURNAL_URL``): ``sqlite:///path.db``,
``redis://``, ``rediss://``, ``redis+cluster://``, ``postgresql://`` (see
:mod:`payermax_async.stores.urls`). ``migrate`` creates or upgrades a PostgreSQL journal's schema
(SQLite and Redis journals need none).
Numbers are shown whole (they are the operator's own ids); the journal holds no payee data.

Exit status: 0 done; 1 an error (one line on stderr); 3 something needs attention: ``list
--fail-if-any`` listed a record, or ``reconcile`` left payouts unsettled.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigurationError
from ..stores.base import OPEN_STATES, OpenRecords, PayoutRecord, RecordState
from ._common import Commands, Handler, out, print_fields, print_json
from ._tables import (
    RECORD_COLUMNS,
    add_journal_option,
    open_journal,
    print_table,
    record_view,
    write_csv,
)

__all__ = ["EXIT_ATTENTION", "register"]

EXIT_ATTENTION = 3
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STATES = [state.value for state in RecordState]


def _duration(text: str) -> float:
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        msg = f"not a duration like 90s, 15m, 2h or 1d: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def _add_list(parser: argparse.ArgumentParser) -> None:
    add_journal_option(parser)
    parser.add_argument(
        "--state",
        action="append",
        choices=[*_STATES, "open", "all"],
        help="only records in this state (repeatable); default: open (CLAIMED, SENT, IN_DOUBT)",
    )
    parser.add_argument(
        "--older-than",
        type=_duration,
        metavar="AGE",
        help="only records created at least AGE ago (90s, 15m, 2h, 1d)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--fail-if-any",
        action="store_true",
        help=f"exit {EXIT_ATTENTION} when anything is listed (for cron and alerting)",
    )


def _wanted(choices: list[str] | None) -> frozenset[RecordState]:
    names = set(choices or ["open"])
    if "all" in names:
        return frozenset(RecordState)
    states = {RecordState(name) for name in names if name not in ("open", "all")}
    return frozenset(states | (OPEN_STATES if "open" in names else set()))


async def _read(url: str | None, states: frozenset[RecordState]) -> OpenRecords:
    store = open_journal(url)
    try:
        # The open records are indexed in every store; anything else means reading the journal.
        return await (store.scan_open() if states <= OPEN_STATES else store.records_between())
    finally:
        await store.aclose()


def _warn_unreadable(numbers: list[str]) -> None:
    for number in numbers:
        sys.stderr.write(f"payermax: warning: journal record {number} cannot be read\n")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


def _list(args: argparse.Namespace) -> int:
    states = _wanted(args.state)
    scan = asyncio.run(_read(args.journal, states))
    now = time.time()
    cutoff = now - args.older_than if args.older_than is not None else float("inf")
    records = sorted(
        (r for r in scan.records if r.state in states and r.created_at <= cutoff),
        key=lambda record: (record.created_at, record.out_trade_no),
    )
    _warn_unreadable(scan.unreadable)
    if args.json:
        print_json({"records": [record_view(r) for r in records], "unreadable": scan.unreadable})
    else:
        rows = [_row(record, now) for record in records]
        headers = ["OUT_TRADE_NO", "STATE", "STATUS", "AMOUNT", "CURRENCY", "ATTEMPTS", "AGE"]
        print_table([*headers, "LAST_ERROR"], rows)
        out(f"{len(records)} record(s)")
    listed = bool(records or scan.unreadable)
    return EXIT_ATTENTION if args.fail_if_any and listed else 0


def _row(record: PayoutRecord, now: float) -> list[str]:
    return [
        record.out_trade_no,
        record.state.value,
        record.status.value if record.status else "",
        record.amount or record.order_amount or "",
        record.currency or record.order_currency or "",
        str(record.attempts),
        _age(now - record.created_at),
        record.last_error or "",
    ]


def _add_show(parser: argparse.ArgumentParser) -> None:
    add_journal_option(parser)
    parser.add_argument("out_trade_no", metavar="OUT_TRADE_NO")
    parser.add_argument("--json", action="store_true", help="print JSON instead of fields")


def _show(args: argparse.Namespace) -> int:
    async def run() -> PayoutRecord | None:
        store = open_journal(args.journal)
        try:
            return await store.get(args.out_trade_no)
        finally:
            await store.aclose()

    record = asyncio.run(run())
    if record is None:
        msg = f"the journal holds no record of {args.out_trade_no}"
        raise ConfigurationError(msg)
    view = record_view(record)
    print_json(view) if args.json else print_fields(view)
    return 0


def _add_reconcile(parser: argparse.ArgumentParser) -> None:
    add_journal_option(parser)
    parser.add_argument(
        "--include-leased",
        action="store_true",
        help="also settle records another process holds (only when no other process is running)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def _reconcile(args: argparse.Namespace) -> int:
    from .._config import PayerMaxConfig
    from ._gateway import cli_client

    config = PayerMaxConfig.from_env()  # before touching the journal: a clear error first

    async def run() -> dict[str, list[str]]:
        store = open_journal(args.journal)
        try:
            async with cli_client(config, store=store) as client:
                report = await client.payouts.reconcile(include_leased=args.include_leased)
        finally:
            await store.aclose()
        return {
            "found": [f"{order.out_trade_no} {order.status.value}" for order in report],
            **{name: list(getattr(report, name)) for name in _REPORT_LISTS},
        }

    outcome = asyncio.run(run())
    if args.json:
        print_json(outcome)
    else:
        for name, entries in outcome.items():
            for entry in entries:
                out(f"{name:<10}  {entry}")
        out(", ".join(f"{len(entries)} {name}" for name, entries in outcome.items()))
    settled = not any(outcome[name] for name in _REPORT_LISTS if name != "absent")
    return 0 if settled else EXIT_ATTENTION


_REPORT_LISTS = ("absent", "in_doubt", "conflicts", "unreadable", "skipped")


def _add_export(parser: argparse.ArgumentParser) -> None:
    add_journal_option(parser)
    parser.add_argument(
        "--csv", action="store_true", default=True, help="CSV, one row per record (the default)"
    )
    parser.add_argument("--out", type=Path, metavar="FILE.csv", help="write here, not to stdout")


def _export(args: argparse.Namespace) -> int:
    scan = asyncio.run(_read(args.journal, frozenset(RecordState)))
    records = sorted(scan.records, key=lambda record: (record.created_at, record.out_trade_no))
    rows = [record_view(record) for record in records]
    if args.out is None:
        write_csv(sys.stdout, RECORD_COLUMNS, rows)
    else:
        with args.out.open("w", encoding="utf-8", newline="") as handle:
            write_csv(handle, RECORD_COLUMNS, rows)
        sys.stderr.write(f"payermax: {len(rows)} record(s) written to {args.out}\n")
    _warn_unreadable(scan.unreadable)
    return 0


#: One entry per action: name, help, its arguments, its handler (a new action is one more entry).
def _add_migrate(parser: argparse.ArgumentParser) -> None:
    add_journal_option(parser)


def _migrate(args: argparse.Namespace) -> int:
    return asyncio.run(_run_migrate(args.journal))


async def _run_migrate(url: str | None) -> int:
    from ..stores.postgres import PostgresStore
    from ..stores.urls import open_store

    if not url:
        msg = "say which journal: --journal URL or $PAYERMAX_JOURNAL_URL"
        raise ConfigurationError(msg)
    store = open_store(url)
    try:
        if not isinstance(store, PostgresStore):
            out(f"{type(store).__name__} needs no migration: nothing to do")
            return 0
        applied = await store.migrate()
        if applied:
            versions = ", ".join(str(version) for version in applied)
            out(f"schema {store.schema!r} migrated to version {applied[-1]} (applied {versions})")
        else:
            out(f"schema {store.schema!r} is up to date")
        return 0
    finally:
        await store.aclose()


_ACTIONS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = [
    ("list", "list records (default: the open ones) by state and age", _add_list, _list),
    ("show", "show one record", _add_show, _show),
    ("reconcile", "settle open records by querying the gateway", _add_reconcile, _reconcile),
    ("export", "write every record as CSV", _add_export, _export),
    (
        "migrate",
        "create or upgrade a PostgreSQL journal's schema (SQLite, Redis: nothing to do)",
        _add_migrate,
        _migrate,
    ),
]


def register(commands: Commands) -> None:
    """Add ``payermax journal`` and its actions."""
    journal = commands.add_parser(
        "journal",
        help="see and settle the payout journal (any store, by --journal URL)",
        description=(
            "See and settle the payout journal: sqlite:///path.db, redis://, rediss://, "
            "redis+cluster:// or postgresql:// (--journal URL or $PAYERMAX_JOURNAL_URL). "
            "Exit status 3: "
            "something needs attention (list --fail-if-any listed a record; reconcile left "
            "payouts unsettled)."
        ),
    )
    actions = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    for name, help_text, add_arguments, handler in _ACTIONS:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        add_arguments(parser)
        parser.set_defaults(handler=handler)

"""``payermax reconcile day DATE --journal URL --out report.csv``: one day at the gateway against the
journal (:meth:`~payermax_async.resources.payouts.Payouts.reconcile_day`), configured by ``PAYERMAX_*``.

Exit status: 0 nothing needs action; 1 an error; 3 something needs action (see the report).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import Commands, out, print_json
from ._tables import add_journal_option, open_journal, write_csv

if TYPE_CHECKING:
    from ..resources.day_report import DayMismatch, DayReport

__all__ = ["register"]

EXIT_ACTION = 3
_COLUMNS = (
    "outTradeNo",
    "kind",
    "needsAction",
    "journalState",
    "journalStatus",
    "gatewayStatus",
    "journalAmount",
    "journalCurrency",
    "gatewayAmount",
    "gatewayCurrency",
    "note",
)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"not a date like 2026-11-30: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _zone(text: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"not a time zone like UTC or Asia/Jakarta: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def register(commands: Commands) -> None:
    """Add ``payermax reconcile``."""
    reconcile = commands.add_parser(
        "reconcile", help="compare the gateway with the journal (configured by PAYERMAX_*)"
    )
    actions = reconcile.add_subparsers(dest="reconcile_command", metavar="ACTION", required=True)
    day = actions.add_parser(
        "day",
        help="one calendar day: orders, statuses, amounts",
        description=(
            "Batch-query every order of DATE at the gateway, compare them with the journal, "
            "advance statuses the journal is behind on (forward only) and report the rest. "
            f"Exit status {EXIT_ACTION} when anything needs action."
        ),
    )
    day.add_argument("date", type=_day, metavar="DATE", help="the day, e.g. 2026-11-30")
    add_journal_option(day)
    day.add_argument("--tz", type=_zone, default=None, metavar="ZONE", help="default: UTC")
    day.add_argument("--out", type=Path, metavar="REPORT.csv", help="write the mismatches here")
    day.add_argument("--json", action="store_true", help="print JSON instead of lines")
    day.set_defaults(handler=_day_command)


def _day_command(args: argparse.Namespace) -> int:
    from datetime import timezone

    from .._config import PayerMaxConfig
    from ._gateway import cli_client

    config = PayerMaxConfig.from_env()  # before touching the journal: a clear error first

    async def run() -> DayReport:
        store = open_journal(args.journal)
        try:
            async with cli_client(config, store=store) as client:
                return await client.payouts.reconcile_day(args.date, tz=args.tz or timezone.utc)
        finally:
            await store.aclose()

    report = asyncio.run(run())
    rows = [_row(mismatch) for mismatch in report.mismatches]
    if args.out is not None:
        with args.out.open("w", encoding="utf-8", newline="") as handle:
            write_csv(handle, _COLUMNS, rows)
    if args.json:
        print_json({"ok": report.ok, "summary": report.summary(), "mismatches": rows})
    else:
        for line in report.summary():
            out(line)
        for row in rows:
            flag = "!" if row["needsAction"] else " "
            out(f"{flag} {row['kind']:<17} {row['outTradeNo']}  {row['note']}".rstrip())
    if args.out is not None:
        sys.stderr.write(f"payermax: {len(rows)} mismatch(es) written to {args.out}\n")
    return 0 if report.ok else EXIT_ACTION


def _row(mismatch: DayMismatch) -> dict[str, object]:
    return {
        "outTradeNo": mismatch.out_trade_no,
        "kind": mismatch.kind.value,
        "needsAction": mismatch.needs_action,
        "journalState": mismatch.journal_state,
        "journalStatus": mismatch.journal_status,
        "gatewayStatus": mismatch.gateway_status,
        "journalAmount": mismatch.journal_amount,
        "journalCurrency": mismatch.journal_currency,
        "gatewayAmount": mismatch.gateway_amount,
        "gatewayCurrency": mismatch.gateway_currency,
        "note": mismatch.note,
    }

"""``payermax payouts``: create, get, list and bulk-pay payouts (configured by ``PAYERMAX_*``)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ._common import Commands, flatten, out, print_fields, print_json, wire
from ._json_file import read_payout_file

if TYPE_CHECKING:
    from .._client import PayerMaxClient

__all__ = ["register"]


def _timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"not an ISO 8601 date or time: {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def register(commands: Commands) -> None:
    """Add ``payermax payouts``."""
    payouts = commands.add_parser(
        "payouts", help="create, get, list and bulk-pay payouts (configured by PAYERMAX_*)"
    )
    actions = payouts.add_subparsers(dest="payouts_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a payout from a JSON file of its data")
    create.add_argument("file", metavar="FILE.json|-", help="the payout's data object; - for stdin")
    get = actions.add_parser("get", help="show one payout")
    get.add_argument("out_trade_no", metavar="OUT_TRADE_NO")
    listing = actions.add_parser("list", help="list payouts created in a time window")
    listing.add_argument("--begin", type=_timestamp, required=True, help="ISO 8601, UTC if naive")
    listing.add_argument("--end", type=_timestamp, required=True, help="ISO 8601, UTC if naive")
    listing.add_argument("--status", choices=["PENDING", "SUCCESS", "FAILED", "BOUNCEBACK"])
    listing.add_argument("--country", metavar="CC", help="two-letter country code")
    for parser, handler in ((create, _create), (get, _get), (listing, _list)):
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.set_defaults(handler=handler)
    from .bulk import register as add_bulk

    add_bulk(actions)


def _client() -> PayerMaxClient:
    from ._gateway import cli_client

    return cli_client()


def _create(args: argparse.Namespace) -> int:
    data = read_payout_file(args.file)
    # Named whole in an error line (the file's own number; the payee data stays masked).
    args.out_trade_no = data.get("outTradeNo")

    async def run() -> object:
        # A resubmitted outTradeNo is answered ORDER_REPEAT by the gateway; the client then queries
        # the order and this prints its current state (nothing is paid twice).
        async with _client() as client:
            return wire(await client.payouts.create(data))

    result = asyncio.run(run())
    print_json(result) if args.json else print_fields(result)
    return 0


def _get(args: argparse.Namespace) -> int:
    async def run() -> object:
        async with _client() as client:
            return wire(await client.payouts.retrieve(args.out_trade_no))

    order = asyncio.run(run())
    print_json(order) if args.json else print_fields(order)
    return 0


_LIST_COLUMNS = ("transactionUtcTime", "outTradeNo", "status", "trade.amount", "trade.currency")


def _list(args: argparse.Namespace) -> int:
    async def run() -> list[object]:
        async with _client() as client:
            return [
                wire(order)
                async for order in client.payouts.list(
                    begin=args.begin, end=args.end, status=args.status, country=args.country
                )
            ]

    orders = asyncio.run(run())
    if args.json:
        print_json(orders)
        return 0
    rows = [
        [dict(flatten(order, "")).get(column, "") for column in _LIST_COLUMNS] for order in orders
    ]
    headers = ["CREATED (UTC)", "OUT_TRADE_NO", "STATUS", "AMOUNT", "CURRENCY"]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    out(f"{len(rows)} payout(s)")
    return 0

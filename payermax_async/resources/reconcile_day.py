"""``client.payouts.reconcile_day()``: the gateway's orders of one day against the journal.

1. List the day's orders at the gateway (``paymentOrderBatchQry``, every page) and read the journal
   records created that day (``store.records_between``).
2. Each gateway order against its record (looked up by number when it was created another day):
   no record → ``UNKNOWN_ORDER``; another amount or currency → ``AMOUNT_MISMATCH`` (nothing
   adopted: one number, one payout); the journal behind → advanced with ``record_result``, forward
   only (``JOURNAL_BEHIND``); the journal's status not reachable from the gateway's →
   ``JOURNAL_AHEAD``.
3. Each journal record that says it was (maybe) sent and that the listing lacks is queried by
   number (near midnight an order may be stamped the next day): found → compared as above; a
   signed ``ORDER_NOT_EXIST`` proves absence only an absence window after the last possible send
   (``docs/protocol.md`` §8): ``MISSING_ORDER`` then, ``NOT_YET_PROVABLE`` before.

It reports; apart from advancing statuses it changes nothing: it never makes a record re-sendable
(that is ``reconcile()``'s job, under a lease) and never records an order the journal did not know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TypeVar

from ..errors import ConfigurationError, PayerMaxError, ValidationError
from ..middleware.journal import Journal
from ..middleware.settle import Send
from ..middleware.verdicts import describe
from ..models.payouts import PayoutOrder, is_forward
from ..stores._journal import order_fact, same_amount
from ..stores.base import KNOWN_STATES, MAYBE_SENT_STATES, OpenRecords, PayoutRecord, RecordState
from .day_report import DayMismatch, DayReport, MismatchKind
from .listing import day_windows, list_orders
from .lookup import query_payout

__all__ = ["day_bounds", "reconcile_day"]

T = TypeVar("T")
_PAGE_SIZE = 100


def day_bounds(day: object, tz: object) -> tuple[datetime, datetime]:
    """``[start, end)`` of the calendar ``day`` in ``tz`` (25 or 23 hours across a DST change).

    Raises:
        ValidationError: ``day`` is not a ``datetime.date`` (a ``datetime`` is refused: it would be
            ambiguous), or ``tz`` is not a ``tzinfo``.
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        msg = "date must be a datetime.date (a calendar day), e.g. date(2026, 11, 30)"
        raise ValidationError(msg, field="date")
    if not isinstance(tz, tzinfo):
        msg = "tz must be a tzinfo, e.g. datetime.timezone.utc or zoneinfo.ZoneInfo(...)"
        raise ValidationError(msg, field="tz")
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


async def reconcile_day(
    journal: Journal,
    send: Send,
    batch_api: str,
    day: date,
    tz: tzinfo = timezone.utc,
    *,
    concurrency: int = 8,
) -> DayReport:
    """Compare the gateway's orders of ``day`` with the journal (module docstring).

    Raises:
        ValidationError: a bad ``day`` or ``tz`` (before any I/O).
        ConfigurationError: the journal's store cannot list its records by time.
        PayerMaxError: the batch query failed (nothing is reported half-way).
    """
    start, end = day_bounds(day, tz)
    lister: Callable[[float, float], Awaitable[OpenRecords]] | None = getattr(
        journal.store, "records_between", None
    )
    if lister is None:
        msg = f"{type(journal.store).__name__} cannot list its records by day (records_between)"
        raise ConfigurationError(msg)
    scan = await lister(start.timestamp(), end.timestamp())
    report = DayReport(day, start, end)
    report.count_records(scan.records)
    for number in scan.unreadable:
        report.mismatches.append(
            DayMismatch.of(
                MismatchKind.UNCHECKED, number, None, None, note="journal record cannot be read"
            )
        )
    orders: dict[str, PayoutOrder] = {}
    windows = day_windows(start, end)
    async for order in list_orders(send, batch_api, windows, {}, _PAGE_SIZE):
        if _on_day(order, start, end):
            orders[order.out_trade_no] = order
    report.count_orders(orders.values())
    day_run = _DayRun(journal, send, report)
    records = {record.out_trade_no: record for record in scan.records}
    await _bounded(
        (day_run.order(order, records.get(number)) for number, order in orders.items()),
        concurrency,
    )
    unlisted = [r for n, r in records.items() if n not in orders and _maybe_at_gateway(r)]
    await _bounded((day_run.unlisted(record) for record in unlisted), concurrency)
    return report


def _on_day(order: PayoutOrder, start: datetime, end: datetime) -> bool:
    # The batch window's end second is inclusive at the gateway: an order stamped exactly at the
    # next midnight belongs to the next day. An order without a time is kept (it was listed).
    moment = order.transaction_utc_time
    if moment is None:
        return True
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return start <= moment < end


def _maybe_at_gateway(record: PayoutRecord) -> bool:
    """Whether the journal says an order may exist (so the gateway should list it)."""
    return (
        record.state in KNOWN_STATES or record.state in MAYBE_SENT_STATES or record.maybe_sent
    ) and record.state is not RecordState.CONFLICT


async def _bounded(steps: Iterable[Awaitable[None]], concurrency: int) -> None:
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(step: Awaitable[None]) -> None:
        async with limit:
            await step

    await asyncio.gather(*(one(step) for step in steps))


class _DayRun:
    """One day's comparison: adds to the report, advances the journal forward only."""

    def __init__(self, journal: Journal, send: Send, report: DayReport) -> None:
        self._journal = journal
        self._send = send
        self._report = report

    def _add(
        self,
        kind: MismatchKind,
        number: str,
        record: PayoutRecord | None,
        order: PayoutOrder | None,
        *,
        needs_action: bool = True,
        note: str = "",
    ) -> None:
        self._report.mismatches.append(
            DayMismatch.of(kind, number, record, order, needs_action=needs_action, note=note)
        )

    async def order(self, order: PayoutOrder, record: PayoutRecord | None) -> None:
        """One order of the day's listing against the journal."""
        number = order.out_trade_no
        if record is None:
            try:
                record = await self._journal.store.get(number)  # created on another day?
            except PayerMaxError as exc:
                self._add(MismatchKind.UNCHECKED, number, None, order, note=describe(exc))
                return
        if record is None:
            self._add(MismatchKind.UNKNOWN_ORDER, number, None, order, note="not in the journal")
            return
        await self.compare(order, record)

    async def compare(self, order: PayoutOrder, record: PayoutRecord) -> None:
        """An order the gateway reported against the record of its number."""
        number = order.out_trade_no
        trade = order.trade
        amount = record.amount or record.order_amount
        currency = record.currency or record.order_currency
        differs = trade is not None and (
            (
                trade.amount is not None
                and amount is not None
                and not same_amount(trade.amount, amount)
            )
            or (trade.currency is not None and currency is not None and trade.currency != currency)
        )
        if differs or record.state is RecordState.CONFLICT:
            note = "journal holds CONFLICT" if record.state is RecordState.CONFLICT else ""
            self._add(MismatchKind.AMOUNT_MISMATCH, number, record, order, note=note)
            return
        if record.status is order.status and record.state in KNOWN_STATES:
            return
        if record.status is not None and not is_forward(record.status, order.status):
            self._add(MismatchKind.JOURNAL_AHEAD, number, record, order)
            return
        # The journal is behind: adopt the gateway's fact, forward only (the store's rules).
        written = await self._journal.write(
            self._journal.store.record_result(number, order_fact(order))
        )
        if written is None:
            self._add(MismatchKind.UNCHECKED, number, record, order, note="journal write failed")
            return
        # Behind is routine (a notification not processed yet) unless the journal held the payout
        # as never made: then the application was told it was not paid, and it was.
        known_absent = record.is_known_absent()
        note = f"journal held {record.state.value}; advanced" if known_absent else "advanced"
        self._add(
            MismatchKind.JOURNAL_BEHIND, number, record, order, needs_action=known_absent, note=note
        )

    async def unlisted(self, record: PayoutRecord) -> None:
        """A journal record of the day that the listing lacks: ask for it by number."""
        number = record.out_trade_no
        queried_at = self._journal.now()
        try:
            found = await query_payout(self._send, number, None)
        except PayerMaxError as exc:
            self._add(MismatchKind.UNCHECKED, number, record, None, note=describe(exc))
            return
        if found.order is not None:
            await self.compare(found.order, record)  # stamped another day at the gateway
        elif self._absence_proven(record, queried_at):
            self._add(MismatchKind.MISSING_ORDER, number, record, None, note="ORDER_NOT_EXIST")
        else:
            note = "ORDER_NOT_EXIST inside the absence window"
            kind = MismatchKind.NOT_YET_PROVABLE
            self._add(kind, number, record, None, needs_action=False, note=note)

    def _absence_proven(self, record: PayoutRecord, queried_at: float) -> bool:
        # A record the journal holds as sent or accepted: absence needs the whole window since the
        # last moment a request may have left, whether or not the record is marked maybe-sent.
        if record.maybe_sent:
            return self._journal.absence_proven(record, queried_at)
        since = record.sent_until if record.sent_until is not None else record.updated_at
        return queried_at >= since + self._journal.absence_window

"""What ``client.payouts.reconcile_day()`` found: the mismatches of one day, and its totals."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

import attrs

from ..models.payouts import PayoutOrder
from ..stores.base import PayoutRecord

__all__ = ["DayMismatch", "DayReport", "MismatchKind", "Totals"]


class MismatchKind(str, enum.Enum):
    """How the gateway's view of a payout differs from the journal's (``docs/operating.md``)."""

    #: (a) The gateway holds an order the journal does not know.
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    #: (b) The journal says it was sent or accepted; the gateway has no such order (signed
    #: ``ORDER_NOT_EXIST``, queried past the absence window).
    MISSING_ORDER = "MISSING_ORDER"
    #: (c) The journal was behind the gateway's status and has been advanced (forward only). Needs
    #: action only if the journal held the payout as never made (refused or never sent).
    JOURNAL_BEHIND = "JOURNAL_BEHIND"
    #: (c) The journal's status is not one the gateway's can move to (ahead, or contradicting it).
    JOURNAL_AHEAD = "JOURNAL_AHEAD"
    #: (d) Another amount or currency at the gateway than in the journal; nothing adopted.
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    #: Not at the gateway yet, but inside the absence window: absence is not proven. No action.
    NOT_YET_PROVABLE = "NOT_YET_PROVABLE"
    #: Could not be compared: a query failed or the journal record cannot be read. Run again.
    UNCHECKED = "UNCHECKED"


@attrs.frozen
class DayMismatch:
    """One payout whose gateway and journal views differ. Numbers and amounts only: no payee data.

    Attributes:
        out_trade_no: the merchant's number.
        kind: what differs.
        needs_action: whether someone has to look at it (see :class:`MismatchKind`).
        journal_state: the record's state before this run (``""`` when the journal has none).
        journal_status: the record's payout status before this run.
        gateway_status: the order's status at the gateway (``""`` when it has none).
        journal_amount: what the journal says was sent (or was reported before).
        journal_currency: its currency.
        gateway_amount: the order's amount at the gateway.
        gateway_currency: its currency.
        note: a short explanation.
    """

    out_trade_no: str
    kind: MismatchKind
    needs_action: bool
    journal_state: str = ""
    journal_status: str = ""
    gateway_status: str = ""
    journal_amount: str = ""
    journal_currency: str = ""
    gateway_amount: str = ""
    gateway_currency: str = ""
    note: str = ""

    @classmethod
    def of(
        cls,
        kind: MismatchKind,
        number: str,
        record: PayoutRecord | None,
        order: PayoutOrder | None,
        *,
        needs_action: bool = True,
        note: str = "",
    ) -> DayMismatch:
        """A mismatch from the journal record and the gateway order, either of which may be absent."""
        trade = order.trade if order is not None else None
        return cls(
            out_trade_no=number,
            kind=kind,
            needs_action=needs_action,
            journal_state=record.state.value if record is not None else "",
            journal_status=record.status.value if record and record.status else "",
            gateway_status=order.status.value if order is not None else "",
            journal_amount=(record.amount or record.order_amount or "") if record else "",
            journal_currency=(record.currency or record.order_currency or "") if record else "",
            gateway_amount=str(trade.amount) if trade and trade.amount is not None else "",
            gateway_currency=trade.currency or "" if trade else "",
            note=note,
        )


@attrs.frozen
class Totals:
    """How many payouts, and their sum, in one currency and status."""

    count: int = 0
    amount: Decimal = Decimal(0)

    def plus(self, amount: object) -> Totals:
        """These totals with one more payout of ``amount`` (an unreadable amount only counts)."""
        try:
            value = Decimal(str(amount)) if amount not in (None, "") else Decimal(0)
        except InvalidOperation:
            value = Decimal(0)
        return Totals(self.count + 1, self.amount + (value if value.is_finite() else 0))


#: ``(currency, status)`` → totals; the journal uses the record state where no status is known.
TotalsTable = dict[tuple[str, str], Totals]


class DayReport:
    """The outcome of :meth:`~payermax_async.resources.payouts.Payouts.reconcile_day`.

    ``repr(report)`` names every mismatched ``outTradeNo`` by kind; :meth:`summary` adds counts and
    totals per currency and status, for the gateway's orders of the day and the journal's records.

    Attributes:
        day: the calendar day, in ``tz``.
        start: where the day begins (aware).
        end: where the next day begins (aware).
        mismatches: one entry per payout that differs, in the order found.
        gateway_totals: the gateway's orders of the day by ``(currency, status)``.
        journal_totals: the journal's records created that day by ``(currency, status or state)``.
        gateway_orders: how many orders the gateway listed for the day.
        journal_records: how many journal records were created that day.
    """

    def __init__(self, day: date, start: datetime, end: datetime) -> None:
        self.day = day
        self.start = start
        self.end = end
        self.mismatches: list[DayMismatch] = []
        self.gateway_totals: TotalsTable = {}
        self.journal_totals: TotalsTable = {}
        self.gateway_orders = 0
        self.journal_records = 0

    @property
    def tz(self) -> tzinfo | None:
        """The time zone the day is taken in."""
        return self.start.tzinfo

    @property
    def ok(self) -> bool:
        """Whether nothing needs action (advanced statuses and unprovable absences do not)."""
        return not any(mismatch.needs_action for mismatch in self.mismatches)

    def numbers(self, kind: MismatchKind) -> list[str]:
        """The ``outTradeNo`` of every mismatch of ``kind``, in the order found."""
        return [m.out_trade_no for m in self.mismatches if m.kind is kind]

    def count_orders(self, orders: Iterable[PayoutOrder]) -> None:
        """Add the gateway's orders of the day to its totals."""
        for order in orders:
            trade = order.trade
            key = ((trade.currency if trade else None) or "", order.status.value)
            self.gateway_totals[key] = self.gateway_totals.get(key, Totals()).plus(
                trade.amount if trade else None
            )
            self.gateway_orders += 1

    def count_records(self, records: Iterable[PayoutRecord]) -> None:
        """Add the journal's records of the day to its totals."""
        for record in records:
            label = record.status.value if record.status else record.state.value
            key = (record.currency or record.order_currency or "", label)
            amount = record.amount or record.order_amount
            self.journal_totals[key] = self.journal_totals.get(key, Totals()).plus(amount)
            self.journal_records += 1

    def summary(self) -> list[str]:
        """Human-readable lines: the day, counts per mismatch kind, and both tables of totals."""
        lines = [
            f"day {self.day.isoformat()} ({self.start.isoformat()} to {self.end.isoformat()}): "
            f"{self.gateway_orders} order(s) at the gateway, {self.journal_records} journal "
            f"record(s); {'nothing needs action' if self.ok else 'ACTION NEEDED'}"
        ]
        for kind in MismatchKind:
            found = [m for m in self.mismatches if m.kind is kind]
            if found:
                urgent = sum(m.needs_action for m in found)
                lines.append(f"  {kind.value}: {len(found)} ({urgent} need action)")
        for title, table in (("gateway", self.gateway_totals), ("journal", self.journal_totals)):
            for (currency, status), totals in sorted(table.items()):
                lines.append(
                    f"  {title} {currency or '-'} {status}: {totals.count} payout(s), "
                    f"{totals.amount}"
                )
        return lines

    def __repr__(self) -> str:
        parts = [f"{self.day.isoformat()}", f"ok={self.ok}"]
        for kind in MismatchKind:
            numbers = self.numbers(kind)
            if numbers:
                parts.append(f"{kind.value}={numbers}")
        parts.append(f"gateway_orders={self.gateway_orders}")
        parts.append(f"journal_records={self.journal_records}")
        return f"DayReport({', '.join(parts)})"

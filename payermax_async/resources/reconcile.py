"""``client.payouts.reconcile()``: settle every open journal record by asking the gateway.

For each ``CLAIMED``/``SENT``/``IN_DOUBT`` record: claim it (records another live call holds are
skipped unless ``include_leased``), query its number, and

* **found**, same amount and currency → the journal adopts the order (forward only);
* **found**, another amount or currency → ``CONFLICT``: reported, never adopted;
* **signed ORDER_NOT_EXIST** and absence proven (nothing was ever maybe sent, or the query came an
  absence window after the last possible send) → re-sendable under the same number: reported absent;
* **ORDER_NOT_EXIST** inside the window, an unsigned answer, or a failed query → stays ``IN_DOUBT``.

Unreadable records are skipped and reported; they never stop the others from settling.
"""

from __future__ import annotations

import asyncio
import builtins
import logging

from ..errors import IdempotencyConflictError, PayerMaxError
from ..middleware.idempotency import IdempotencyMiddleware
from ..middleware.settle import PayoutLookup, Send, check_same_payout
from ..middleware.verdicts import describe
from ..models.payouts import PayoutOrder
from ..stores._journal import order_fact
from ..stores.base import ClaimOutcome, OpenRecords, PayoutRecord

__all__ = ["ReconcileReport", "Reconciler"]

logger = logging.getLogger("payermax_async")


class ReconcileReport(builtins.list[PayoutOrder]):
    """What :meth:`~payermax_async.resources.payouts.Payouts.reconcile` did.

    It is the list of the orders found and adopted (as ``reconcile()`` has always returned), with
    what else it learned as attributes, each a list of ``outTradeNo`` values:

    Attributes:
        absent: proven not to exist at the gateway; the record is re-sendable, and the next
            ``create()`` of the same request sends it under the same number.
        in_doubt: still in doubt (not found inside the absence window, an unsigned answer, a failed
            query); the next ``reconcile()`` tries again.
        conflicts: the gateway holds an order of another amount or currency under the number; not
            adopted, the record is ``CONFLICT``. Find out who used the number.
        unreadable: journal records that cannot be read (corrupted or foreign data); skipped.
        skipped: records another live call or process is working on right now.
    """

    def __init__(self) -> None:
        super().__init__()
        self.absent: builtins.list[str] = []
        self.in_doubt: builtins.list[str] = []
        self.conflicts: builtins.list[str] = []
        self.unreadable: builtins.list[str] = []
        self.skipped: builtins.list[str] = []

    @property
    def settled(self) -> bool:
        """Whether nothing is left open: no record in doubt, conflicting, unreadable or skipped."""
        return not (self.in_doubt or self.conflicts or self.unreadable or self.skipped)

    def __repr__(self) -> str:
        parts = [f"found={[order.out_trade_no for order in self]}"]
        for name in ("absent", "in_doubt", "conflicts", "unreadable", "skipped"):
            numbers = getattr(self, name)
            if numbers:
                parts.append(f"{name}={sorted(numbers)}")
        return f"ReconcileReport({', '.join(parts)})"


class Reconciler:
    """Runs one reconcile over the journal of an :class:`IdempotencyMiddleware`.

    Args:
        journal: the client's journal layer (its store, clock, leases and absence window).
        send: sends a read call through the client's chain.
        lookup: queries one payout by number.
    """

    def __init__(self, journal: IdempotencyMiddleware, send: Send, lookup: PayoutLookup) -> None:
        self._payouts = journal
        self._journal = journal.journal
        self._send = send
        self._lookup = lookup

    async def run(self, *, include_leased: bool, concurrency: int) -> ReconcileReport:
        """Settle every open record (module docstring)."""
        report = ReconcileReport()
        scan = await self._scan()
        report.unreadable.extend(scan.unreadable)
        for number in scan.unreadable:
            logger.warning(
                "payermax reconcile skipped …%s: its journal record cannot be read",
                number[-4:],
                extra={"out_trade_no": number, "outcome": "unreadable_record"},
            )
        limit = asyncio.Semaphore(max(1, concurrency))
        found: list[PayoutOrder | None] = [None] * len(scan.records)

        async def settle(index: int, record: PayoutRecord) -> None:
            async with limit:
                found[index] = await self._one(record, report, include_leased)

        await asyncio.gather(*(settle(i, r) for i, r in enumerate(scan.records)))
        report.extend(order for order in found if order is not None)
        return report

    async def _scan(self) -> OpenRecords:
        store = self._journal.store
        scan = getattr(store, "scan_open", None)
        if scan is not None:
            result: OpenRecords = await scan()
            return result
        return OpenRecords(await store.open_records())  # a store written for an earlier version

    async def _one(
        self, record: PayoutRecord, report: ReconcileReport, include_leased: bool
    ) -> PayoutOrder | None:
        journal = self._journal
        key = record.out_trade_no
        if self._payouts.in_flight(key):
            report.skipped.append(key)  # this process is settling it right now
            return None
        token = journal.token()
        try:
            claim = await journal.store.claim(
                key,
                record.fingerprint,
                owner=token,
                lease_seconds=journal.lease_seconds,
                amount=record.amount,
                currency=record.currency,
            )
        except PayerMaxError as exc:
            # One record the store cannot claim now must not stop the others from settling.
            _warn("skipped", key, exc)
            report.skipped.append(key)
            return None
        if claim.outcome in (ClaimOutcome.DONE, ClaimOutcome.CONFLICT):
            return None  # settled meanwhile (a notification, another process)
        owned = claim.outcome in (ClaimOutcome.SEND, ClaimOutcome.QUERY_FIRST)
        if not owned and not include_leased:
            report.skipped.append(key)
            return None
        owner = token if owned else None
        return await self._query(claim.record, owner, report)

    async def _query(
        self, record: PayoutRecord, owner: str | None, report: ReconcileReport
    ) -> PayoutOrder | None:
        journal, store, key = self._journal, self._journal.store, record.out_trade_no
        queried_at = journal.now()
        try:
            found = await self._lookup(self._send, key, None)
            if found.order is not None:
                check_same_payout(key, record.amount, record.currency, found.order)
        except asyncio.CancelledError:
            if owner is not None:
                await journal.write(store.record_in_doubt(key, owner=owner, error="cancelled"))
            raise
        except IdempotencyConflictError as exc:
            await journal.write(store.record_conflict(key, owner=owner, error=describe(exc)))
            report.conflicts.append(key)
            logger.warning(
                "payermax reconcile: …%s holds another payout at the gateway; not adopted",
                key[-4:],
                extra={"out_trade_no": key, "outcome": "conflict"},
            )
            return None
        except PayerMaxError as exc:
            await journal.write(store.record_in_doubt(key, owner=owner, error=describe(exc)))
            _warn("could not settle", key, exc)
            report.in_doubt.append(key)
            return None
        if found.order is not None:
            await journal.write(store.record_result(key, order_fact(found.order)))
            return found.order
        if owner is not None and journal.absence_proven(record, queried_at):
            # Nothing exists and nothing can still appear: the next create() sends it (same number).
            await journal.write(
                store.release(key, owner=owner, error="ORDER_NOT_EXIST", proven_absent=True)
            )
            report.absent.append(key)
            return None
        # Not visible (yet) proves nothing before the absence window has passed, nor while another
        # call (include_leased) may still be sending.
        await journal.write(
            store.record_in_doubt(
                key,
                owner=owner,
                error="ORDER_NOT_EXIST before absence was provable",
                code="ORDER_NOT_EXIST",
            )
        )
        report.in_doubt.append(key)
        return None


def _warn(what: str, key: str, exc: BaseException) -> None:
    logger.warning(
        "payermax reconcile %s …%s: %s",
        what,
        key[-4:],
        type(exc).__name__,
        extra={"out_trade_no": key, "outcome": type(exc).__name__},
    )

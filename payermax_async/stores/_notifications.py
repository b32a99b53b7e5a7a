"""The webhook side of the journal: which statuses were delivered to the application, and the
delivery slot that keeps two hosts from delivering out of order (see ``IdempotencyStore``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..models.payouts import PayoutOrder, PayoutStatus
from .base import DeliveryOutcome, PayoutRecord
from .rules import decide_delivery, end_delivery

__all__ = ["NotificationJournal"]


class NotificationJournal:
    """Mixed into :class:`~._journal.JournalStore`: the notification transitions, each one atomic
    step of the store's ``_update``."""

    _clock: Callable[[], float]
    _update: Callable[..., Awaitable[Any]]
    get: Callable[[str], Awaitable[PayoutRecord | None]]

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The status last processed from a notification, if any."""
        record = await self.get(out_trade_no)
        return record.notified_status if record is not None else None

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Remember a processed notification (forward only); it also advances the payout record.

        A notification for a number this journal never saw creates a record with an unknown (empty)
        fingerprint and the order's amount and currency: a later ``create()`` of that number with
        the same amount and currency returns the order unsent, with others it is a conflict.
        """
        await self.end_delivery(out_trade_no, order, owner="", delivered=True)

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The (amount, currency) that was sent for ``out_trade_no``, if known."""
        record = await self.get(out_trade_no)
        if record is None or record.amount is None or record.currency is None:
            return None
        # The amount is never taken from a notification (``order_amount``): the webhook's amount
        # check must compare with what this merchant sent, or it would be circular.
        try:
            return Decimal(record.amount), record.currency
        except InvalidOperation:
            return None

    async def begin_delivery(
        self, out_trade_no: str, order: PayoutOrder, *, owner: str, lease_seconds: float
    ) -> DeliveryOutcome:
        """Atomically decide whether a received status is delivered to the application, and if so
        hold the payout's delivery slot until :meth:`end_delivery` (or the lease lapses)."""
        now = self._clock()
        outcome: DeliveryOutcome = await self._update(
            out_trade_no,
            lambda old: decide_delivery(
                old, out_trade_no, order, owner=owner, lease_seconds=lease_seconds, now=now
            ),
        )
        return outcome

    async def end_delivery(
        self, out_trade_no: str, order: PayoutOrder, *, owner: str, delivered: bool
    ) -> None:
        """Release the delivery slot held by ``owner``; ``delivered`` records the status as notified
        (forward only). ``owner=""`` records a delivery made without a slot (``mark_notified``)."""
        now = self._clock()
        await self._update(
            out_trade_no,
            lambda old: (
                end_delivery(old, out_trade_no, order, owner=owner, delivered=delivered, now=now),
                None,
            ),
        )

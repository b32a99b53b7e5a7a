"""Remembering which payout results were already delivered, so each one reaches the app once.

PayerMax repeats notifications and may deliver them out of order. The receiving adapters ask a
:class:`NotificationLedger` for the last status they delivered for an ``outTradeNo`` and call the app
only when the new status moves the payout forward (:func:`~payermax_async.models.payouts.is_forward`).

:class:`MemoryNotificationLedger` is the default: per process, bounded, forgotten at restart. The SDK's
idempotency stores (memory, SQLite, Redis) implement the same protocol, so passing the client's store
makes deduplication survive restarts, span hosts, and check amount and currency against what was sent.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ..errors import ConfigurationError
from ..models.payouts import PayoutOrder, PayoutStatus, is_forward
from ..models.wire import to_decimal

__all__ = ["MemoryNotificationLedger", "NotificationLedger"]


@runtime_checkable
class NotificationLedger(Protocol):
    """Where the webhook adapters record delivered payout results.

    Implementations must be safe to call concurrently from one event loop. ``mark_notified`` is
    forward-only: a status that does not advance the recorded one (a late ``PENDING`` after
    ``SUCCESS``) leaves the record as it is.
    """

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The last status delivered to the app for ``out_trade_no``, or ``None`` if none was."""
        ...

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Record that ``order.status`` was delivered (only if it moves the record forward)."""
        ...

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The ``(amount, currency)`` this merchant sent for ``out_trade_no``, or ``None`` if unknown."""
        ...


class _Entry:
    __slots__ = ("expected", "status")

    def __init__(self) -> None:
        self.status: PayoutStatus | None = None
        self.expected: tuple[Decimal, str] | None = None


class MemoryNotificationLedger:
    """An in-process :class:`NotificationLedger` holding at most ``max_entries`` payouts.

    The least recently used payout is forgotten first; a forgotten payout's next notification is
    delivered again, so the app's handling must still be idempotent (it must be anyway: another process
    or a restart has no memory of this one).

    Args:
        max_entries: how many payouts to remember.

    Raises:
        ConfigurationError: ``max_entries`` is not a positive int.
    """

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 100_000) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            msg = "max_entries must be a positive int"
            raise ConfigurationError(msg)
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The last status delivered for ``out_trade_no``, or ``None``."""
        entry = self._touch(out_trade_no)
        return entry.status if entry is not None else None

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Record ``order.status`` as delivered, if it moves the payout forward."""
        entry = self._touch(out_trade_no) or self._add(out_trade_no)
        if is_forward(entry.status, order.status):
            entry.status = order.status

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The ``(amount, currency)`` registered with :meth:`expect_trade`, or ``None``."""
        entry = self._touch(out_trade_no)
        return entry.expected if entry is not None else None

    async def expect_trade(self, out_trade_no: str, amount: Decimal | str, currency: str) -> None:
        """Register what was sent for ``out_trade_no``, so a notification that disagrees is refused.

        Raises:
            ValidationError: ``amount`` is not a decimal number (floats are refused).
        """
        entry = self._touch(out_trade_no) or self._add(out_trade_no)
        entry.expected = (to_decimal(amount, field="trade.amount"), currency)

    def _touch(self, out_trade_no: str) -> _Entry | None:
        entry = self._entries.get(out_trade_no)
        if entry is not None:
            self._entries.move_to_end(out_trade_no)
        return entry

    def _add(self, out_trade_no: str) -> _Entry:
        entry = self._entries[out_trade_no] = _Entry()
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return entry

    def __repr__(self) -> str:
        return f"MemoryNotificationLedger({len(self._entries)}/{self._max_entries} payouts)"

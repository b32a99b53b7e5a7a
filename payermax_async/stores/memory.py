"""``MemoryStore``: the default journal, in this process's memory."""

from __future__ import annotations

import math

from ..protocol.rules import check_out_trade_no
from ._journal import Clock, JournalStore, T, Update
from ._shelf import RecordShelf
from .base import OPEN_STATES, OpenRecords, PayoutRecord

__all__ = ["MemoryStore"]


class MemoryStore(JournalStore):
    """A journal kept in memory: exactly-once within one process, forgotten when it exits.

    Good for scripts and tests. A crash loses the journal, so a payout in flight at the moment of a
    crash is only protected by the gateway's ``ORDER_REPEAT`` check; use :class:`SQLiteStore` or
    :class:`RedisStore` in production.

    Args:
        clock: seconds since the epoch (tests inject their own).
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self._records = RecordShelf()

    #: Every transition is a plain dict update: the journal layer may call them synchronously.
    synchronous = True

    def _update_now(self, out_trade_no: str, update: Update[T]) -> T:
        # No await between the read and the write: atomic under asyncio's single thread.
        records = self._records
        old = records.get(out_trade_no)
        if old is None:
            check_out_trade_no(out_trade_no)  # a new key: check it once, not on every write
        new, value = update(old)
        if new is not None:
            records.put(out_trade_no, new)
        return value

    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        return self._update_now(out_trade_no, update)

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""
        return self._records.get(out_trade_no)

    async def scan_open(self) -> OpenRecords:
        """Every ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record (records in memory are always readable)."""
        return OpenRecords([r for r in self._records.values() if r.state in OPEN_STATES])

    async def records_between(self, start: float = -math.inf, end: float = math.inf) -> OpenRecords:
        """Every record created in ``[start, end)`` (epoch seconds), by number."""
        return OpenRecords(
            sorted(
                (r for r in self._records.values() if start <= r.created_at < end),
                key=lambda record: record.out_trade_no,
            )
        )

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._records)} records)"

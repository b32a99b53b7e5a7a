"""``MemoryStore``: the default journal, in this process's memory."""

from __future__ import annotations

import math

from ..protocol.rules import check_out_trade_no
from ._journal import Clock, JournalStore, T, Update
from ._shelf import RecordShelf
from .base import OPEN_STATES, Claim, OpenRecords, PayoutRecord
from .rules import first_claim

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

    def claim_now(
        self,
        out_trade_no: str,
        fingerprint: str,
        *,
        owner: str,
        lease_seconds: float,
        amount: str | None,
        currency: str | None,
        sending: bool = False,
        adopt_refusal: bool = False,
    ) -> Claim:
        """:meth:`claim` as a plain call; a new number (every payout's first claim) goes straight
        to its rule, without the general rule's closure (unless a subclass has its own
        ``_update_now``, which then sees every claim)."""
        records = self._records
        if out_trade_no in records or not self._plain_claims():
            return super().claim_now(
                out_trade_no,
                fingerprint,
                owner=owner,
                lease_seconds=lease_seconds,
                amount=amount,
                currency=currency,
                sending=sending,
                adopt_refusal=adopt_refusal,
            )
        check_out_trade_no(out_trade_no)
        now = self._clock()
        lease = now + lease_seconds
        record, claim = first_claim(
            out_trade_no, fingerprint, owner, lease, amount, currency, now, sending
        )
        records.put(out_trade_no, record)
        return claim

    def _plain_claims(self) -> bool:
        """Whether nothing overrides how a claim is decided or written (a subclass, or a test that
        patched this instance): then a new number's claim may skip both."""
        cls = type(self)
        return (
            cls._update_now is MemoryStore._update_now
            and cls._claim_rule is JournalStore._claim_rule
            and "_update_now" not in vars(self)
            and "_claim_rule" not in vars(self)
        )

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

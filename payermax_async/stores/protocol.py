"""The ``IdempotencyStore`` protocol: what the journal layer needs from a store."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ..models.payouts import PayoutOrder, PayoutStatus
from .base import Claim, DeliveryOutcome, OpenRecords, PayoutRecord

__all__ = ["IdempotencyStore"]


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where payout intents are journalled. Every transition is atomic and, for durable stores,
    committed before the call returns. Implementations: :class:`~payermax_async.MemoryStore`,
    :class:`~payermax_async.SQLiteStore`, :class:`~payermax_async.RedisStore`; write your own by
    subclassing :class:`~payermax_async.stores.JournalStore`, which implements every rule below on
    top of one atomic read-modify-write.

    ``last_notified``, ``mark_notified``, ``expected_trade``, ``begin_delivery`` and ``end_delivery``
    are the webhook dedupe protocol.
    """

    def now(self) -> float:
        """The store's clock, in epoch seconds (leases and the absence window are measured on it)."""
        ...

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""
        ...

    async def claim(
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
        """Record the intent (or take over a re-sendable or abandoned one) and say what to do.

        With ``sending``, a claim whose outcome is ``SEND`` also marks the record ``SENT`` (attempts
        + 1), as :meth:`mark_sent` would: the caller sends right away. With ``adopt_refusal`` (a
        caller that waited on another's attempt), a record that attempt left ``REJECTED`` is
        ``REFUSED`` instead of taken over: in the same atomic step, so no resend can slip in.
        """
        ...

    async def mark_sent(
        self,
        out_trade_no: str,
        *,
        owner: str,
        proven_absent: bool = False,
        lease_seconds: float | None = None,
    ) -> PayoutRecord | None:
        """Owner only: a request is about to leave (``SENT``, attempts + 1). ``None`` if not owner.

        ``proven_absent``: the owner has just proven that no order exists (see ``release``), so
        this send starts afresh and a signed refusal of it will be definitive. ``lease_seconds``
        renews the lease for the sending that starts now.
        """
        ...

    async def renew(
        self, out_trade_no: str, *, owner: str, lease_seconds: float
    ) -> PayoutRecord | None:
        """Owner only: extend a live lease (the owner is still working). ``None`` if not owner."""
        ...

    async def record_result(self, out_trade_no: str, result: Mapping[str, object]) -> PayoutRecord:
        """The order exists: adopt its number and status (forward only) and release the lease."""
        ...

    async def record_rejected(
        self, out_trade_no: str, *, owner: str, code: str, error: str, verified: bool = True
    ) -> PayoutRecord | None:
        """Owner only: the gateway refused the payout. ``REJECTED`` only for a signed refusal of a
        payout never maybe-sent before; otherwise the refusal proves nothing and the record becomes
        ``IN_DOUBT``. Returns the record as written (callers look at its state)."""
        ...

    async def record_in_doubt(
        self, out_trade_no: str, *, owner: str | None, error: str, code: str | None = None
    ) -> PayoutRecord | None:
        """The outcome is unknown: keep it for ``reconcile()``. ``owner=None`` forces it."""
        ...

    async def release(
        self,
        out_trade_no: str,
        *,
        owner: str | None,
        error: str | None = None,
        proven_absent: bool = False,
    ) -> PayoutRecord | None:
        """No order exists: make the record re-sendable (unowned ``CLAIMED``). A maybe-sent record
        goes ``IN_DOUBT`` instead unless ``proven_absent`` (an ``ORDER_NOT_EXIST`` queried an absence
        window after its last possible send). ``owner=None`` forces it. Returns the record as
        written."""
        ...

    async def record_conflict(
        self, out_trade_no: str, *, owner: str | None, error: str
    ) -> PayoutRecord | None:
        """The gateway holds another payout under this number: ``CONFLICT``, nothing adopted."""
        ...

    async def open_records(self) -> list[PayoutRecord]:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record."""
        ...

    async def scan_open(self) -> OpenRecords:
        """Every readable open record, and the numbers of the open records that cannot be read."""
        ...

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The status last processed from a notification, if any."""
        ...

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Remember a processed notification (forward only); it also advances the payout record."""
        ...

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The (amount, currency) that was sent for ``out_trade_no``, if known."""
        ...

    async def begin_delivery(
        self, out_trade_no: str, order: PayoutOrder, *, owner: str, lease_seconds: float
    ) -> DeliveryOutcome:
        """Atomically decide whether a received status is delivered to the application, and if so
        hold the payout's delivery slot: no other receiver, on any host, delivers a status of this
        payout until ``end_delivery`` (or the lease lapses)."""
        ...

    async def end_delivery(
        self, out_trade_no: str, order: PayoutOrder, *, owner: str, delivered: bool
    ) -> None:
        """Release the delivery slot; ``delivered`` records the status as notified (forward only)."""
        ...

    async def aclose(self) -> None:
        """Release connections and files. Safe to call more than once."""
        ...

"""The journal's transition rules, written once and shared by every store.

A store only has to provide an atomic read-modify-write of one record (``_update``), a lookup and a
scan of open records; :class:`JournalStore` turns those into the :class:`IdempotencyStore` protocol.
Every rule below is a pure function of (old record, event, now), so all stores behave identically.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import attrs

from ..models.payouts import PayoutOrder, PayoutStatus, is_forward
from .base import KNOWN_STATES, Claim, ClaimOutcome, PayoutRecord, RecordState

__all__ = ["Clock", "JournalStore", "T", "Update", "apply_result", "decide_claim"]

T = TypeVar("T")
S = TypeVar("S", bound="JournalStore")
#: ``old record or None`` → ``(new record to write or None to leave it, value to return)``.
Update = Callable[[PayoutRecord | None], tuple[PayoutRecord | None, T]]
Clock = Callable[[], float]
_PRE_SEND = frozenset({RecordState.CLAIMED, RecordState.REJECTED})


def _status(value: object) -> PayoutStatus | None:
    try:
        return PayoutStatus(str(value)) if value is not None else None
    except ValueError:
        return None


def apply_result(
    old: PayoutRecord | None, out_trade_no: str, result: Mapping[str, object], now: float
) -> PayoutRecord:
    """Merge a fact from the gateway (pay answer, query, notification): the order exists.

    The status only moves forward; a stale one (``PENDING`` after ``SUCCESS``) is ignored. The
    lease is released: there is nothing left to send.
    """
    new_status = _status(result.get("status")) or PayoutStatus.PENDING
    trade_no = result.get("tradeNo")
    if old is None:
        old = PayoutRecord(out_trade_no=out_trade_no, fingerprint="", state=RecordState.CLAIMED)
        old = attrs.evolve(old, created_at=now)
    status = old.status
    if status is None or (status is not new_status and is_forward(status, new_status)):
        status = new_status
    state = RecordState.FINAL if status.is_final else RecordState.ACCEPTED
    kept = dict(old.result or {})
    kept.update({k: v for k, v in result.items() if k in ("outTradeNo", "tradeNo", "status")})
    if old.result is None:
        kept.update(result)
    return attrs.evolve(
        old,
        state=state,
        status=status,
        trade_no=old.trade_no or (str(trade_no) if trade_no else None),
        result=kept,
        owner=None,
        lease_expires=None,
        updated_at=now,
    )


def decide_claim(
    old: PayoutRecord | None,
    out_trade_no: str,
    fingerprint: str,
    *,
    owner: str,
    lease_seconds: float,
    amount: str | None,
    currency: str | None,
    now: float,
) -> tuple[PayoutRecord | None, Claim]:
    """The claim rule (see ``IdempotencyStore.claim``)."""
    lease = now + lease_seconds
    if old is None:
        record = PayoutRecord(
            out_trade_no=out_trade_no,
            fingerprint=fingerprint,
            state=RecordState.CLAIMED,
            amount=amount,
            currency=currency,
            owner=owner,
            lease_expires=lease,
            created_at=now,
            updated_at=now,
        )
        return record, Claim(ClaimOutcome.SEND, record)
    if old.fingerprint and old.fingerprint != fingerprint:
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if old.state in KNOWN_STATES:
        return None, Claim(ClaimOutcome.DONE, old)
    if old.leased_by_other(owner, now):
        return None, Claim(ClaimOutcome.BUSY, old)
    # Free, re-sendable, or abandoned by a crashed owner whose lease ran out: take it over.
    outcome = ClaimOutcome.SEND if old.state in _PRE_SEND else ClaimOutcome.QUERY_FIRST
    record = attrs.evolve(
        old,
        state=RecordState.CLAIMED if old.state in _PRE_SEND else old.state,
        fingerprint=old.fingerprint or fingerprint,
        amount=old.amount or amount,
        currency=old.currency or currency,
        owner=owner,
        lease_expires=lease,
        updated_at=now,
    )
    return record, Claim(outcome, record)


def _owned(old: PayoutRecord | None, owner: str | None) -> bool:
    """Pre-acceptance transitions need the lease: a stale owner must not undo a newer one's work."""
    if old is None or old.state in KNOWN_STATES:
        return False
    return owner is None or old.owner == owner


class JournalStore(abc.ABC):
    """Implements :class:`~payermax_async.IdempotencyStore` on top of three primitives."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or time.time

    @abc.abstractmethod
    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        """Atomically read the record, apply ``update``, write its new record if any."""

    @abc.abstractmethod
    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""

    @abc.abstractmethod
    async def open_records(self) -> list[PayoutRecord]:
        """Every ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record."""

    async def aclose(self) -> None:  # noqa: B027 (stores without resources need nothing here)
        """Release connections and files. Safe to call more than once."""

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def claim(
        self,
        out_trade_no: str,
        fingerprint: str,
        *,
        owner: str,
        lease_seconds: float,
        amount: str | None,
        currency: str | None,
    ) -> Claim:
        """Record the intent (or take over a re-sendable or abandoned one) and say what to do."""
        now = self._clock()
        return await self._update(
            out_trade_no,
            lambda old: decide_claim(
                old,
                out_trade_no,
                fingerprint,
                owner=owner,
                lease_seconds=lease_seconds,
                amount=amount,
                currency=currency,
                now=now,
            ),
        )

    async def mark_sent(self, out_trade_no: str, *, owner: str) -> PayoutRecord | None:
        """Owner only: a request is about to leave (``SENT``, attempts + 1)."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not _owned(old, owner):
                return None, None
            new = attrs.evolve(
                old, state=RecordState.SENT, attempts=old.attempts + 1, updated_at=now
            )
            return new, new

        return await self._update(out_trade_no, update)

    async def record_result(self, out_trade_no: str, result: Mapping[str, object]) -> PayoutRecord:
        """The order exists: adopt its number and status (forward only) and release the lease."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord, PayoutRecord]:
            new = apply_result(old, out_trade_no, result, now)
            return new, new

        return await self._update(out_trade_no, update)

    def _owned_update(
        self,
        owner: str | None,
        state: RecordState,
        *,
        error: str | None = None,
        code: str | None = None,
        or_unleased: bool = False,
    ) -> Update[PayoutRecord | None]:
        now = self._clock()

        def allowed(old: PayoutRecord) -> bool:
            if _owned(old, owner):
                return True
            # "In doubt" is never a step back from an open state, so it may also land on a record
            # nobody holds (e.g. released meanwhile by a reconcile that saw no order yet).
            return (
                or_unleased
                and old.state not in KNOWN_STATES
                and not old.leased_by_other(owner, now)
            )

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not allowed(old):
                return None, None
            new = attrs.evolve(
                old,
                state=state,
                owner=None,
                lease_expires=None,
                updated_at=now,
                last_error=error if error is not None else old.last_error,
                error_code=code if code is not None else old.error_code,
            )
            return new, new

        return update

    async def record_rejected(
        self, out_trade_no: str, *, owner: str, code: str, error: str
    ) -> PayoutRecord | None:
        """Owner only: the gateway refused the payout; no order exists."""
        update = self._owned_update(owner, RecordState.REJECTED, error=error, code=code)
        return await self._update(out_trade_no, update)

    async def record_in_doubt(
        self, out_trade_no: str, *, owner: str | None, error: str
    ) -> PayoutRecord | None:
        """The outcome is unknown: keep it for ``reconcile()``. Applies to the owner's record or to an
        open record nobody holds; ``owner=None`` forces it."""
        update = self._owned_update(owner, RecordState.IN_DOUBT, error=error, or_unleased=True)
        return await self._update(out_trade_no, update)

    async def release(
        self, out_trade_no: str, *, owner: str | None, error: str | None = None
    ) -> PayoutRecord | None:
        """Nothing exists at the gateway: make the record re-sendable (unowned ``CLAIMED``).
        ``owner=None`` forces it (reconcile after ``ORDER_NOT_EXIST``)."""
        update = self._owned_update(owner, RecordState.CLAIMED, error=error)
        return await self._update(out_trade_no, update)

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The status last processed from a notification, if any."""
        record = await self.get(out_trade_no)
        return record.notified_status if record is not None else None

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Remember a processed notification (forward only); it also advances the payout record.

        A notification for a number this journal never saw creates a record with an unknown (empty)
        fingerprint: the order exists, so a later ``create()`` of that number returns it unsent.
        """
        now = self._clock()
        fact: dict[str, object] = {"outTradeNo": out_trade_no, "status": order.status.value}
        if order.trade_no:
            fact["tradeNo"] = order.trade_no

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord, None]:
            new = apply_result(old, out_trade_no, fact, now)
            notified = new.notified_status
            if notified is None or (
                notified is not order.status and is_forward(notified, order.status)
            ):
                notified = order.status
            # The amount is never learned from a notification: expected_trade() must only ever
            # answer with what this merchant sent, or the webhook's amount check would be circular.
            return attrs.evolve(new, notified_status=notified), None

        await self._update(out_trade_no, update)

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The (amount, currency) that was sent for ``out_trade_no``, if known."""
        record = await self.get(out_trade_no)
        if record is None or record.amount is None or record.currency is None:
            return None
        try:
            return Decimal(record.amount), record.currency
        except InvalidOperation:
            return None

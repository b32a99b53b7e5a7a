"""The journal's transition rules, written once and shared by every store.

A store only has to provide an atomic read-modify-write of one record (``_update``), a lookup and a
scan of open records; :class:`JournalStore` turns those into the :class:`IdempotencyStore` protocol.
Every rule below is a pure function of (old record, event, now), so all stores behave identically,
and a check and the write it allows are always one atomic step.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import attrs

from ..models.payouts import PayoutOrder, PayoutStatus, is_forward
from .base import (
    KNOWN_STATES,
    MAYBE_SENT_STATES,
    OPEN_STATES,
    Claim,
    ClaimOutcome,
    DeliveryOutcome,
    OpenRecords,
    PayoutRecord,
    RecordState,
)

__all__ = [
    "CONFLICT_CODE",
    "Clock",
    "JournalStore",
    "T",
    "Update",
    "apply_result",
    "decide_claim",
    "same_amount",
]

logger = logging.getLogger("payermax_async")

T = TypeVar("T")
S = TypeVar("S", bound="JournalStore")
#: ``old record or None`` → ``(new record to write or None to leave it, value to return)``.
Update = Callable[[PayoutRecord | None], tuple[PayoutRecord | None, T]]
Clock = Callable[[], float]
#: ``error_code`` of a record in ``CONFLICT``.
CONFLICT_CODE = "IDEMPOTENCY_CONFLICT"
_PRE_SEND = frozenset({RecordState.CLAIMED, RecordState.REJECTED})


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool | float):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def same_amount(a: object, b: object) -> bool:
    """Whether two amounts are the same number (``"10"``, ``"10.00"`` and ``Decimal("10.0")`` are)."""
    x, y = _decimal(a), _decimal(b)
    if x is None or y is None:
        return str(a) == str(b)
    return x == y


def _status(value: object) -> PayoutStatus | None:
    try:
        return PayoutStatus(str(value)) if value is not None else None
    except ValueError:
        return None


def _order_trade(result: Mapping[str, object]) -> tuple[str | None, str | None]:
    trade = result.get("trade")
    if not isinstance(trade, Mapping):
        return None, None
    amount, currency = trade.get("amount"), trade.get("currency")
    return (
        str(amount) if amount is not None and amount != "" else None,
        str(currency) if currency else None,
    )


def apply_result(
    old: PayoutRecord | None, out_trade_no: str, result: Mapping[str, object], now: float
) -> PayoutRecord:
    """Merge a fact from the gateway (pay answer, query, notification): the order exists.

    The status only moves forward; a stale one (``PENDING`` after ``SUCCESS``) is ignored. The
    lease is released: there is nothing left to send. The order's amount and currency, when the
    fact carries them, are kept to check later requests for this number against. A ``CONFLICT``
    record stays as it is: the order under its number is not this payout.
    """
    if old is not None and old.state is RecordState.CONFLICT:
        return old
    new_status = _status(result.get("status")) or PayoutStatus.PENDING
    trade_no = result.get("tradeNo")
    if old is None:
        old = PayoutRecord(
            out_trade_no=out_trade_no,
            fingerprint="",
            state=RecordState.CLAIMED,
            created_at=now,
        )
    status = old.status
    if status is None or (status is not new_status and is_forward(status, new_status)):
        status = new_status
    state = RecordState.FINAL if status.is_final else RecordState.ACCEPTED
    kept = dict(old.result or {})
    kept.update({k: v for k, v in result.items() if k in ("outTradeNo", "tradeNo", "status")})
    if old.result is None:
        kept.update({k: v for k, v in result.items() if k != "trade"})
    order_amount, order_currency = _order_trade(result)
    return attrs.evolve(
        old,
        state=state,
        status=status,
        trade_no=old.trade_no or (str(trade_no) if trade_no else None),
        result=kept,
        owner=None,
        lease_expires=None,
        updated_at=now,
        order_amount=old.order_amount or order_amount,
        order_currency=old.order_currency or order_currency,
    )


def _matches_order(old: PayoutRecord, amount: str | None, currency: str | None) -> bool:
    """For a record without a fingerprint: does the request fit what is known of its order?"""
    known = (
        (old.order_amount, old.order_currency),
        (old.amount, old.currency),
    )
    for known_amount, known_currency in known:
        if known_amount is not None and not same_amount(known_amount, amount):
            return False
        if known_currency is not None and known_currency != currency:
            return False
    return True


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
    if old.state is RecordState.CONFLICT:
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if old.fingerprint and old.fingerprint != fingerprint:
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if not old.fingerprint and not _matches_order(old, amount, currency):
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if old.state in KNOWN_STATES:
        if old.fingerprint or old.order_amount is None or old.order_currency is None:
            # A record learned without its order's trade (an earlier version's notification) keeps
            # no fingerprint: the caller checks the order by query before answering from it.
            return None, Claim(ClaimOutcome.DONE, old)
        # Learned from a notification: the request matches the order's trade, so the record now
        # stands for this request; other data under the number will be a conflict.
        bound = attrs.evolve(
            old,
            fingerprint=fingerprint,
            amount=old.amount or amount,
            currency=old.currency or currency,
            updated_at=now,
        )
        return bound, Claim(ClaimOutcome.DONE, bound)
    if old.leased_by_other(owner, now):
        return None, Claim(ClaimOutcome.BUSY, old)
    # Free, re-sendable, or abandoned by an owner whose lease ran out: take it over.
    maybe_sent = old.maybe_sent or old.state in MAYBE_SENT_STATES
    sent_until = old.sent_until
    if old.state is RecordState.SENT:
        # Its owner is gone: it may have been sending until its lease ran out, no later.
        sent_until = max(sent_until or 0.0, old.lease_expires or old.updated_at)
    elif maybe_sent and sent_until is None:
        sent_until = max(old.updated_at, old.lease_expires or 0.0)
    if maybe_sent:
        outcome, state = ClaimOutcome.QUERY_FIRST, RecordState.IN_DOUBT
    else:
        outcome, state = ClaimOutcome.SEND, RecordState.CLAIMED
    record = attrs.evolve(
        old,
        state=state,
        fingerprint=old.fingerprint or fingerprint,
        amount=old.amount or amount,
        currency=old.currency or currency,
        owner=owner,
        lease_expires=lease,
        maybe_sent=maybe_sent,
        sent_until=sent_until,
        updated_at=now,
    )
    return record, Claim(outcome, record)


def _owned(old: PayoutRecord | None, owner: str | None) -> bool:
    """Pre-acceptance transitions need the lease: a stale owner must not undo a newer one's work."""
    if old is None or old.state in KNOWN_STATES or old.state is RecordState.CONFLICT:
        return False
    return owner is None or old.owner == owner


def _in_doubt(
    old: PayoutRecord,
    now: float,
    *,
    owner: str | None,
    last_error: str | None,
    error_code: str | None,
) -> PayoutRecord:
    """``old`` put in doubt: maybe sent. If it was being sent, the sending is over: now, when its
    owner says so (``mark_sent`` had assumed the whole lease), else whenever its lease ends."""
    sent_until = old.sent_until
    if old.state is RecordState.SENT and owner is not None and old.owner == owner:
        sent_until = now
    elif old.state is RecordState.SENT or sent_until is None:
        sent_until = max(sent_until or 0.0, now)
    return attrs.evolve(
        old,
        state=RecordState.IN_DOUBT,
        maybe_sent=True,
        sent_until=sent_until,
        owner=None,
        lease_expires=None,
        updated_at=now,
        last_error=last_error,
        error_code=error_code,
    )


class JournalStore(abc.ABC):
    """Implements :class:`~payermax_async.IdempotencyStore` on top of three primitives.

    Subclass it for a store of your own: provide ``_update`` (an atomic read-modify-write of one
    record), ``get`` and ``scan_open``.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or time.time

    def now(self) -> float:
        """The store's clock, in epoch seconds (leases and the absence window are measured on it)."""
        return self._clock()

    @abc.abstractmethod
    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        """Atomically read the record, apply ``update``, write its new record if any."""

    @abc.abstractmethod
    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""

    @abc.abstractmethod
    async def scan_open(self) -> OpenRecords:
        """Every readable open record, and the numbers of the open records that cannot be read."""

    async def open_records(self) -> list[PayoutRecord]:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record (unreadable ones are logged and
        skipped; :meth:`scan_open` names them)."""
        scan = await self.scan_open()
        for number in scan.unreadable:
            logger.warning(
                "payermax journal record …%s cannot be read; skipped",
                number[-4:],
                extra={"out_trade_no": number, "outcome": "unreadable_record"},
            )
        return scan.records

    async def aclose(self) -> None:  # noqa: B027 (stores without resources need nothing here)
        """Release connections and files. Safe to call more than once."""

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ payout intents

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

    async def mark_sent(
        self,
        out_trade_no: str,
        *,
        owner: str,
        proven_absent: bool = False,
        lease_seconds: float | None = None,
    ) -> PayoutRecord | None:
        """Owner only: a request is about to leave (``SENT``, attempts + 1); ``lease_seconds``
        renews the lease for the sending that starts now."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not _owned(old, owner) or old.owner is None:
                return None, None
            lease = now + lease_seconds if lease_seconds is not None else old.lease_expires
            # The owner may send until its lease ends (a renewal moves this on).
            until = lease or now
            new = attrs.evolve(
                old,
                state=RecordState.SENT,
                attempts=old.attempts + 1,
                lease_expires=lease,
                maybe_sent=False if proven_absent else old.maybe_sent,
                sent_until=until if proven_absent else max(old.sent_until or 0.0, until),
                updated_at=now,
            )
            return new, new

        return await self._update(out_trade_no, update)

    async def renew(
        self, out_trade_no: str, *, owner: str, lease_seconds: float
    ) -> PayoutRecord | None:
        """Owner only: extend a live lease (the owner is still working)."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not _owned(old, owner) or old.owner is None:
                return None, None
            lease = now + lease_seconds
            sent_until = old.sent_until
            if old.state is RecordState.SENT:
                sent_until = max(sent_until or 0.0, lease)
            new = attrs.evolve(old, lease_expires=lease, sent_until=sent_until, updated_at=now)
            return new, new

        return await self._update(out_trade_no, update)

    async def record_result(self, out_trade_no: str, result: Mapping[str, object]) -> PayoutRecord:
        """The order exists: adopt its number and status (forward only) and release the lease."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord, PayoutRecord]:
            new = apply_result(old, out_trade_no, result, now)
            return new, new

        return await self._update(out_trade_no, update)

    def _allowed(
        self, old: PayoutRecord, owner: str | None, now: float, *, or_unleased: bool
    ) -> bool:
        if _owned(old, owner):
            return True
        # "In doubt" is never a step back from an open state, so it may also land on a record
        # nobody holds (e.g. released meanwhile by a reconcile that saw no order yet).
        return or_unleased and old.state in OPEN_STATES and not old.leased_by_other(owner, now)

    async def record_rejected(
        self, out_trade_no: str, *, owner: str, code: str, error: str, verified: bool = True
    ) -> PayoutRecord | None:
        """Owner only: the gateway refused the payout. Definitive (``REJECTED``) only for a signed
        refusal of a payout never maybe-sent before; otherwise ``IN_DOUBT``."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not _owned(old, owner):
                return None, None
            if old.maybe_sent or not verified:
                new = _in_doubt(old, now, owner=owner, last_error=error, error_code=code)
            else:
                new = attrs.evolve(
                    old,
                    state=RecordState.REJECTED,
                    owner=None,
                    lease_expires=None,
                    updated_at=now,
                    last_error=error,
                    error_code=code,
                )
            return new, new

        return await self._update(out_trade_no, update)

    async def record_in_doubt(
        self, out_trade_no: str, *, owner: str | None, error: str, code: str | None = None
    ) -> PayoutRecord | None:
        """The outcome is unknown: keep it for ``reconcile()``. Applies to the owner's record or to an
        open record nobody holds; ``owner=None`` forces it."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not self._allowed(old, owner, now, or_unleased=True):
                return None, None
            new = _in_doubt(
                old, now, owner=owner, last_error=error, error_code=code or old.error_code
            )
            return new, new

        return await self._update(out_trade_no, update)

    async def release(
        self,
        out_trade_no: str,
        *,
        owner: str | None,
        error: str | None = None,
        proven_absent: bool = False,
    ) -> PayoutRecord | None:
        """No order exists: make the record re-sendable (unowned ``CLAIMED``); a maybe-sent record
        goes ``IN_DOUBT`` instead unless ``proven_absent``. ``owner=None`` forces it."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not self._allowed(old, owner, now, or_unleased=False):
                return None, None
            last_error = error if error is not None else old.last_error
            if old.maybe_sent and not proven_absent:
                new = _in_doubt(
                    old, now, owner=owner, last_error=last_error, error_code=old.error_code
                )
            else:
                new = attrs.evolve(
                    old,
                    state=RecordState.CLAIMED,
                    maybe_sent=False,
                    owner=None,
                    lease_expires=None,
                    updated_at=now,
                    last_error=last_error,
                )
            return new, new

        return await self._update(out_trade_no, update)

    async def record_conflict(
        self, out_trade_no: str, *, owner: str | None, error: str
    ) -> PayoutRecord | None:
        """The gateway holds another payout under this number: ``CONFLICT``, nothing adopted."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, PayoutRecord | None]:
            if old is None or not self._allowed(old, owner, now, or_unleased=True):
                return None, None
            new = attrs.evolve(
                old,
                state=RecordState.CONFLICT,
                owner=None,
                lease_expires=None,
                updated_at=now,
                last_error=error,
                error_code=CONFLICT_CODE,
            )
            return new, new

        return await self._update(out_trade_no, update)

    # ------------------------------------------------------------------------------ notifications

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
        fact = order_fact(order)

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, DeliveryOutcome]:
            new = apply_result(old, out_trade_no, fact, now)
            if (
                new.delivering_owner not in (None, owner)
                and new.delivering_until is not None
                and new.delivering_until > now
            ):
                return new if new != old else None, DeliveryOutcome.BUSY
            if not is_forward(new.notified_status, order.status):
                return new if new != old else None, DeliveryOutcome.DUPLICATE
            held = attrs.evolve(
                new,
                delivering=order.status,
                delivering_owner=owner,
                delivering_until=now + lease_seconds,
            )
            return held, DeliveryOutcome.DELIVER

        return await self._update(out_trade_no, update)

    async def end_delivery(
        self, out_trade_no: str, order: PayoutOrder, *, owner: str, delivered: bool
    ) -> None:
        """Release the delivery slot held by ``owner``; ``delivered`` records the status as notified
        (forward only). ``owner=""`` records a delivery made without a slot (``mark_notified``)."""
        now = self._clock()
        fact = order_fact(order)

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord | None, None]:
            new = apply_result(old, out_trade_no, fact, now)
            notified = new.notified_status
            if delivered and (
                notified is None
                or (notified is not order.status and is_forward(notified, order.status))
            ):
                notified = order.status
            new = attrs.evolve(new, notified_status=notified)
            if owner and new.delivering_owner == owner:
                new = attrs.evolve(
                    new, delivering=None, delivering_owner=None, delivering_until=None
                )
            return (new if new != old else None), None

        await self._update(out_trade_no, update)


def order_fact(order: PayoutOrder) -> dict[str, object]:
    """What the journal keeps of an order the gateway reported: number, status, trade."""
    fact: dict[str, object] = {"outTradeNo": order.out_trade_no, "status": order.status.value}
    if order.trade_no:
        fact["tradeNo"] = order.trade_no
    trade = order.trade
    if trade is not None and trade.amount is not None and trade.currency:
        fact["trade"] = {"amount": str(trade.amount), "currency": trade.currency}
    return fact

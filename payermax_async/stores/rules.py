"""The journal's transition rules: pure functions of (old record, event, now).

Every store applies them inside its own atomic read-modify-write (:class:`~._journal.JournalStore`),
so all stores behave identically and a check and the write it allows are always one step.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import attrs

from .._frozen import positional_constructor
from ..models.payouts import PayoutOrder, PayoutStatus, is_forward
from ..protocol.rules import is_mapping
from .base import (
    KNOWN_STATES,
    MAYBE_SENT_STATES,
    Claim,
    ClaimOutcome,
    DeliveryOutcome,
    PayoutRecord,
    RecordState,
    build_record,
)

__all__ = [
    "CONFLICT_CODE",
    "apply_result",
    "decide_claim",
    "decide_delivery",
    "end_delivery",
    "in_doubt",
    "order_fact",
    "owned",
    "same_amount",
]

#: ``Claim`` positionally (see :mod:`payermax_async._frozen`): one per payout.
_send_claim = positional_constructor(Claim)

#: ``error_code`` of a record in ``CONFLICT``.
CONFLICT_CODE = "IDEMPOTENCY_CONFLICT"


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


_FACTS = ("outTradeNo", "tradeNo", "status")
_STATUSES = {status.value: status for status in PayoutStatus}


def _status(value: object) -> PayoutStatus | None:
    # A dict lookup: calling the enum class costs several times more, once or twice per payout.
    return _STATUSES.get(value) if isinstance(value, str) else None


def _order_trade(result: Mapping[str, object]) -> tuple[str | None, str | None]:
    trade = result.get("trade")
    if not is_mapping(trade):
        return None, None
    amount, currency = trade.get("amount"), trade.get("currency")
    return (
        str(amount) if amount is not None and amount != "" else None,
        str(currency) if currency else None,
    )


def _kept(kept: Mapping[str, object] | None, result: Mapping[str, object]) -> dict[str, object]:
    """What a record keeps of an answer: the order's numbers and status always; the rest of its
    first answer once (not its trade)."""
    facts = {k: v for k, v in result.items() if k in _FACTS}
    if kept is not None:
        return {**kept, **facts}
    if len(facts) == len(result):
        return facts  # the usual pay answer: nothing else to keep
    return {**facts, **{k: v for k, v in result.items() if k != "trade"}}


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
    kept = _kept(old.result, result)
    order_amount, order_currency = _order_trade(result)
    # Every field, in field order (positional: 23 keywords cost more than the build itself), so the
    # journal's most frequent transition skips attrs.evolve's generic copy.
    return build_record(
        old.out_trade_no,
        old.fingerprint,
        state,
        status,
        old.trade_no or (str(trade_no) if trade_no else None),  # trade_no
        kept,  # result
        old.amount,
        old.currency,
        old.attempts,
        old.last_error,
        old.error_code,
        old.notified_status,
        None,  # owner
        None,  # lease_expires
        old.created_at,
        now,  # updated_at
        old.maybe_sent,
        old.sent_until,
        old.order_amount or order_amount,  # order_amount
        old.order_currency or order_currency,  # order_currency
        old.delivering,
        old.delivering_owner,
        old.delivering_until,
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


def _first_claim(
    out_trade_no: str,
    fingerprint: str,
    owner: str,
    lease: float,
    amount: str | None,
    currency: str | None,
    now: float,
    sending: bool,
) -> tuple[PayoutRecord, Claim]:
    """A number's first claim: its record (``SENT`` at once when the claim sends, with ``lease``
    its lease's end) and the ``SEND`` claim."""
    record = build_record(
        out_trade_no,
        fingerprint,
        RecordState.SENT if sending else RecordState.CLAIMED,  # state
        None,  # status
        None,  # trade_no
        None,  # result
        amount,
        currency,
        1 if sending else 0,  # attempts
        None,  # last_error
        None,  # error_code
        None,  # notified_status
        owner,
        lease,  # lease_expires
        now,  # created_at
        now,  # updated_at
        False,  # maybe_sent
        lease if sending else None,  # sent_until
        None,  # order_amount
        None,  # order_currency
        None,  # delivering
        None,  # delivering_owner
        None,  # delivering_until
    )
    return record, _send_claim(ClaimOutcome.SEND, record)


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
    sending: bool = False,
    adopt_refusal: bool = False,
) -> tuple[PayoutRecord | None, Claim]:
    """The claim rule (see ``IdempotencyStore.claim``). With ``sending``, a claim that may send
    marks the record ``SENT`` in the same step (one journal write fewer per payout): the caller
    sends right after, and a crash in between leaves a record the next owner queries first."""
    lease = now + lease_seconds
    if old is None:
        return _first_claim(out_trade_no, fingerprint, owner, lease, amount, currency, now, sending)
    if old.state is RecordState.CONFLICT:
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if old.fingerprint and old.fingerprint != fingerprint:
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if not old.fingerprint and not _matches_order(old, amount, currency):
        return None, Claim(ClaimOutcome.CONFLICT, old)
    if old.state in KNOWN_STATES:
        return _known(old, fingerprint, amount, currency, now)
    if old.leased_by_other(owner, now):
        return None, Claim(ClaimOutcome.BUSY, old)
    if adopt_refusal and old.state is RecordState.REJECTED and not old.maybe_sent:
        return None, Claim(ClaimOutcome.REFUSED, old)
    record = _take_over(old, fingerprint, owner, lease, amount, currency, now)
    if record.maybe_sent:
        return record, Claim(ClaimOutcome.QUERY_FIRST, record)
    if sending:
        record = attrs.evolve(
            record, state=RecordState.SENT, attempts=record.attempts + 1, sent_until=lease
        )
    return record, Claim(ClaimOutcome.SEND, record)


def _known(
    old: PayoutRecord, fingerprint: str, amount: str | None, currency: str | None, now: float
) -> tuple[PayoutRecord | None, Claim]:
    """A claim of a number whose order exists."""
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


def _take_over(
    old: PayoutRecord,
    fingerprint: str,
    owner: str,
    lease_expires: float,
    amount: str | None,
    currency: str | None,
    now: float,
) -> PayoutRecord:
    """A free, re-sendable, or abandoned record (its owner's lease ran out) claimed by ``owner``."""
    maybe_sent = old.maybe_sent or old.state in MAYBE_SENT_STATES
    sent_until = old.sent_until
    if old.state is RecordState.SENT:
        # Its owner is gone: it may have been sending until its lease ran out, no later.
        sent_until = max(sent_until or 0.0, old.lease_expires or old.updated_at)
    elif maybe_sent and sent_until is None:
        sent_until = max(old.updated_at, old.lease_expires or 0.0)
    return attrs.evolve(
        old,
        state=RecordState.IN_DOUBT if maybe_sent else RecordState.CLAIMED,
        fingerprint=old.fingerprint or fingerprint,
        amount=old.amount or amount,
        currency=old.currency or currency,
        owner=owner,
        lease_expires=lease_expires,
        maybe_sent=maybe_sent,
        sent_until=sent_until,
        updated_at=now,
    )


def owned(old: PayoutRecord | None, owner: str | None) -> bool:
    """Pre-acceptance transitions need the lease: a stale owner must not undo a newer one's work."""
    if old is None or old.state in KNOWN_STATES or old.state is RecordState.CONFLICT:
        return False
    return owner is None or old.owner == owner


def in_doubt(
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


def order_fact(order: PayoutOrder) -> dict[str, object]:
    """What the journal keeps of an order the gateway reported: number, status, trade."""
    fact: dict[str, object] = {"outTradeNo": order.out_trade_no, "status": order.status.value}
    if order.trade_no:
        fact["tradeNo"] = order.trade_no
    trade = order.trade
    if trade is not None and trade.amount is not None and trade.currency:
        fact["trade"] = {"amount": str(trade.amount), "currency": trade.currency}
    return fact


def decide_delivery(
    old: PayoutRecord | None,
    out_trade_no: str,
    order: PayoutOrder,
    *,
    owner: str,
    lease_seconds: float,
    now: float,
) -> tuple[PayoutRecord | None, DeliveryOutcome]:
    """The delivery rule (see ``IdempotencyStore.begin_delivery``): the order's facts are adopted
    either way; the status is delivered only if it moves the payout forward and no other receiver
    holds the payout's delivery slot."""
    new = apply_result(old, out_trade_no, order_fact(order), now)
    changed = new if new != old else None
    if (
        new.delivering_owner not in (None, owner)
        and new.delivering_until is not None
        and new.delivering_until > now
    ):
        return changed, DeliveryOutcome.BUSY
    if not is_forward(new.notified_status, order.status):
        return changed, DeliveryOutcome.DUPLICATE
    held = attrs.evolve(
        new, delivering=order.status, delivering_owner=owner, delivering_until=now + lease_seconds
    )
    return held, DeliveryOutcome.DELIVER


def end_delivery(
    old: PayoutRecord | None,
    out_trade_no: str,
    order: PayoutOrder,
    *,
    owner: str,
    delivered: bool,
    now: float,
) -> PayoutRecord | None:
    """The record after a delivery ended: the slot freed, the status notified if it was delivered
    (forward only). ``None`` when nothing changes."""
    new = apply_result(old, out_trade_no, order_fact(order), now)
    notified = new.notified_status
    if delivered and (
        notified is None or (notified is not order.status and is_forward(notified, order.status))
    ):
        notified = order.status
    new = attrs.evolve(new, notified_status=notified)
    if owner and new.delivering_owner == owner:
        new = attrs.evolve(new, delivering=None, delivering_owner=None, delivering_until=None)
    return new if new != old else None

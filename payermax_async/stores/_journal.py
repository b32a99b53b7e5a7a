"""``JournalStore``: the :class:`~payermax_async.IdempotencyStore` protocol on three primitives.

A store only has to provide an atomic read-modify-write of one record (``_update``), a lookup and a
scan of open records; every transition applies a pure rule from :mod:`.rules` inside that one atomic
step, so all stores behave identically.
"""

from __future__ import annotations

import abc
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import ClassVar, TypeVar

import attrs

from ..errors import ConfigurationError
from ._notifications import NotificationJournal
from .base import OPEN_STATES, Claim, OpenRecords, PayoutRecord, RecordState
from .rules import (
    CONFLICT_CODE,
    apply_result,
    decide_claim,
    in_doubt,
    order_fact,
    owned,
    same_amount,
)

__all__ = ["Clock", "JournalStore", "T", "Update", "order_fact", "same_amount"]

logger = logging.getLogger("payermax_async")

T = TypeVar("T")
S = TypeVar("S", bound="JournalStore")
#: ``old record or None`` → ``(new record to write or None to leave it, value to return)``.
Update = Callable[[PayoutRecord | None], tuple[PayoutRecord | None, T]]
Clock = Callable[[], float]


class JournalStore(NotificationJournal, abc.ABC):
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
        """Every readable open record, and the numbers of the open records that cannot be read.

        Public API: what ``reconcile()`` and ``payermax journal list`` read. ``CLAIMED``, ``SENT``
        and ``IN_DOUBT`` records are the payouts whose outcome the journal does not know yet; the
        stores index them, so this reads the open records only, not the whole journal.
        """

    async def open_records(self) -> list[PayoutRecord]:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record (unreadable ones are logged and
        skipped; :meth:`scan_open` names them).

        Public API, e.g. for a health check or a start-up report: a record listed here is a payout
        that may or may not exist at the gateway until ``client.payouts.reconcile()`` settles it.
        """
        scan = await self.scan_open()
        for number in scan.unreadable:
            logger.warning(
                "payermax journal record …%s cannot be read; skipped",
                number[-4:],
                extra={"out_trade_no": number, "outcome": "unreadable_record"},
            )
        return scan.records

    async def records_between(self, start: float = -math.inf, end: float = math.inf) -> OpenRecords:
        """Every readable record created in ``[start, end)`` (epoch seconds on the store's clock),
        whatever its state, and the numbers of the records that cannot be read.

        For daily reconciliation and ``payermax journal list|export``: it reads the whole journal
        (no store keeps an index by time), so use it in batch jobs, not on a payout's path. The
        built-in stores implement it; a store of your own may.

        Raises:
            ConfigurationError: this store cannot list its records.
        """
        msg = f"{type(self).__name__} cannot list its records by time (records_between)"
        raise ConfigurationError(msg)

    async def aclose(self) -> None:
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
        sending: bool = False,
        adopt_refusal: bool = False,
    ) -> Claim:
        """Record the intent (or take over a re-sendable or abandoned one) and say what to do;
        with ``sending``, a claim that may send is marked ``SENT`` in the same step; with
        ``adopt_refusal``, a refused record is ``REFUSED`` rather than taken over."""
        rule = self._claim_rule(
            out_trade_no,
            fingerprint,
            owner,
            lease_seconds,
            amount,
            currency,
            sending,
            adopt_refusal,
        )
        return await self._update(out_trade_no, rule)

    def _claim_rule(
        self,
        out_trade_no: str,
        fingerprint: str,
        owner: str,
        lease_seconds: float,
        amount: str | None,
        currency: str | None,
        sending: bool,
        adopt_refusal: bool,
    ) -> Update[Claim]:
        """The claim as an update of the record, at the store's time now."""
        now = self._clock()
        return lambda old: decide_claim(
            old,
            out_trade_no,
            fingerprint,
            owner=owner,
            lease_seconds=lease_seconds,
            amount=amount,
            currency=currency,
            now=now,
            sending=sending,
            adopt_refusal=adopt_refusal,
        )

    def _result_rule(self, out_trade_no: str, result: Mapping[str, object]) -> Update[PayoutRecord]:
        """Adopting an order's answer as an update of the record, at the store's time now."""
        now = self._clock()

        def update(old: PayoutRecord | None) -> tuple[PayoutRecord, PayoutRecord]:
            new = apply_result(old, out_trade_no, result, now)
            return new, new

        return update

    # Stores whose every transition completes without suspending (``synchronous = True``, e.g.
    # MemoryStore) also offer the two transitions of every payout as plain calls, so the journal
    # layer pays no coroutine per write; nothing can interrupt a call that never suspends.
    synchronous: ClassVar[bool] = False

    @property
    def synchronous_transitions(self) -> bool:
        """Whether :meth:`claim_now` and :meth:`record_result_now` may stand in for :meth:`claim`
        and :meth:`record_result`: the store never suspends, and a subclass has not overridden
        the async methods (its override must keep running)."""
        cls, own = type(self), vars(self) if hasattr(self, "__dict__") else {}
        return (
            cls.synchronous
            and cls.claim is JournalStore.claim
            and cls.record_result is JournalStore.record_result
            and "claim" not in own
            and "record_result" not in own
        )

    def _update_now(self, out_trade_no: str, update: Update[T]) -> T:
        """``_update`` as a plain call; only for ``synchronous`` stores."""
        msg = f"{type(self).__name__} has no synchronous transitions"
        raise NotImplementedError(msg)

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
        """:meth:`claim` as a plain call (``synchronous`` stores only)."""
        rule = self._claim_rule(
            out_trade_no,
            fingerprint,
            owner,
            lease_seconds,
            amount,
            currency,
            sending,
            adopt_refusal,
        )
        return self._update_now(out_trade_no, rule)

    def record_result_now(self, out_trade_no: str, result: Mapping[str, object]) -> PayoutRecord:
        """:meth:`record_result` as a plain call (``synchronous`` stores only)."""
        return self._update_now(out_trade_no, self._result_rule(out_trade_no, result))

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
            if old is None or not owned(old, owner) or old.owner is None:
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
            if old is None or not owned(old, owner) or old.owner is None:
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
        return await self._update(out_trade_no, self._result_rule(out_trade_no, result))

    def _allowed(
        self, old: PayoutRecord, owner: str | None, now: float, *, or_unleased: bool
    ) -> bool:
        if owned(old, owner):
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
            if old is None or not owned(old, owner):
                return None, None
            if old.maybe_sent or not verified:
                new = in_doubt(old, now, owner=owner, last_error=error, error_code=code)
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
            new = in_doubt(
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
                new = in_doubt(
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

"""The journal layer (outermost but for operation-level middlewares such as telemetry): record every
payout in the store before a byte is sent, and never let an answer settle more than it proves.

A call is a payout when it carries an idempotency key (its ``outTradeNo``); every other call passes
through untouched. For a payout:

1. Fingerprint the request (:class:`~.intent.PayoutIntent`: canonical ``data``, amounts as numbers).
2. Single-flight (:mod:`.flight`): a second ``create()`` of a number already in flight in this
   process shares the first one's attempt (a different fingerprint is an ``IdempotencyConflictError``
   at once).
3. Claim the number in the store (committed for durable stores; a cancelled claim hands its lease
   back, :mod:`.shield`). Its answer decides: conflict → raise, nothing sent; the order is known →
   the recorded result, nothing sent; another live owner → wait for its outcome (and adopt its
   signed refusal); maybe sent before → look it up first (:mod:`.settle`) and adopt what exists if
   it is the same payout, resend the same number otherwise.
4. Mark ``SENT`` (committed) and hand the call to the retry layer, telling it whether the payout may
   already exist (``Call.may_exist``); record what came back: accepted, refused (definitive only for
   a signed refusal of a payout never maybe-sent), nothing sent, or in doubt. A cancellation after the
   mark leaves the record in doubt; so does a ``Call.deadline`` that passes then (:mod:`.deadlines`).

The lease a claim holds covers the owner's worst case and is renewed at each send and by a heartbeat
while the owner works (:mod:`.leases`), so no other process takes a number over from a working owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import attrs

from .._redact import last4
from ..errors import (
    APIError,
    IdempotencyConflictError,
    PayoutOutcomeUnknown,
    StoreError,
    ValidationError,
    error_for_code,
)
from ..pipeline.chain import Call, Handler, Reply
from ..stores.base import Claim, ClaimOutcome, PayoutRecord, RecordState
from ..stores.protocol import IdempotencyStore
from .backoff import Backoff
from .deadlines import FOLLOWED, pay_within, read_within
from .flight import Flight, LeaderCancelled
from .intent import PayoutIntent
from .journal import DEFAULT_ABSENCE_WINDOW, Journal
from .leases import LeaseKeeper, lease_for
from .outcomes import Outcome, classify
from .settle import PayoutLookup, Settler
from .shield import run_to_completion
from .verdicts import (
    before_sending,
    conflict_error,
    describe,
    gateway_code,
    unknown,
)

__all__ = ["DEFAULT_ABSENCE_WINDOW", "IdempotencyMiddleware"]

logger = logging.getLogger("payermax_async")
_MAX_ROUNDS = 4
_MAX_POLLS = 100_000


class IdempotencyMiddleware:
    """Exactly-once payouts over an :class:`~payermax_async.IdempotencyStore` (module docstring).

    Args:
        store: the journal.
        lookup: queries one payout by number (the client passes the resource layer's).
        lease_seconds: how long a claim is exclusive without renewal; the client sizes it to cover
            the retry deadline and two full timeouts (the last attempt and its settling query).
        wait_timeout: how long a caller waits for another process's in-flight attempt.
        poll_interval: first pause between looks at the store while waiting.
        owner: this process's identity in the store (host, pid and a random part by default).
        absence_window: seconds after the last possible send before ``ORDER_NOT_EXIST`` proves that
            no order exists (measured on the store's clock).
        default_timeout: the client's default total timeout, to size leases of calls that override it.
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        lookup: PayoutLookup,
        lease_seconds: float = 90.0,
        wait_timeout: float | None = None,
        poll_interval: float = 0.02,
        owner: str | None = None,
        absence_window: float = DEFAULT_ABSENCE_WINDOW,
        default_timeout: float | None = None,
    ) -> None:
        self.journal = Journal(
            store, lease_seconds=lease_seconds, absence_window=absence_window, owner=owner
        )
        self.wait_timeout = wait_timeout if wait_timeout is not None else lease_seconds + 5.0
        self.default_timeout = default_timeout
        self._lookup = lookup
        self._wait = Backoff(first=poll_interval, cap=0.5, factor=1.5)
        self._inflight: dict[str, Flight] = {}
        self._leases = LeaseKeeper(store, self.journal.spawn)
        self._settler = Settler(self.journal, lookup)
        # A store whose transitions never suspend is called directly: no coroutine per write.
        self._synchronous = bool(getattr(store, "synchronous_transitions", False))

    @property
    def store(self) -> IdempotencyStore:
        """The journal's store."""
        return self.journal.store

    @property
    def lease_seconds(self) -> float:
        """How long a claim is exclusive without renewal (before per-call additions)."""
        return self.journal.lease_seconds

    def in_flight(self, out_trade_no: str) -> bool:
        """Whether this process is working on ``out_trade_no`` right now."""
        return out_trade_no in self._inflight

    # ------------------------------------------------------------------------------ the layer

    def __call__(self, call: Call, next_handler: Handler) -> Awaitable[Reply]:
        key = call.idempotency_key
        if key is None:
            if call.deadline is not None:
                return read_within(call, next_handler)
            return next_handler(call)  # not a payout: no coroutine of ours in its way
        if call.deadline is not None:
            return pay_within(call, key, lambda seen: self._payout(call, next_handler, key, seen))
        return self._payout(call, next_handler, key)

    async def _payout(
        self, call: Call, next_handler: Handler, key: str, seen: list[Flight] | None = None
    ) -> Reply:
        if not key:
            msg = "a payout needs its outTradeNo as the idempotency key"
            raise ValidationError(msg, field="outTradeNo")
        intent = PayoutIntent.of(key, call.data)
        for _ in range(_MAX_ROUNDS):
            flight = self._inflight.get(key)
            if flight is None:
                # The initiator settles the payout itself (no task of its own): cancelling it
                # cancels the attempt, whose record then stays in doubt.
                flight = self._inflight[key] = Flight(intent.fingerprint)
                if seen is not None:
                    seen.append(flight)
                try:
                    reply = await self._settle(call, next_handler, intent)
                except BaseException as exc:
                    self._forget(key, flight)
                    flight.settle(None, exc)
                    raise
                self._forget(key, flight)
                flight.settle(reply, None)
                return reply
            if flight.fingerprint != intent.fingerprint:
                raise conflict_error(key, await self.store.get(key))
            if seen is not None:
                seen.append(FOLLOWED)
            try:
                return await asyncio.shield(flight.waiter())
            except LeaderCancelled:
                # The initiator was cancelled, not us: start over; the record is in doubt and the
                # next round settles it by querying before any resend.
                self._forget(key, flight)
        msg = f"payout {last4(key)} could not be settled: its attempts kept being cancelled"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    def _maybe_sent(self, key: str) -> None:
        flight = self._inflight.get(key)
        if flight is not None:
            flight.maybe_sent = True

    def _forget(self, key: str, flight: Flight) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]

    async def _settle(self, call: Call, next_handler: Handler, intent: PayoutIntent) -> Reply:
        key, token = intent.out_trade_no, self.journal.token()
        lease = lease_for(call, self.lease_seconds, self.default_timeout)
        fp = intent.fingerprint
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.wait_timeout + lease - self.lease_seconds
        waits = 0
        for _ in range(_MAX_POLLS):
            if loop.time() >= give_up_at:
                break
            # Once we waited on another call's attempt, its definitive refusal is this call's
            # outcome too (as a follower in this process would share it), never a cue to resend.
            claim = await self._claim(intent, fp, token, lease, adopt_refusal=waits > 0)
            outcome, record = claim.outcome, claim.record
            if outcome is not ClaimOutcome.SEND:
                self._maybe_sent(key)  # sent before, exists, or another owner may send it now
            if outcome is ClaimOutcome.REFUSED:
                msg = f"refused for another call of payout {last4(key)} that this call waited on"
                raise error_for_code(record.error_code or "REJECTED", msg, verified=True)
            if outcome is ClaimOutcome.CONFLICT:
                if record.fingerprint != fp and intent.matches(record.fingerprint):
                    fp = record.fingerprint  # written by an earlier version: the same request
                    continue
                raise conflict_error(key, record)
            if outcome is ClaimOutcome.DONE:
                known = await self._settler.known(call, next_handler, intent, record)
                if known is not None:
                    return known
                continue
            if outcome is ClaimOutcome.BUSY:
                # Another call holds the claim: wait for its outcome (or its lease to lapse).
                waits += 1
                await asyncio.sleep(self._wait.pause(waits))
                continue
            self._leases.hold(key, token, lease)
            try:
                if outcome is ClaimOutcome.SEND and record.state is RecordState.SENT:
                    # The usual case: claimed and marked SENT in one write; send now.
                    return await self._transmit(call, next_handler, key, token)
                reply = await self._own(call, next_handler, intent, token, lease, claim)
            finally:
                self._leases.drop(token)
            if reply is not None:
                return reply
        msg = f"payout {last4(key)} is still being sent by another call or process; it may exist"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    async def _claim(
        self, intent: PayoutIntent, fp: str, token: str, lease: float, *, adopt_refusal: bool
    ) -> Claim:
        """Claim the number; a claim that may send is marked ``SENT`` in the same write."""
        key, store = intent.out_trade_no, self.store
        if self._synchronous:
            # A plain call that cannot be interrupted: nothing to hand back on cancellation.
            return store.claim_now(  # type: ignore[attr-defined, no-any-return]
                key,
                fp,
                owner=token,
                lease_seconds=lease,
                amount=intent.amount,
                currency=intent.currency,
                sending=True,
                adopt_refusal=adopt_refusal,
            )

        async def hand_back(claim: Claim) -> None:
            if claim.outcome in (ClaimOutcome.SEND, ClaimOutcome.QUERY_FIRST):
                await store.release(key, owner=token, error="cancelled")

        step = store.claim(
            key,
            fp,
            owner=token,
            lease_seconds=lease,
            amount=intent.amount,
            currency=intent.currency,
            sending=True,
            adopt_refusal=adopt_refusal,
        )
        return await before_sending(key, run_to_completion(step, undo=hand_back))

    async def _own(
        self,
        call: Call,
        next_handler: Handler,
        intent: PayoutIntent,
        token: str,
        lease: float,
        claim: Claim,
    ) -> Reply | None:
        """We hold the claim: settle what may exist first, then send."""
        proven_absent = False
        if claim.outcome is ClaimOutcome.QUERY_FIRST:
            found = await self._settler.query_first(call, next_handler, intent, token, claim.record)
            if isinstance(found, Reply):
                return found
            proven_absent = found
        return await self._send(call, next_handler, intent, token, lease, proven_absent)

    async def _send(
        self,
        call: Call,
        next_handler: Handler,
        intent: PayoutIntent,
        token: str,
        lease: float,
        proven_absent: bool,
    ) -> Reply | None:
        key = intent.out_trade_no
        marked = await self._mark_sent(key, token, lease, proven_absent)
        if marked is None:
            return None  # our lease lapsed and another owner took over: claim again
        if marked.maybe_sent:
            call = attrs.evolve(call, may_exist=True)
        return await self._transmit(call, next_handler, key, token)

    async def _transmit(self, call: Call, next_handler: Handler, key: str, token: str) -> Reply:
        """The record is ``SENT`` (committed): hand the call to the retry layer, record the outcome."""
        self._maybe_sent(key)
        try:
            reply = await next_handler(call)
        except asyncio.CancelledError:
            in_doubt = self.store.record_in_doubt(key, owner=token, error="cancelled after sending")
            await self.journal.write(in_doubt)
            raise
        except Exception as exc:
            raise await self._record_failure(key, token, exc) from None
        if self._synchronous:
            self.store.record_result_now(key, reply.data or {})  # type: ignore[attr-defined]
            return reply
        if await self.journal.write(self.store.record_result(key, dict(reply.data or {}))) is None:
            # The payout is accepted; the journal will learn it by query.
            logger.error(
                "payermax could not record accepted payout %s",
                last4(key),
                extra={"out_trade_no": key, "outcome": "store_error"},
            )
        return reply

    async def _mark_sent(
        self, key: str, token: str, lease: float, proven_absent: bool
    ) -> PayoutRecord | None:
        """Commit ``SENT`` before the first byte leaves: a crash from here on leaves a record the
        next owner settles by querying. A cancelled mark hands the claim back (nothing was sent)."""

        async def hand_back(marked: PayoutRecord | None) -> None:
            if marked is not None:  # nothing was sent: the same rules as a "not sent" failure
                await self.store.release(key, owner=token, error="cancelled before sending")

        mark = self.store.mark_sent(
            key, owner=token, proven_absent=proven_absent, lease_seconds=lease
        )
        try:
            return await before_sending(key, run_to_completion(mark, undo=hand_back))
        except StoreError:
            # Nothing was sent: hand the claim back (best effort) so the next create() of this
            # number need not wait for our lease to lapse.
            await self.journal.write(self.store.release(key, owner=token, error="store failed"))
            raise

    async def _record_failure(self, key: str, token: str, error: Exception) -> BaseException:
        """Journal a failed send and return the exception the caller should see: a refusal or a
        "not sent" only when the journal confirms that no order can exist, else in doubt."""
        if isinstance(error, IdempotencyConflictError):
            await self.journal.write(
                self.store.record_conflict(key, owner=token, error=describe(error))
            )
            return error
        kind = classify(error)
        if kind is Outcome.REJECTED:
            code = error.code if isinstance(error, APIError) else type(error).__name__
            rejected = self.store.record_rejected(
                key, owner=token, code=code, error=describe(error)
            )
            record = await self.journal.write(rejected)
            if record is not None and record.state is RecordState.REJECTED:
                return error
            return unknown(key, error)
        if kind in (Outcome.NOT_SENT, Outcome.RATE_LIMITED, Outcome.TIME_SKEW, Outcome.LOCAL):
            # The retry layer only lets these through when no attempt of this call may have reached
            # the gateway; the journal knows whether an earlier one may have.
            record = await self.journal.write(
                self.store.release(key, owner=token, error=describe(error))
            )
            if record is not None and record.state is RecordState.CLAIMED:
                return error
            return unknown(key, error)
        in_doubt = self.store.record_in_doubt(
            key, owner=token, error=describe(error), code=gateway_code(error)
        )
        await self.journal.write(in_doubt)
        return unknown(key, error)

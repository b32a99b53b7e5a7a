"""The journal layer (outermost but for operation-level middlewares such as telemetry): record every
payout in the store before a byte is sent, and never let an answer settle more than it proves.

For ``paymentOrderPay`` calls (every other call passes through untouched):

1. Fingerprint the request (:class:`~.intent.PayoutIntent`: canonical ``data``, amounts as numbers).
2. Single-flight: a second ``create()`` of a number already in flight in this process shares the
   first one's attempt (a different fingerprint is an ``IdempotencyConflictError`` at once).
3. Claim the number in the store (committed for durable stores; a cancelled claim hands its lease
   back). Its answer decides: conflict → raise, nothing sent; the order is known → the recorded
   result, nothing sent; another live owner → wait for its outcome; maybe sent before → query
   first and adopt what exists (if it is the same payout), resend the same number otherwise.
4. Mark ``SENT`` (committed) and hand the call to the retry layer, telling it whether the payout may
   already exist; record what came back: accepted, refused (definitive only for a signed refusal of
   a payout never maybe-sent), nothing sent, or in doubt. A cancellation after the mark leaves the
   record in doubt.

The lease a claim holds covers the owner's worst case (retry deadline, the last attempt and its
settling query at the full timeout) and is renewed at each send and by a heartbeat while the owner
works, so no other process takes a number over from a working owner.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

import attrs

from .._chain import Call, Handler, Reply
from ..errors import (
    APIError,
    IdempotencyConflictError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    StoreError,
    ValidationError,
    error_for_code,
)
from ..protocol.apis import API_PAY, API_QUERY
from ..stores._journal import order_fact
from ..stores.base import (
    KNOWN_STATES,
    Claim,
    ClaimOutcome,
    IdempotencyStore,
    PayoutRecord,
    RecordState,
)
from .intent import PayoutIntent, fingerprint, legacy_fingerprint
from .logging import logger, redact_text
from .outcomes import Outcome, classify, outcome_unknown
from .settle import check_same_payout, lookup
from .shield import run_to_completion

__all__ = [
    "DEFAULT_ABSENCE_WINDOW",
    "IdempotencyMiddleware",
    "conflict_error",
    "describe",
    "fingerprint",
    "legacy_fingerprint",
    "recorded_reply",
]

T = TypeVar("T")
_MAX_ROUNDS = 4
_MAX_POLLS = 100_000
#: How long after the last possible send an ``ORDER_NOT_EXIST`` proves absence (docs/protocol.md):
#: PayerMax refuses a request older than 2 minutes, plus a wide margin for late commits.
DEFAULT_ABSENCE_WINDOW = 600.0


def describe(error: BaseException) -> str:
    """Class and code of an error for the journal, redacted (no payee data)."""
    if isinstance(error, APIError):
        return f"{type(error).__name__}: {error.code}"
    return redact_text(f"{type(error).__name__}: {error}")[:300]


def _code(error: BaseException) -> str | None:
    if isinstance(error, APIError):
        return error.code
    return error.code if isinstance(error, PayoutOutcomeUnknown) else None


def recorded_reply(key: str, data: dict[str, object]) -> Reply:
    """A reply rebuilt from the journal or a query, for a payout that needs no sending."""
    return Reply(
        api=API_PAY,
        code="APPLY_SUCCESS",
        msg=f"payout …{key[-4:]} settled from the journal or by {API_QUERY}",
        data=data,
        http_status=200,
        raw=b"",
    )


class _LeaderCancelled(Exception):
    """Internal: the call settling a shared attempt was cancelled (not the waiting caller)."""


class _Flight:
    """One payout being settled by this process; later callers of the same number wait on it.

    The first caller settles the payout on its own task (no extra task per payout); the future the
    others wait on is only made when a second caller turns up. A cancelled leader settles it with
    :class:`_LeaderCancelled`, never by cancelling it: a waiter that sees ``CancelledError`` then
    knows it was itself cancelled, on every Python version.
    """

    __slots__ = ("_waiter", "fingerprint")

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self._waiter: asyncio.Future[Reply] | None = None

    def waiter(self) -> asyncio.Future[Reply]:
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def settle(self, reply: Reply | None, error: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if isinstance(error, asyncio.CancelledError):
            waiter.set_exception(_LeaderCancelled())
            waiter.exception()  # retrieved: nobody may be left waiting
        elif error is not None:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: a waiter that was itself cancelled must not log it
        else:
            assert reply is not None
            waiter.set_result(reply)


class _Heartbeat:
    """Renews a claim's lease every third of it while its owner works (a slow signer, a store that
    stalls, a timeout without a total): the lease a process holds never lapses under it."""

    __slots__ = ("_handle", "_key", "_lease", "_middleware", "_token")

    def __init__(self, middleware: IdempotencyMiddleware, key: str, token: str, lease: float):
        self._middleware, self._key, self._token, self._lease = middleware, key, token, lease
        self._handle = asyncio.get_running_loop().call_later(lease / 3, self._beat)

    def _beat(self) -> None:
        renew = self._middleware.store.renew(
            self._key, owner=self._token, lease_seconds=self._lease
        )
        self._middleware.spawn(_logged(renew, "lease renewal"))
        self._handle = asyncio.get_running_loop().call_later(self._lease / 3, self._beat)

    def stop(self) -> None:
        self._handle.cancel()


async def _logged(write: Awaitable[object], what: str) -> None:
    try:
        await write
    except Exception as exc:
        logger.error("payermax journal %s failed: %s", what, type(exc).__name__)


class IdempotencyMiddleware:
    """Exactly-once payouts over an :class:`~payermax_async.IdempotencyStore` (module docstring).

    Args:
        store: the journal.
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
        lease_seconds: float = 90.0,
        wait_timeout: float | None = None,
        poll_interval: float = 0.02,
        owner: str | None = None,
        absence_window: float = DEFAULT_ABSENCE_WINDOW,
        default_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.wait_timeout = wait_timeout if wait_timeout is not None else lease_seconds + 5.0
        self.poll_interval = poll_interval
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.absence_window = absence_window
        self.default_timeout = default_timeout
        self._inflight: dict[str, _Flight] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tokens = 0

    # ------------------------------------------------------------------------------ shared helpers

    def in_flight(self, out_trade_no: str) -> bool:
        """Whether this process is working on ``out_trade_no`` right now."""
        return out_trade_no in self._inflight

    def now(self) -> float:
        """The journal's clock (epoch seconds)."""
        clock = getattr(self.store, "now", None)
        return float(clock()) if callable(clock) else time.time()

    def token(self) -> str:
        """A lease token for one call: claims are exclusive per call, not per process, so a
        reconcile() and a create() of one number in the same process cannot act for each other."""
        self._tokens += 1
        return f"{self.owner}/{self._tokens}"

    def absence_proven(self, record: PayoutRecord, queried_at: float) -> bool:
        """Whether a signed ``ORDER_NOT_EXIST`` from a query started at ``queried_at`` proves that
        no order exists for ``record``: nothing was ever maybe sent, or the query came an absence
        window after the last moment a request may have left."""
        if not record.maybe_sent:
            return True
        return (
            record.sent_until is not None and queried_at >= record.sent_until + self.absence_window
        )

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a background journal write, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def write(self, step: Coroutine[Any, Any, T]) -> T | None:
        """A journal write after the fact: runs to completion even if the caller is cancelled; a
        failure is logged and ``None`` returned (the caller's own outcome matters more, and the
        record stays open for the next owner or ``reconcile()``)."""
        try:
            return await run_to_completion(step)
        except Exception as exc:
            logger.error(
                "payermax journal write failed: %s",
                type(exc).__name__,
                extra={"api": API_PAY, "outcome": "store_error"},
            )
            return None

    # ------------------------------------------------------------------------------ the layer

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        if call.api != API_PAY:
            return await next_handler(call)
        key = call.idempotency_key
        if not key:
            msg = "a payout needs its outTradeNo as the idempotency key"
            raise ValidationError(msg, field="outTradeNo")
        intent = PayoutIntent.of(key, call.data)
        for _ in range(_MAX_ROUNDS):
            flight = self._inflight.get(key)
            if flight is None:
                flight = _Flight(intent.fingerprint)
                self._inflight[key] = flight
                # The initiator settles the payout itself: cancelling it cancels the attempt, whose
                # record then stays in doubt.
                return await self._lead(call, next_handler, intent, flight)
            if flight.fingerprint != intent.fingerprint:
                record = await self.store.get(key)
                raise conflict_error(key, record)
            try:
                return await asyncio.shield(flight.waiter())
            except _LeaderCancelled:
                # The initiator was cancelled, not us: start over; the record is in doubt and the
                # next round settles it by querying before any resend.
                self._forget(key, flight)
        msg = f"payout …{key[-4:]} could not be settled: its attempts kept being cancelled"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    async def _lead(
        self, call: Call, next_handler: Handler, intent: PayoutIntent, flight: _Flight
    ) -> Reply:
        try:
            reply = await self._settle(call, next_handler, intent)
        except BaseException as exc:
            self._forget(intent.out_trade_no, flight)
            flight.settle(None, exc)
            raise
        self._forget(intent.out_trade_no, flight)
        flight.settle(reply, None)
        return reply

    def _forget(self, key: str, flight: _Flight) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]

    def lease_for(self, call: Call) -> float:
        """The lease of one payout call: the client's, plus two more timeouts' worth when the call's
        own timeout is longer than the client's (its last attempt and the settling query)."""
        extra = 0.0
        total = call.timeout.total if call.timeout is not None else None
        if total:
            extra = max(0.0, total - (self.default_timeout or 0.0))
        return self.lease_seconds + 2 * extra

    async def _claim(self, intent: PayoutIntent, fp: str, token: str, lease: float) -> Claim:
        async def hand_back(claim: Claim) -> None:
            if claim.outcome in (ClaimOutcome.SEND, ClaimOutcome.QUERY_FIRST):
                await self.store.release(intent.out_trade_no, owner=token, error="cancelled")

        step = self.store.claim(
            intent.out_trade_no,
            fp,
            owner=token,
            lease_seconds=lease,
            amount=intent.amount,
            currency=intent.currency,
        )
        return await _before_sending(intent.out_trade_no, run_to_completion(step, undo=hand_back))

    async def _settle(self, call: Call, next_handler: Handler, intent: PayoutIntent) -> Reply:
        key = intent.out_trade_no
        token = self.token()
        lease = self.lease_for(call)
        fp = intent.fingerprint
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.wait_timeout + lease - self.lease_seconds
        pause = self.poll_interval
        waited = False
        for _ in range(_MAX_POLLS):
            if loop.time() >= give_up_at:
                break
            if waited:
                # We waited on another call's attempt: its definitive refusal is this call's outcome
                # too (as a follower in this process would share it), never a cue to resend.
                await self._adopt_refusal(key)
            claim = await self._claim(intent, fp, token, lease)
            outcome, record = claim.outcome, claim.record
            if outcome is ClaimOutcome.CONFLICT:
                if record.fingerprint != fp and intent.matches(record.fingerprint):
                    fp = record.fingerprint  # written by an earlier version: the same request
                    continue
                raise conflict_error(key, record)
            if outcome is ClaimOutcome.DONE:
                known = await self._known(next_handler, intent, record, call)
                if known is not None:
                    return known
                continue
            if outcome is ClaimOutcome.BUSY:
                # Another call holds the claim: wait for its outcome (or its lease to lapse).
                waited = True
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, 0.5)
                continue
            heartbeat = _Heartbeat(self, key, token, lease)
            try:
                reply = await self._own(call, next_handler, intent, token, lease, claim)
            finally:
                heartbeat.stop()
            if reply is not None:
                return reply
        msg = f"payout …{key[-4:]} is still being sent by another call or process; it may exist"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    async def _adopt_refusal(self, key: str) -> None:
        """Raise the signed refusal another call just recorded for ``key``, if that is its state."""
        record = await _before_sending(key, self.store.get(key))
        if record is None or record.state is not RecordState.REJECTED or record.maybe_sent:
            return
        code = record.error_code or "REJECTED"
        msg = f"refused for another call of payout …{key[-4:]} that this call waited on"
        raise error_for_code(code, msg, verified=True)

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
            found = await self._query_first(call, next_handler, intent, token, claim.record)
            if isinstance(found, Reply):
                return found
            proven_absent = found
        return await self._send(call, next_handler, intent, token, lease, proven_absent)

    async def _known(
        self, next_handler: Handler, intent: PayoutIntent, record: PayoutRecord, call: Call
    ) -> Reply | None:
        """The journal knows the order. A record learned without its request or its order's trade
        (an earlier version's notification) is checked by query first; ``None``: claim again."""
        if record.fingerprint:
            return recorded_reply(intent.out_trade_no, record.result_data())
        key = intent.out_trade_no
        try:
            found = await lookup(next_handler, key, timeout=call.timeout)
        except PayerMaxError as exc:
            raise outcome_unknown(key, exc) from exc
        if found.order is None:
            msg = f"the journal knows payout …{key[-4:]} but the gateway does not (yet)"
            raise PayoutOutcomeUnknown(msg, out_trade_no=key, code="ORDER_NOT_EXIST")
        # Keep the order's trade: from now on the claim itself compares requests with it.
        await self.write(self.store.record_result(key, order_fact(found.order)))
        check_same_payout(key, intent.amount, intent.currency, found.order)
        return None

    async def _query_first(
        self,
        call: Call,
        next_handler: Handler,
        intent: PayoutIntent,
        token: str,
        record: PayoutRecord,
    ) -> Reply | bool:
        """A request may have left before (a crashed owner, an earlier give-up): ask, never guess.

        Returns the order's reply, or whether its absence is now proven (see ``absence_proven``).
        """
        key = intent.out_trade_no
        queried_at = self.now()
        try:
            found = await lookup(next_handler, key, timeout=call.timeout)
            if found.order is not None:
                check_same_payout(key, intent.amount, intent.currency, found.order)
        except asyncio.CancelledError:
            await self.write(self.store.record_in_doubt(key, owner=token, error="cancelled"))
            raise
        except IdempotencyConflictError as exc:
            await self.write(self.store.record_conflict(key, owner=token, error=describe(exc)))
            raise
        except Exception as exc:
            await self.write(
                self.store.record_in_doubt(key, owner=token, error=describe(exc), code=_code(exc))
            )
            raise outcome_unknown(key, exc) from exc
        if found.order is None:
            return self.absence_proven(record, queried_at)
        fact = order_fact(found.order)
        await self.write(self.store.record_result(key, fact))
        return recorded_reply(key, {k: v for k, v in fact.items() if k != "trade"})

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

        async def hand_back(marked: PayoutRecord | None) -> None:
            if marked is not None:  # nothing was sent: the same rules as a "not sent" failure
                await self.store.release(key, owner=token, error="cancelled before sending")

        # Committed before the first byte leaves: from here on, a crash leaves a SENT record that
        # the next owner settles by querying.
        mark = self.store.mark_sent(
            key, owner=token, proven_absent=proven_absent, lease_seconds=lease
        )
        try:
            marked = await _before_sending(key, run_to_completion(mark, undo=hand_back))
        except StoreError:
            # Nothing was sent: hand the claim back (best effort) so the next create() of this
            # number need not wait for our lease to lapse.
            await self.write(self.store.release(key, owner=token, error="store failed"))
            raise
        if marked is None:
            return None  # our lease lapsed and another owner took over: claim again
        if marked.maybe_sent:
            call = attrs.evolve(call, may_exist=True)
        try:
            reply = await next_handler(call)
        except asyncio.CancelledError:
            await self.write(
                self.store.record_in_doubt(key, owner=token, error="cancelled after sending")
            )
            raise
        except Exception as exc:
            raise await self._record_failure(key, token, exc) from None
        if await self.write(self.store.record_result(key, dict(reply.data or {}))) is None:
            # The payout is accepted; the journal will learn it by query.
            logger.error(
                "payermax could not record accepted payout …%s",
                key[-4:],
                extra={"api": API_PAY, "out_trade_no": key, "outcome": "store_error"},
            )
        return reply

    async def _record_failure(self, key: str, token: str, error: Exception) -> BaseException:
        """Journal a failed send and return the exception the caller should see: a refusal or a
        "not sent" only when the journal confirms that no order can exist, else in doubt."""
        if isinstance(error, IdempotencyConflictError):
            await self.write(self.store.record_conflict(key, owner=token, error=describe(error)))
            return error
        kind = classify(error)
        if kind is Outcome.REJECTED:
            code = error.code if isinstance(error, APIError) else type(error).__name__
            record = await self.write(
                self.store.record_rejected(key, owner=token, code=code, error=describe(error))
            )
            if record is not None and record.state is RecordState.REJECTED:
                return error
            return _unknown(key, error)
        if kind in (Outcome.NOT_SENT, Outcome.RATE_LIMITED, Outcome.TIME_SKEW, Outcome.LOCAL):
            # The retry layer only lets these through when no attempt of this call may have reached
            # the gateway; the journal knows whether an earlier one may have.
            record = await self.write(self.store.release(key, owner=token, error=describe(error)))
            if record is not None and record.state is RecordState.CLAIMED:
                return error
            return _unknown(key, error)
        await self.write(
            self.store.record_in_doubt(key, owner=token, error=describe(error), code=_code(error))
        )
        return _unknown(key, error)


def _unknown(key: str, error: Exception) -> BaseException:
    if isinstance(error, PayoutOutcomeUnknown):
        return error
    unknown = outcome_unknown(key, error)
    unknown.__cause__ = error
    return unknown


async def _before_sending(key: str, write: Awaitable[T]) -> T:
    """Run a journal step that precedes the send; a store failure there means nothing was sent."""
    try:
        return await write
    except StoreError as exc:
        raise _store_down(key, exc) from exc
    except (PayerMaxError, asyncio.CancelledError):
        raise
    except Exception as exc:  # a store outside this package raising its driver's errors
        raise _store_down(key, exc) from exc


def _store_down(key: str, exc: BaseException) -> StoreError:
    cause = exc.__cause__ if isinstance(exc, StoreError) and exc.__cause__ else exc
    msg = (
        f"the idempotency store failed ({type(cause).__name__}) before payout …{key[-4:]} was "
        "sent; nothing was sent by this call, retry the same create() when the store is back"
    )
    return StoreError(msg, out_trade_no=key)


def conflict_error(key: str, record: PayoutRecord | None) -> IdempotencyConflictError:
    """The error for a request that does not match the payout recorded under its number.

    The message says what the journal knows of the recorded payout; it suggests another number
    only when the journal proves that nothing was ever sent under this one.
    """
    short = f"…{key[-4:]}"
    head = (
        f"outTradeNo {short} is recorded for a payout with different data (amount, currency or "
        "payee); this request was not sent. "
    )
    if record is None:
        tail = "The recorded payout is being sent right now and may exist; check it with retrieve()"
    elif record.state is RecordState.CONFLICT:
        head = f"outTradeNo {short} holds another payout at PayerMax; this request was not sent. "
        tail = "Find out who used the number before paying this intent under any number"
    elif record.state in KNOWN_STATES:
        tail = "The recorded payout exists at PayerMax; check it with retrieve()"
    elif record.is_known_absent():
        tail = (
            "The recorded payout was never created (nothing was sent, or PayerMax refused it), "
            "so a different payout may use a new outTradeNo"
        )
    else:
        tail = (
            "The recorded payout may exist (it is in doubt): settle it with reconcile() before "
            "paying anything for this intent under any number"
        )
    return IdempotencyConflictError(head + tail, out_trade_no=key)

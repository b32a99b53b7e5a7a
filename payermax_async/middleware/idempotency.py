"""The journal layer (outermost but for operation-level middlewares such as telemetry): record every
payout in the store before a byte is sent.

For ``paymentOrderPay`` calls (every other call passes through untouched):

1. Fingerprint the canonical ``data`` (sorted keys, compact JSON, sha256; not the envelope, whose
   ``requestTime`` changes on every attempt).
2. Single-flight: a second ``create()`` of a number already in flight in this process shares the
   first one's attempt (a different fingerprint is an ``IdempotencyConflictError`` at once).
3. Claim the number in the store (committed for durable stores). Its answer decides: conflict → raise,
   nothing sent; already accepted → the recorded result, nothing sent; another live owner → wait for
   its recorded outcome (polling, bounded); abandoned after a possible send (``SENT``/``IN_DOUBT``) →
   query first and adopt what exists, resend the same number only on ``ORDER_NOT_EXIST``.
4. Mark ``SENT`` (committed) and hand the call to the retry layer; record what came back: accepted,
   rejected, nothing sent (re-sendable), or in doubt. A cancellation after the mark leaves the record
   in doubt: the journal write is shielded from the cancellation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from .._chain import Call, Handler, Reply
from ..errors import (
    APIError,
    ClientClosedError,
    ConfigurationError,
    IdempotencyConflictError,
    InvalidResponseError,
    OrderNotFoundError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    StoreError,
    ValidationError,
)
from ..models._converter import structure
from ..models.payouts import PayoutOrder
from ..resources.payouts import API_PAY, API_QUERY
from ..stores.base import ClaimOutcome, IdempotencyStore, PayoutRecord
from .logging import logger, redact_text
from .retry import Outcome, check_same_payout, classify, outcome_unknown

__all__ = ["IdempotencyMiddleware", "fingerprint"]

T = TypeVar("T")
_MAX_ROUNDS = 4
_MAX_POLLS = 100_000
_CONFLICT_CODE = "IDEMPOTENCY_CONFLICT"


# Built once (json.dumps builds one per call). The canonical form must never change: durable
# journals compare fingerprints written by earlier versions.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def fingerprint(data: Mapping[str, object]) -> str:
    """sha256 of a request's ``data`` in canonical form (sorted keys, compact, UTF-8)."""
    canonical = _CANONICAL.encode(data)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _trade(data: Mapping[str, object]) -> tuple[str | None, str | None]:
    trade = data.get("trade")
    if not isinstance(trade, Mapping):
        return None, None
    amount, currency = trade.get("amount"), trade.get("currency")
    return (
        str(amount) if amount is not None else None,
        str(currency) if currency is not None else None,
    )


def _describe(error: BaseException) -> str:
    """Class and code of an error for the journal, redacted (no payee data)."""
    if isinstance(error, APIError):
        return f"{type(error).__name__}: {error.code}"
    return redact_text(f"{type(error).__name__}: {error}")[:300]


def recorded_reply(key: str, data: Mapping[str, object]) -> Reply:
    """A reply rebuilt from the journal or a query, for a payout that needs no sending."""
    return Reply(
        api=API_PAY,
        code="APPLY_SUCCESS",
        msg=f"payout …{key[-4:]} settled from the journal or by {API_QUERY}",
        data=data,
        http_status=200,
        raw=b"",
    )


async def _shielded(write: Awaitable[T]) -> T:
    """Let a journal write finish even if the caller is being cancelled."""
    return await asyncio.shield(write)


def _we_are_cancelled() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling()) if cancelling is not None else False


class _Flight:
    """One payout being settled by this process; later callers of the same number wait on it.

    The first caller settles the payout on its own task (no extra task per payout); the future the
    others wait on is only made when a second caller turns up.
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
            waiter.cancel()
        elif error is not None:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: a waiter that was itself cancelled must not log it
        else:
            assert reply is not None
            waiter.set_result(reply)


class IdempotencyMiddleware:
    """Exactly-once payouts over an :class:`~payermax_async.IdempotencyStore` (module docstring).

    Args:
        store: the journal.
        lease_seconds: how long a claim is exclusive; must exceed a call's retry deadline, since a
            lease that ran out lets another process take over (by querying first).
        wait_timeout: how long a caller waits for another process's in-flight attempt.
        poll_interval: first pause between looks at the store while waiting.
        owner: this process's identity in the store (host, pid and a random part by default).
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        lease_seconds: float = 90.0,
        wait_timeout: float | None = None,
        poll_interval: float = 0.02,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.wait_timeout = wait_timeout if wait_timeout is not None else lease_seconds + 5.0
        self.poll_interval = poll_interval
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._inflight: dict[str, _Flight] = {}

    def in_flight(self, out_trade_no: str) -> bool:
        """Whether this process is working on ``out_trade_no`` right now."""
        return out_trade_no in self._inflight

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        if call.api != API_PAY:
            return await next_handler(call)
        key = call.idempotency_key
        if not key:
            msg = "a payout needs its outTradeNo as the idempotency key"
            raise ValidationError(msg, field="outTradeNo")
        fp = fingerprint(call.data)
        for _ in range(_MAX_ROUNDS):
            flight = self._inflight.get(key)
            if flight is None:
                flight = _Flight(fp)
                self._inflight[key] = flight
                # The initiator settles the payout itself: cancelling it cancels the attempt, whose
                # record then stays in doubt.
                return await self._lead(call, next_handler, key, flight)
            if flight.fingerprint != fp:
                raise _conflict(key)
            waiter = flight.waiter()
            try:
                return await asyncio.shield(waiter)
            except asyncio.CancelledError:
                if not waiter.cancelled() or _we_are_cancelled():
                    raise
                # The initiator was cancelled, not us: start over; the record is in doubt and the
                # next round settles it by querying before any resend.
                self._forget(key, flight)
        msg = f"payout …{key[-4:]} could not be settled: its attempts kept being cancelled"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    async def _lead(self, call: Call, next_handler: Handler, key: str, flight: _Flight) -> Reply:
        try:
            reply = await self._settle(call, next_handler, key, flight.fingerprint)
        except BaseException as exc:
            self._forget(key, flight)
            flight.settle(None, exc)
            raise
        self._forget(key, flight)
        flight.settle(reply, None)
        return reply

    def _forget(self, key: str, flight: _Flight) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]

    def _token(self) -> str:
        """A lease token for one call: claims are exclusive per call, not per process, so a
        reconcile() and a create() of one number in the same process cannot act for each other."""
        return f"{self.owner}/{uuid.uuid4().hex[:8]}"

    def _lease(self, call: Call) -> float:
        # The lease must outlive the call: the retry deadline plus, for a longer per-call timeout, a
        # last attempt and its settling query running to that timeout.
        extra = call.timeout.total if call.timeout is not None and call.timeout.total else 0.0
        return self.lease_seconds + 2 * extra

    async def _settle(self, call: Call, next_handler: Handler, key: str, fp: str) -> Reply:
        amount, currency = _trade(call.data)
        token = self._token()
        lease = self._lease(call)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.wait_timeout + lease - self.lease_seconds
        pause = self.poll_interval
        for _ in range(_MAX_POLLS):
            if loop.time() >= give_up_at:
                break
            claim = await _before_sending(
                key,
                self.store.claim(
                    key, fp, owner=token, lease_seconds=lease, amount=amount, currency=currency
                ),
            )
            outcome = claim.outcome
            if outcome is ClaimOutcome.CONFLICT:
                raise _conflict(key)
            if outcome is ClaimOutcome.DONE:
                return recorded_reply(key, claim.record.result_data())
            if outcome is ClaimOutcome.BUSY:
                # Another call holds the claim: wait for its outcome (or its lease to lapse).
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, 0.5)
                continue
            if outcome is ClaimOutcome.QUERY_FIRST:
                found = await self._query_first(call, next_handler, key, token)
                if found is not None:
                    return found
            reply = await self._send(call, next_handler, key, token)
            if reply is not None:
                return reply
        msg = f"payout …{key[-4:]} is still being sent by another call or process; it may exist"
        raise PayoutOutcomeUnknown(msg, out_trade_no=key)

    async def _query_first(
        self, call: Call, next_handler: Handler, key: str, token: str
    ) -> Reply | None:
        """A request may have left before (a crashed owner, an earlier give-up): ask, never guess."""
        query = Call.build(API_QUERY, {"outTradeNo": key}, timeout=call.timeout)
        try:
            reply = await next_handler(query)
            order = structure(reply.data, PayoutOrder, what=f"{API_QUERY} data")
            if order.out_trade_no != key:
                msg = f"{API_QUERY} for …{key[-4:]} answered with another outTradeNo"
                raise InvalidResponseError(msg, http_status=reply.http_status)
            check_same_payout(call, order)
        except OrderNotFoundError:
            return None
        except asyncio.CancelledError:
            await self._in_doubt(key, token, "cancelled while querying")
            raise
        except IdempotencyConflictError as exc:
            await self._write(
                self.store.record_rejected(
                    key, owner=token, code=_CONFLICT_CODE, error=_describe(exc)
                )
            )
            raise
        except Exception as exc:
            await self._in_doubt(key, token, _describe(exc))
            raise outcome_unknown(key, exc) from exc
        fact = _order_fact(order)
        await self._write(self.store.record_result(key, fact))
        return recorded_reply(key, fact)

    async def _send(self, call: Call, next_handler: Handler, key: str, token: str) -> Reply | None:
        # Committed before the first byte leaves: from here on, a crash leaves a SENT record that
        # the next owner settles by querying.
        try:
            marked = await _before_sending(key, self.store.mark_sent(key, owner=token))
        except StoreError:
            # Nothing was sent: hand the claim back (best effort) so the next create() of this
            # number need not wait for our lease to lapse.
            await self._write(self.store.release(key, owner=token, error="store failed"))
            raise
        if marked is None:
            return None  # our lease lapsed and another owner took over: claim again
        try:
            reply = await next_handler(call)
        except asyncio.CancelledError:
            await self._in_doubt(key, token, "cancelled after the request may have been sent")
            raise
        except Exception as exc:
            raise await self._record_failure(key, token, exc) from None
        try:
            await _shielded(self.store.record_result(key, dict(reply.data or {})))
        except Exception as exc:  # the payout is accepted; the journal will learn it by query
            logger.error(
                "payermax could not record accepted payout …%s: %s",
                key[-4:],
                type(exc).__name__,
                extra={"api": API_PAY, "out_trade_no": key, "outcome": "store_error"},
            )
        return reply

    async def _record_failure(self, key: str, token: str, error: Exception) -> BaseException:
        """Journal a failed send and return the exception the caller should see."""
        if isinstance(error, IdempotencyConflictError):
            await self._write(
                self.store.record_rejected(
                    key, owner=token, code=_CONFLICT_CODE, error=_describe(error)
                )
            )
            return error
        kind = classify(error) if isinstance(error, PayerMaxError) else Outcome.UNKNOWN
        if kind is Outcome.REJECTED:
            code = error.code if isinstance(error, APIError) else type(error).__name__
            await self._write(
                self.store.record_rejected(key, owner=token, code=code, error=_describe(error))
            )
            return error
        if kind in (Outcome.NOT_SENT, Outcome.RATE_LIMITED, Outcome.TIME_SKEW) or isinstance(
            error, ClientClosedError | ConfigurationError
        ):
            # The retry layer only lets these through when no attempt may have reached the
            # gateway: nothing exists, the record becomes re-sendable.
            await self._write(self.store.release(key, owner=token, error=_describe(error)))
            return error
        await self._in_doubt(key, token, _describe(error))
        if isinstance(error, PayoutOutcomeUnknown):
            return error
        unknown = outcome_unknown(key, error)
        unknown.__cause__ = error
        return unknown

    async def _in_doubt(self, key: str, token: str, why: str) -> None:
        await self._write(self.store.record_in_doubt(key, owner=token, error=why))

    async def _write(self, write: Awaitable[object]) -> None:
        try:
            await _shielded(write)
        except (
            Exception
        ) as exc:  # keep the caller's error; the lease lapses and the next owner queries
            logger.error(
                "payermax journal write failed: %s",
                type(exc).__name__,
                extra={"api": API_PAY, "outcome": "store_error"},
            )

    async def reconcile(
        self,
        query: Callable[[str], Awaitable[PayoutOrder]],
        *,
        include_leased: bool = False,
        concurrency: int = 8,
    ) -> list[PayoutOrder]:
        """Settle every open record by querying it (see ``Payouts.reconcile``)."""
        records = await self.store.open_records()
        found: list[PayoutOrder | None] = [None] * len(records)
        limit = asyncio.Semaphore(max(1, concurrency))

        async def settle(index: int, record: PayoutRecord) -> None:
            async with limit:
                found[index] = await self._reconcile_one(record, query, include_leased)

        await asyncio.gather(*(settle(i, r) for i, r in enumerate(records)))
        return [order for order in found if order is not None]

    async def _reconcile_one(
        self,
        record: PayoutRecord,
        query: Callable[[str], Awaitable[PayoutOrder]],
        include_leased: bool,
    ) -> PayoutOrder | None:
        key = record.out_trade_no
        if self.in_flight(key):
            return None  # this process is settling it right now
        token = self._token()
        try:
            claim = await self.store.claim(
                key,
                record.fingerprint,
                owner=token,
                lease_seconds=self.lease_seconds,
                amount=record.amount,
                currency=record.currency,
            )
        except PayerMaxError as exc:
            # One record the store cannot claim now must not stop the others from settling; it
            # stays open for the next reconcile().
            logger.warning(
                "payermax reconcile skipped …%s: %s",
                key[-4:],
                type(exc).__name__,
                extra={"api": API_QUERY, "out_trade_no": key, "outcome": type(exc).__name__},
            )
            return None
        if claim.outcome is ClaimOutcome.DONE:
            return None
        owned = claim.outcome in (ClaimOutcome.SEND, ClaimOutcome.QUERY_FIRST)
        if not owned and not (claim.outcome is ClaimOutcome.BUSY and include_leased):
            return None
        try:
            order = await query(key)
        except OrderNotFoundError:
            if owned:
                # Nothing exists: the next create() of this number sends it (the same number).
                await self._write(self.store.release(key, owner=token, error="ORDER_NOT_EXIST"))
            else:
                # Another call's lease (include_leased: its process is presumed dead). It may still
                # be sending, and "not found" may precede its order becoming visible, so the record
                # is not released but put in doubt: the next create() queries before it resends.
                await self._write(
                    self.store.record_in_doubt(
                        key, owner=None, error="ORDER_NOT_EXIST while another call held it"
                    )
                )
            return None
        except asyncio.CancelledError:
            if owned:
                await self._in_doubt(key, token, "reconcile cancelled")
            raise
        except PayerMaxError as exc:
            if owned:
                await self._in_doubt(key, token, _describe(exc))
            logger.warning(
                "payermax reconcile could not settle …%s: %s",
                key[-4:],
                type(exc).__name__,
                extra={"api": API_QUERY, "out_trade_no": key, "outcome": type(exc).__name__},
            )
            return None
        await self._write(self.store.record_result(key, _order_fact(order)))
        return order


def _order_fact(order: PayoutOrder) -> dict[str, object]:
    fact: dict[str, object] = {"outTradeNo": order.out_trade_no, "status": order.status.value}
    if order.trade_no:
        fact["tradeNo"] = order.trade_no
    return fact


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
        "sent; nothing was sent, retry the same create() when the store is back"
    )
    return StoreError(msg, out_trade_no=key)


def _conflict(key: str) -> IdempotencyConflictError:
    msg = (
        f"outTradeNo …{key[-4:]} was already used for a payout with different data; "
        "nothing was sent (a new payout needs a new outTradeNo)"
    )
    return IdempotencyConflictError(msg, out_trade_no=key)

"""Retries that can never create a second payout: classify every attempt, ask before resending.

Each failed attempt is classified (:mod:`.outcomes`). For a payout: **not sent** → resend the same
``data``; **rejected** → surface it, unless an attempt may already have reached the gateway (in this
call, or in an earlier one: ``Call.may_exist``), in which case the refusal proves nothing and the
payout is looked up; **duplicate** or **unknown** → ask ``paymentOrderQry`` (:mod:`.settle`). Found:
adopt it (if it is the same payout). A signed ``ORDER_NOT_EXIST``: resend the **same**
``outTradeNo`` (the gateway refuses a second order under it). The query failed too: give up with
:class:`PayoutOutcomeUnknown`; nothing is resent blindly: once anything may have been sent, the call
ends only in the order or in doubt.

Reads (query, list, validate) are retried on not-sent, timeouts, resets, 429, 5xx and unsigned
answers. Backoff has full jitter, ``Retry-After`` is honoured up to a cap, ``RetryPolicy.deadline``
bounds each call (no pause crosses a call's own ``deadline=``: it ends in ``DeadlineExceededError``),
a per-client token bucket (botocore's retry quota) stops retries when most calls fail. tenacity
drives the loop; none of its types leave this module.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn

import attrs
import tenacity

from .._redact import redact_text
from ..errors import (
    DeadlineExceededError,
    PayerMaxError,
    RateLimitError,
    RequestTimeoutError,
    RequestTimeSkewError,
)
from ..pipeline.chain import Call, Handler, Reply
from ..pipeline.deadline import remaining
from ..stores._journal import order_fact
from .backoff import Backoff
from .hooks import HookEvent, Hooks
from .logging import logger
from .outcomes import (
    Outcome,
    check_pay_reply,
    classify,
    is_transient_read_failure,
    outcome_unknown,
)
from .policy import Clock, RetryBudget, RetryPolicy, Sleep
from .settle import PayoutLookup, check_same_payout

__all__ = ["RetryBudget", "RetryMiddleware", "RetryPolicy", "check_pay_reply"]


class _Again(Exception):
    """Internal: ask the loop for another attempt because of ``cause``."""

    def __init__(self, cause: PayerMaxError) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


class _Unresolved(Exception):
    """Internal: a payout's outcome could not be settled by a query."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


def _at(call: Call, attempt: int) -> Call:
    """``call`` numbered ``attempt``; the call itself when it already is (the usual first attempt:
    a frozen value needs no copy)."""
    return call if call.attempt == attempt else attrs.evolve(call, attempt=attempt)


@attrs.define
class _Ctx:
    call: Call
    started: float
    spent: int = 0
    maybe_sent: bool = False
    skews: int = 0
    out_of_time: bool = False  # the call's own deadline= left no time for another attempt


class RetryMiddleware:
    """Bounded, classified retries (see the module docstring); one instance per client.

    Args:
        policy: limits and backoff.
        hooks: ``on_retry`` / ``on_give_up`` callbacks.
    """

    def __init__(
        self, policy: RetryPolicy, *, lookup: PayoutLookup, hooks: Hooks | None = None
    ) -> None:
        self.policy = policy
        self.budget = RetryBudget(policy.budget)
        self._lookup_payout = lookup
        self._hooks = hooks or Hooks()
        self._sleep: Sleep = policy.sleep or asyncio.sleep
        self._clock: Clock = policy.clock or time.monotonic
        self._backoff = Backoff(first=policy.backoff_base, cap=policy.backoff_max, jitter=True)

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        # Most calls succeed at once: the first attempt runs bare, and a retry context (and
        # tenacity's machinery) is made only when it fails.
        started = self._clock()
        try:
            reply = await next_handler(call)
            if call.idempotency_key is not None:  # a payout: the journal layer set its number
                check_pay_reply(call, reply)
        except PayerMaxError as exc:
            # A payout that may already exist (an earlier call may have sent it) starts "maybe
            # sent": no refusal or "not sent" in this call can then prove that there is no order.
            ctx = _Ctx(call=call, started=started, maybe_sent=call.may_exist)
            if call.idempotency_key is not None:
                return await self._pay(call, next_handler, ctx, exc)
            return await self._read(call, next_handler, ctx, exc)
        self.budget.refund(0)
        return reply

    # ------------------------------------------------------------------------------- the loop

    def _delay(self, ctx: _Ctx, state: tenacity.RetryCallState) -> float:
        delay = self._backoff.pause(state.attempt_number)
        error = _cause(state)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.policy.retry_after_max))
        return delay

    def _stop(self, ctx: _Ctx, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        elapsed = self._clock() - ctx.started
        if elapsed + (state.upcoming_sleep or 0.0) >= self.policy.deadline:
            return True
        left = remaining(ctx.call.deadline)  # end now, not cut mid-pause
        if left is not None and left <= (state.upcoming_sleep or 0.0):
            ctx.out_of_time = True
            return True
        cost = (
            self.policy.timeout_cost
            if isinstance(_cause(state), RequestTimeoutError)
            else self.policy.retry_cost
        )
        if not self.budget.acquire(cost):
            logger.warning(
                "payermax retry budget exhausted; not retrying %s",
                ctx.call.api,
                extra=_fields(ctx.call, state.attempt_number, "budget_exhausted"),
            )
            return True
        ctx.spent += cost
        return False

    async def _before_sleep(self, ctx: _Ctx, state: tenacity.RetryCallState) -> None:
        error = _cause(state)
        outcome = type(error).__name__ if error else "retry"
        logger.info(
            "payermax %s attempt %d: %s; retrying in %.3f s",
            ctx.call.api,
            state.attempt_number,
            outcome,
            state.upcoming_sleep,
            extra=_fields(ctx.call, state.attempt_number, outcome),
        )
        await self._hooks.fire(
            "on_retry",
            HookEvent(
                api=ctx.call.api,
                out_trade_no=ctx.call.idempotency_key,
                attempt=state.attempt_number,
                outcome=outcome,
                delay=state.upcoming_sleep,
                error=redact_text(str(error)) if error else None,
            ),
        )

    async def _run(self, ctx: _Ctx, body: Callable[[int], Awaitable[Reply]]) -> Reply:
        # Most calls succeed at once: the first attempt runs without tenacity's per-call machinery
        # (about 20 us), which takes over only when that attempt asks for another.
        try:
            reply = await body(1)
        except _Again as exc:
            first = exc
        else:
            self.budget.refund(ctx.spent)
            ctx.spent = 0
            return reply
        return await self._retry(ctx, body, first)

    async def _retry(
        self, ctx: _Ctx, body: Callable[[int], Awaitable[Reply]], first: _Again
    ) -> Reply:
        retrying = tenacity.AsyncRetrying(
            stop=functools.partial(self._stop, ctx),
            wait=functools.partial(self._delay, ctx),
            retry=tenacity.retry_if_exception_type(_Again),
            sleep=self._sleep,
            before_sleep=functools.partial(self._before_sleep, ctx),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first  # tenacity sees the first attempt's outcome, as if it had run it
                reply = await body(number)
                self.budget.refund(ctx.spent)
                ctx.spent = 0
                return reply
        msg = "retry loop ended without an outcome"  # pragma: no cover (tenacity re-raises)
        raise RuntimeError(msg)  # pragma: no cover

    async def _give_up(self, ctx: _Ctx, error: BaseException) -> None:
        outcome = type(error).__name__
        logger.warning(
            "payermax %s gave up: %s",
            ctx.call.api,
            outcome,
            extra=_fields(ctx.call, None, outcome),
        )
        await self._hooks.fire(
            "on_give_up",
            HookEvent(
                api=ctx.call.api,
                out_trade_no=ctx.call.idempotency_key,
                attempt=0,
                outcome=outcome,
                error=redact_text(str(error)),
            ),
        )

    # ------------------------------------------------------------------------------- reads

    def _read_again(self, error: PayerMaxError, ctx: _Ctx) -> None:
        """Raise ``_Again`` if a failed read is worth repeating, else re-raise ``error``."""
        if isinstance(error, RequestTimeSkewError):
            ctx.skews += 1
            if ctx.skews <= self.policy.time_skew_retries:
                raise _Again(error) from None
        elif is_transient_read_failure(error):
            raise _Again(error) from None
        raise error

    async def _read(
        self, call: Call, next_handler: Handler, ctx: _Ctx, first: PayerMaxError | None = None
    ) -> Reply:
        async def body(attempt: int) -> Reply:
            try:
                return await next_handler(_at(call, attempt))
            except PayerMaxError as exc:
                self._read_again(exc, ctx)
                raise  # pragma: no cover (_read_again always raises)

        try:
            if first is None:
                return await self._run(ctx, body)
            try:
                self._read_again(first, ctx)
            except _Again as again:
                return await self._retry(ctx, body, again)
            raise first  # pragma: no cover (_read_again always raises)
        except _Again as again:
            await self._give_up(ctx, again.cause)
            _raise_last(ctx, again.cause, maybe_sent=True)

    # ------------------------------------------------------------------------------- payouts

    async def _pay(
        self, call: Call, next_handler: Handler, ctx: _Ctx, first: PayerMaxError
    ) -> Reply:
        async def body(attempt: int) -> Reply:
            try:
                reply = await next_handler(_at(call, attempt))
                check_pay_reply(call, reply)
                return reply
            except PayerMaxError as exc:
                return await self._after_failed_send(exc, next_handler, ctx)

        try:
            try:
                reply = await self._after_failed_send(first, next_handler, ctx)
            except _Again as again:
                return await self._retry(ctx, body, again)
            self.budget.refund(ctx.spent)
            return reply
        except _Again as again:
            await self._give_up(ctx, again.cause)
            if ctx.maybe_sent:
                raise outcome_unknown(call.idempotency_key or "", again.cause) from again.cause
            _raise_last(ctx, again.cause, maybe_sent=False)
        except _Unresolved as unresolved:
            await self._give_up(ctx, unresolved.cause)
            raise outcome_unknown(
                call.idempotency_key or "", unresolved.cause
            ) from unresolved.cause

    async def _after_failed_send(
        self, error: PayerMaxError, next_handler: Handler, ctx: _Ctx
    ) -> Reply:
        outcome = classify(error)
        if outcome is Outcome.NOT_SENT or outcome is Outcome.RATE_LIMITED:
            raise _Again(error)
        if outcome is Outcome.TIME_SKEW:
            ctx.skews += 1
            if ctx.skews <= self.policy.time_skew_retries:
                raise _Again(error)
            if ctx.maybe_sent:
                raise _Unresolved(error)
            raise error
        if outcome is Outcome.LOCAL:
            if ctx.maybe_sent:
                # This attempt failed here, but an earlier one may have reached the gateway.
                raise _Unresolved(error)
            raise error
        if outcome is Outcome.REJECTED:
            if ctx.maybe_sent:
                # An earlier attempt may have created the order: a rejection now does not prove
                # there is none (BALANCE_INSUFFICIENT may even be that order's doing), so ask.
                found = await self._lookup(next_handler, ctx)
                if found is not None:
                    return found
                # Not visible (yet) is not proof of absence: leave it in doubt for reconcile().
                raise _Unresolved(error)
            raise error
        # Duplicate or unknown: the order may exist. Ask; never resend before the answer.
        ctx.maybe_sent = True
        found = await self._lookup(next_handler, ctx)
        if found is not None:
            return found
        # ORDER_NOT_EXIST: resend the same number (the gateway refuses a second order under it with
        # ORDER_REPEAT). maybe_sent stays set: an order that is merely not visible yet may still
        # appear, so this call can no longer end in a definite "nothing exists".
        raise _Again(error)

    async def _lookup(self, next_handler: Handler, ctx: _Ctx) -> Reply | None:
        """Query the payout. ``None`` means a signed ``ORDER_NOT_EXIST``; a failed (or unsigned)
        query is ``_Unresolved``; an order of another amount or currency is a conflict."""
        call = ctx.call
        key = call.idempotency_key
        assert key is not None
        query_ctx = _Ctx(call=call, started=ctx.started)

        async def send(query: Call) -> Reply:
            query_ctx.call = query
            return await self._read(query, next_handler, query_ctx)

        try:
            found = await self._lookup_payout(send, key, call.timeout)
        except PayerMaxError as exc:
            raise _Unresolved(exc) from exc
        finally:
            ctx.spent += query_ctx.spent
        if found.order is None:
            return None
        trade = call.data.get("trade")
        amount = trade.get("amount") if isinstance(trade, dict) else None
        currency = trade.get("currency") if isinstance(trade, dict) else None
        check_same_payout(key, amount, currency, found.order)
        fact = order_fact(found.order)
        data = {k: v for k, v in fact.items() if k != "trade"}
        assert found.reply is not None
        return attrs.evolve(found.reply, api=call.api, msg="settled by a query", data=data)


def _raise_last(ctx: _Ctx, cause: PayerMaxError, *, maybe_sent: bool) -> NoReturn:
    """Give up with the last attempt's own error and its own cause (the aiohttp error behind a
    TransportError), not the retry machinery's; as a DeadlineExceededError caused by it when the
    call's deadline left no time for another attempt."""
    if ctx.out_of_time:
        msg = f"{ctx.call.api}: no time for another attempt before the call's deadline (last: {type(cause).__name__})"
        raise DeadlineExceededError(msg, maybe_sent=maybe_sent) from cause
    raise cause from cause.__cause__


def _cause(state: tenacity.RetryCallState) -> PayerMaxError | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    error = outcome.exception()
    return error.cause if isinstance(error, _Again) else None


def _fields(call: Call, attempt: int | None, outcome: str) -> dict[str, object]:
    return {
        "api": call.api,
        "out_trade_no": call.idempotency_key,
        "attempt": attempt if attempt is not None else call.attempt,
        "outcome": outcome,
    }

"""Hooks for metrics and tracing: ``on_request``, ``on_response``, ``on_retry``, ``on_give_up``.

Each hook receives one :class:`HookEvent` carrying the same fields as the log records. A hook may be
a plain function or a coroutine function. A hook that raises is logged and ignored: a metrics bug
must never change what happens to a payout.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

import attrs

from .._redact import redact_text
from ..pipeline.chain import Call, Handler, Reply
from .logging import logger, outcome_of

__all__ = ["HookEvent", "Hooks", "HooksMiddleware"]


@attrs.frozen
class HookEvent:
    """What happened.

    Attributes:
        api: the apiName.
        out_trade_no: the payout's number (``None`` for reads).
        attempt: the attempt number (1-based).
        outcome: ``ok``, or the class of the error (``RequestTimeoutError``, ``GatewayError``, ...).
        latency: seconds the attempt took (``on_response``), else ``None``.
        delay: seconds until the next attempt (``on_retry``), else ``None``.
        error: the error's redacted message, if any.
    """

    api: str
    out_trade_no: str | None
    attempt: int
    outcome: str = "ok"
    latency: float | None = None
    delay: float | None = None
    error: str | None = None


Hook = Callable[[HookEvent], "Awaitable[None] | None"]


@attrs.frozen
class Hooks:
    """Callbacks for metrics; each optional.

    Attributes:
        on_request: before each attempt goes to signing and the network.
        on_response: after each attempt, with its outcome and latency.
        on_retry: when the retry layer decides on another attempt, with the delay.
        on_give_up: when the retry layer stops with a failure.
    """

    on_request: Hook | None = None
    on_response: Hook | None = None
    on_retry: Hook | None = None
    on_give_up: Hook | None = None

    async def fire(self, name: str, event: HookEvent) -> None:
        """Call hook ``name`` with ``event``; errors are logged, never raised."""
        hook: Hook | None = getattr(self, name)
        if hook is None:
            return
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.warning(
                "payermax hook %s raised %s; ignored", name, type(exc).__name__, exc_info=False
            )


def event_for(call: Call, **fields: object) -> HookEvent:
    """An event for ``call`` (error messages redacted)."""
    error = fields.pop("error", None)
    return HookEvent(
        api=call.api,
        out_trade_no=call.idempotency_key,
        attempt=call.attempt,
        error=redact_text(str(error)) if error is not None else None,
        **fields,  # type: ignore[arg-type]
    )


class HooksMiddleware:
    """Fires ``on_request`` and ``on_response`` around every attempt."""

    __slots__ = ("_hooks", "_idle")

    def __init__(self, hooks: Hooks) -> None:
        self._hooks = hooks
        # Hooks is frozen: with neither per-attempt hook set there is nothing to build events for.
        self._idle = hooks.on_request is None and hooks.on_response is None

    def __call__(self, call: Call, next_handler: Handler) -> Awaitable[Reply]:
        if self._idle:
            # Hand back the inner awaitable itself: no coroutine (frame, CPU) of ours per attempt.
            return next_handler(call)
        return self._fired(call, next_handler)

    async def _fired(self, call: Call, next_handler: Handler) -> Reply:
        await self._hooks.fire("on_request", event_for(call))
        started = time.perf_counter()
        try:
            reply = await next_handler(call)
        except Exception as exc:
            latency = time.perf_counter() - started
            await self._hooks.fire(
                "on_response",
                event_for(call, outcome=outcome_of(exc), latency=latency, error=exc),
            )
            raise
        latency = time.perf_counter() - started
        await self._hooks.fire("on_response", event_for(call, latency=latency))
        return reply

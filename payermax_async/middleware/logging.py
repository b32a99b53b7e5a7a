"""Logging of the request chain.

One logger, ``payermax_async``. Every record carries structured ``extra`` fields: ``api``,
``out_trade_no``, ``attempt``, ``outcome`` (the outcome class) and ``latency`` (seconds). Payee data
never reaches a log record: everything logged passes through :mod:`payermax_async._redact`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

from .._redact import redact, redact_text
from ..pipeline.chain import Call, Handler, Reply

__all__ = ["LoggingMiddleware", "logger", "outcome_of"]

logger = logging.getLogger("payermax_async")


def outcome_of(error: BaseException | None) -> str:
    """The outcome class logged for an attempt: ``ok`` or the error's class name."""
    return "ok" if error is None else type(error).__name__


class LoggingMiddleware:
    """Logs every attempt at DEBUG (request data redacted) and its outcome with latency.

    It sits inside the retry layer, so each attempt is one pair of records.

    Args:
        log: the logger to use (``payermax_async`` by default).
    """

    __slots__ = ("_clock", "_log")

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logger
        self._clock = time.perf_counter

    def __call__(self, call: Call, next_handler: Handler) -> Awaitable[Reply]:
        if not self._log.isEnabledFor(logging.DEBUG):
            # Hand back the inner awaitable itself: no coroutine (frame, CPU) of ours per attempt.
            return next_handler(call)
        return self._logged(call, next_handler)

    async def _logged(self, call: Call, next_handler: Handler) -> Reply:
        fields = {"api": call.api, "out_trade_no": call.idempotency_key, "attempt": call.attempt}
        self._log.debug(
            "payermax request %s attempt %d data=%s",
            call.api,
            call.attempt,
            redact(call.data),
            extra=fields,
        )
        started = self._clock()
        try:
            reply = await next_handler(call)
        except Exception as exc:
            latency = self._clock() - started
            self._log.debug(
                "payermax %s attempt %d failed: %s (%.3f s)",
                call.api,
                call.attempt,
                redact_text(f"{type(exc).__name__}: {exc}"),
                latency,
                extra={**fields, "outcome": outcome_of(exc), "latency": latency},
            )
            raise
        latency = self._clock() - started
        self._log.debug(
            "payermax %s attempt %d answered %s (%.3f s) data=%s",
            call.api,
            call.attempt,
            reply.code,
            latency,
            redact(reply.data),
            extra={**fields, "outcome": "ok", "latency": latency},
        )
        return reply

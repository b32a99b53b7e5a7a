"""Logging of the request chain, and the single redaction point for everything that is logged.

One logger, ``payermax_async``. Every record carries structured ``extra`` fields: ``api``,
``out_trade_no``, ``attempt``, ``outcome`` (the outcome class) and ``latency`` (seconds). Payee data
never reaches a log record: :func:`redact` masks it in mappings, :func:`redact_text` in free text, and
``sign`` values and key material are dropped entirely.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Mapping

from .._chain import Call, Handler, Reply

__all__ = ["LoggingMiddleware", "logger", "outcome_of", "redact", "redact_text"]

logger = logging.getLogger("payermax_async")

#: Fields (wire names, case-insensitive) whose values identify a person or an account: masked to
#: their last four characters.
_PERSONAL = frozenset(
    name.lower()
    for name in (
        "accountNo",
        "corAccountNo",
        "checkDigit",
        "firstName",
        "middleName",
        "lastName",
        "fullName",
        "payeePhone",
        "email",
        "notifyEmail",
        "notifyPhone",
        "documentId",
        "birthDate",
        "address",
        "registerName",
        "registerNo",
        "nickName",
        "thirdAccountNo",
        "bindEmail",
        "bindPhoneNo",
        "taxId",
        "redeemCode",
        "userId",
        "payerId",
    )
)
#: Fields whose values are secrets: never emitted, not even in part.
_SECRET = frozenset(
    name.lower()
    for name in ("sign", "signature", "privateKey", "merchantPrivateKey", "key", "password")
)
#: Fields that are the merchant's own identifiers or amounts: logged as they are.
_PLAIN = frozenset(
    name.lower()
    for name in ("outTradeNo", "tradeNo", "amount", "currency", "status", "subStatus", "country")
)
_MASKED = "****"
_EMAIL = re.compile(r"[^\s@\"',;:<>()\[\]{}]+@[^\s@\"',;:<>()\[\]{}]+")
# Long runs of digits (account, phone and document numbers; separators allowed).
_DIGITS = re.compile(r"\+?\d(?:[\d \-]{4,}\d)")
# base64 blobs of key or signature size.
_BLOB = re.compile(r"[A-Za-z0-9+/=_\-]{40,}")


def _mask(value: object) -> str:
    text = str(value)
    return _MASKED if len(text) <= 4 else f"…{text[-4:]}"


def redact_text(text: str) -> str:
    """Mask emails, long digit runs and key- or signature-sized base64 blobs in free text."""
    text = _BLOB.sub("[redacted]", text)
    text = _EMAIL.sub(lambda m: _mask(m.group(0)), text)
    return _DIGITS.sub(lambda m: _mask(m.group(0)), text)


def redact(value: object) -> object:
    """A copy of ``value`` (mappings, lists, scalars) safe to log: personal fields masked to their
    last four characters, secrets removed, free text passed through :func:`redact_text`."""
    if isinstance(value, Mapping):
        safe: dict[str, object] = {}
        for key, item in value.items():
            name = str(key)
            lowered = name.lower()
            if lowered in _SECRET:
                safe[name] = "[redacted]"
            elif lowered in _PLAIN and isinstance(item, str | int):
                safe[name] = item
            elif (lowered in _PERSONAL or lowered == "name") and not isinstance(
                item, Mapping | list
            ):
                safe[name] = _mask(item) if item not in (None, "") else item
            else:
                safe[name] = redact(item)
        return safe
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


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

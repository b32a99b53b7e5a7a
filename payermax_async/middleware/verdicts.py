"""What the journal layer tells the caller: the errors and replies it builds, worded so that no
message ever suggests paying again under a new number unless the journal proves that safe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from .._redact import last4, redact_text
from ..errors import (
    APIError,
    IdempotencyConflictError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    StoreError,
)
from ..pipeline.chain import Reply
from ..stores.base import KNOWN_STATES, PayoutRecord, RecordState
from .outcomes import outcome_unknown

__all__ = [
    "before_sending",
    "conflict_error",
    "describe",
    "gateway_code",
    "recorded_reply",
    "unknown",
]

T = TypeVar("T")


def describe(error: BaseException) -> str:
    """Class and code of an error for the journal, redacted (no payee data)."""
    if isinstance(error, APIError):
        return f"{type(error).__name__}: {error.code}"
    return redact_text(f"{type(error).__name__}: {error}")[:300]


def gateway_code(error: BaseException) -> str | None:
    """The gateway code an error carries, if any."""
    if isinstance(error, APIError):
        return error.code
    return error.code if isinstance(error, PayoutOutcomeUnknown) else None


def recorded_reply(api: str, key: str, data: dict[str, object]) -> Reply:
    """A reply rebuilt from the journal or a query, for a payout that needs no sending."""
    return Reply(
        api=api,
        code="APPLY_SUCCESS",
        msg=f"payout {last4(key)} settled from the journal or by a query",
        data=data,
        http_status=200,
        raw=b"",
    )


def unknown(key: str, error: Exception) -> BaseException:
    """``error`` as the ``PayoutOutcomeUnknown`` the caller sees (chained to it)."""
    if isinstance(error, PayoutOutcomeUnknown):
        return error
    result = outcome_unknown(key, error)
    result.__cause__ = error
    return result


async def before_sending(key: str, write: Awaitable[T]) -> T:
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
        f"the idempotency store failed ({type(cause).__name__}) before payout {last4(key)} was "
        "sent; nothing was sent by this call, retry the same create() when the store is back"
    )
    return StoreError(msg, out_trade_no=key)


def conflict_error(key: str, record: PayoutRecord | None) -> IdempotencyConflictError:
    """The error for a request that does not match the payout recorded under its number.

    The message says what the journal knows of the recorded payout; it suggests another number
    only when the journal proves that nothing was ever sent under this one.
    """
    short = last4(key)
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

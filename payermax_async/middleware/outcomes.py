"""What one failed attempt means for a payout: the classes of outcome, decided in one place.

* **not sent** (``TransportError.maybe_sent is False``; a signed ``TOO_MANY_REQUEST`` or
  ``REQ_TIME_OVER_TIME``, which the gateway refuses at the door): the request never reached the
  gateway's books; resending is safe.
* **rejected** (a signed ``InvalidRequestError``/``AuthenticationError``, or a local
  ``ValidationError``): the gateway refused this request; no order was made by it.
* **duplicate** (``ORDER_REPEAT``) or **unknown** (a timeout or reset after sending, 5xx, a bad or
  missing response signature, an unparsable answer, an unknown code, **any unsigned answer**): the
  payout may exist; only a query can tell.

An unsigned answer is never taken at its word: anything on the network path could have written it
(``APIError.verified``), so it counts as "may have reached the gateway".
"""

from __future__ import annotations

import enum

from .._redact import last4
from ..errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    DuplicateOrderError,
    GatewayError,
    IdempotencyConflictError,
    InvalidRequestError,
    InvalidResponseError,
    OrderNotFoundError,
    PayoutOutcomeUnknown,
    RateLimitError,
    RequestTimeSkewError,
    ResponseSignatureError,
    TransportError,
    ValidationError,
)
from ..models.payouts import PayoutStatus
from ..pipeline.chain import Call, Reply

__all__ = ["Outcome", "check_pay_reply", "classify", "is_transient_read_failure", "outcome_unknown"]


class Outcome(str, enum.Enum):
    """The class of one attempt's failure."""

    NOT_SENT = "not_sent"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    TIME_SKEW = "time_skew"
    LOCAL = "local"
    UNKNOWN = "unknown"


def classify(error: BaseException) -> Outcome:
    """Which class a failed attempt belongs to (see the module docstring)."""
    if isinstance(error, TransportError):
        return Outcome.NOT_SENT if not error.maybe_sent else Outcome.UNKNOWN
    if isinstance(error, DuplicateOrderError):
        return Outcome.DUPLICATE
    if isinstance(error, APIError) and not error.verified:
        # Unsigned: it proves nothing, not even that the request was refused at the door.
        return Outcome.UNKNOWN
    if isinstance(error, InvalidRequestError | AuthenticationError | ValidationError):
        return Outcome.REJECTED
    if isinstance(error, OrderNotFoundError):
        return Outcome.NOT_FOUND
    if isinstance(error, RateLimitError):
        return Outcome.RATE_LIMITED
    if isinstance(error, RequestTimeSkewError):
        return Outcome.TIME_SKEW
    if isinstance(error, ClientClosedError | ConfigurationError | IdempotencyConflictError):
        return Outcome.LOCAL
    # GatewayError, ResponseSignatureError, a plain APIError with a code we do not know, or
    # anything unexpected: we cannot tell whether the gateway acted on the request.
    return Outcome.UNKNOWN


def is_transient_read_failure(error: BaseException) -> bool:
    """Whether a failed read (query, list, validate) is worth repeating: the network or the gateway
    failed, or the answer could not be trusted. The one list used by every loop that retries reads
    (the retry layer, ``wait_until_final``). An unsigned error answer to a read is surfaced as it
    is, marked ``verified=False``: repeating the read would most likely get the same answer."""
    return isinstance(
        error, TransportError | GatewayError | RateLimitError | ResponseSignatureError
    )


def outcome_unknown(key: str, cause: BaseException) -> PayoutOutcomeUnknown:
    """The error for a payout that may exist: kept in doubt, to be settled by ``reconcile()``.

    It carries the last gateway code and message of the call (``cause``, when it is an
    :class:`APIError`) so that apps can show them.
    """
    if isinstance(cause, PayoutOutcomeUnknown):
        return cause
    api = cause if isinstance(cause, APIError) else None
    told = f"; the gateway last answered {api.code}" if api is not None else ""
    if api is not None and not api.verified:
        told += " (unsigned, so it proves nothing)"
    msg = (
        f"payout …{key[-4:]} may or may not exist ({type(cause).__name__}{told}); it is kept in "
        "doubt: settle it with client.payouts.reconcile() or create() it again with the same "
        "outTradeNo, and never pay it under a new one"
    )
    return PayoutOutcomeUnknown(
        msg,
        out_trade_no=key,
        code=api.code if api is not None else None,
        msg=api.msg if api is not None else None,
        verified=api.verified if api is not None else None,
    )


def check_pay_reply(call: Call, reply: Reply) -> None:
    """An accepted payout answer must name our ``outTradeNo`` and a known status.

    A cheap look at the two fields that matter (the resource parses the whole answer afterwards).

    Raises:
        InvalidResponseError: it does not (an unknown outcome: the retry layer asks the gateway).
    """
    key = call.idempotency_key
    data = reply.data or {}
    status = data.get("status", _PENDING)
    if data.get("outTradeNo") != key or not isinstance(status, str) or status not in _STATUS_VALUES:
        msg = f"{call.api} answer for {last4(key or '')} lacks our outTradeNo or a known status"
        raise InvalidResponseError(msg, http_status=reply.http_status)


_STATUS_VALUES = frozenset(status.value for status in PayoutStatus)
_PENDING = PayoutStatus.PENDING.value  # read once: an enum's .value is a Python property call

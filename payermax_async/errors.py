"""Every exception payermax-async raises.

The tree, so that ``except`` clauses can be as broad or as narrow as the caller needs::

    PayerMaxError                      anything this SDK raises
    ├── ConfigurationError             bad key, bad base URL, missing setting (raised eagerly)
    ├── ValidationError (ValueError)   bad request data or notification payload; raised before any I/O
    │   └── SuspiciousNotificationError a signed notification refused: stale (replay) or not a success
    ├── ClientClosedError              the client was used after aclose()
    ├── SignatureError                 a signature did not verify (RsaVerifier)
    │   ├── ResponseSignatureError     a gateway response was unsigned or badly signed
    │   └── WebhookSignatureError      a notification was unsigned, badly signed or not raw bytes
    ├── TransportError                 the request did not complete; ``.maybe_sent`` says if it may have
    │   ├── ConnectError               could not connect (DNS, refused, connect timeout, TLS): not sent
    │   ├── RequestTimeoutError        no complete answer in time after sending: maybe sent
    │   │   └── DeadlineExceededError (TimeoutError) the call's ``deadline=`` passed (a payout: not sent)
    │   ├── ConnectionLostError        the connection broke after sending: maybe sent
    │   └── InvalidResponseError       an answer that is not a PayerMax envelope (HTML 502 page, ...)
    ├── APIError                       the gateway answered with a code other than APPLY_SUCCESS
    │   ├── AuthenticationError        SIGN_VERIFY_FAILED, MERCHANT_APP_INVALID, ILLEGAL_IP_REQUEST
    │   ├── InvalidRequestError        PARAMS_INVALID and the definitive business rejections
    │   ├── OrderNotFoundError         ORDER_NOT_EXIST
    │   ├── DuplicateOrderError        ORDER_REPEAT (this outTradeNo was already submitted)
    │   ├── RateLimitError             TOO_MANY_REQUEST / HTTP 429; ``.retry_after`` in seconds
    │   ├── RequestTimeSkewError       REQ_TIME_OVER_TIME (the host clock is off by > 2 minutes)
    │   └── GatewayError               SYSTEM_ERROR, UNEXPECTED_ERROR, REQUEST_TIMEOUT, HTTP 5xx
    ├── IdempotencyConflictError       one outTradeNo reused with different payout data
    ├── StoreError                     the idempotency store failed (create(): before sending)
    ├── PayoutOutcomeUnknown           a payout may exist; the store keeps it in doubt for reconcile()
    └── WaitTimeoutError (TimeoutError) wait_until_final() timed out before a final status

Messages never contain key material, ``sign`` values or payee data; identifiers that help are masked to
their last four characters.
"""

from __future__ import annotations

from ._redact import redact_message

__all__ = [
    "REJECTION_CODES",
    "APIError",
    "AuthenticationError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionLostError",
    "DeadlineExceededError",
    "DuplicateOrderError",
    "GatewayError",
    "IdempotencyConflictError",
    "InvalidRequestError",
    "InvalidResponseError",
    "OrderNotFoundError",
    "PayerMaxError",
    "PayoutOutcomeUnknown",
    "RateLimitError",
    "RequestTimeSkewError",
    "RequestTimeoutError",
    "ResponseSignatureError",
    "SignatureError",
    "StoreError",
    "SuspiciousNotificationError",
    "TransportError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookSignatureError",
    "error_for_code",
]


class PayerMaxError(Exception):
    """Base class of every exception raised by payermax-async."""


class ConfigurationError(PayerMaxError):
    """A setting is missing or wrong: a key that does not load, a base URL that is not allowed."""


class ValidationError(PayerMaxError, ValueError):
    """Request data (or a notification payload) is malformed.

    Raised before any network I/O. ``field`` is the dotted wire path of the offending field
    (``trade.amount``, ``payeeInfo.accountInfo.accountNo``), or ``None`` when the whole payload is wrong.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SuspiciousNotificationError(ValidationError):
    """A correctly signed notification that must not be acted on.

    Its ``code`` is not ``APPLY_SUCCESS``, or (with ``WebhookVerifier(max_age=...)``) its
    ``notifyTime`` is older than the window, in the future, or missing: a replay of an old genuine
    notification looks exactly like this. ``field`` names the reason (``code``, ``notifyTime``). The
    webhook adapters answer 400 and log it as a security event.
    """


class ClientClosedError(PayerMaxError):
    """The client was used after ``aclose()`` (or after its ``async with`` block ended)."""


class SignatureError(PayerMaxError):
    """A signature is missing, malformed or does not match the bytes it claims to sign."""


class ResponseSignatureError(SignatureError):
    """A gateway response carried no valid ``sign`` header, so its content cannot be trusted.

    For a payout this means the outcome is unknown: the gateway may have accepted it.
    """


class WebhookSignatureError(SignatureError):
    """A notification was unsigned, badly signed, or not passed as the raw request body bytes."""


class TransportError(PayerMaxError):
    """The HTTP exchange failed before a trustworthy answer arrived.

    ``maybe_sent`` is ``False`` only when the request provably never left this process (DNS failure,
    connection refused, connect timeout, TLS handshake failure); a payout is then safe to resend.
    When it is ``True`` the gateway may have acted on the request.
    """

    maybe_sent: bool = True

    def __init__(self, message: str, *, maybe_sent: bool | None = None) -> None:
        super().__init__(message)
        if maybe_sent is not None:
            self.maybe_sent = maybe_sent


class ConnectError(TransportError):
    """No connection could be made (DNS, refused, connect timeout, TLS handshake): nothing was sent."""

    maybe_sent = False


class RequestTimeoutError(TransportError):
    """No complete response arrived in time after the request was (possibly) sent."""


class DeadlineExceededError(RequestTimeoutError, TimeoutError):
    """The call's ``deadline=`` (seconds for the whole call: every attempt, backoff and settling
    query) passed before it ended.

    A payout raises it only when no request of this call may have left and no earlier one may have:
    ``maybe_sent`` is ``False``, nothing is in doubt, and ``create()`` may be called again with the
    same request. A payout whose deadline passes after a request may have left raises
    :class:`PayoutOutcomeUnknown` instead (its ``__cause__`` is this error). For reads, ``maybe_sent``
    is ``True`` (a query may have reached the gateway; repeating it is harmless).
    """


class ConnectionLostError(TransportError):
    """The connection broke after the request was (possibly) sent."""


class InvalidResponseError(TransportError):
    """The answer is not a PayerMax envelope (an HTML error page from a proxy, truncated JSON, ...).

    ``http_status`` is the HTTP status of that answer.
    """

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message, maybe_sent=True)
        self.http_status = http_status


class APIError(PayerMaxError):
    """The gateway answered with a ``code`` other than ``APPLY_SUCCESS``.

    Attributes:
        code: PayerMax's code, e.g. ``PARAMS_INVALID``.
        msg: PayerMax's message, e.g. ``The targetOrg is incorrect.``
        http_status: the HTTP status of the answer (PayerMax uses 200 for business errors).
        verified: whether the answer carried a ``sign`` header that verified with the platform key.
            PayerMax may send error answers unsigned; an unverified answer could have been written by
            anything on the network path (a TLS-terminating proxy, say), so the SDK never lets one
            settle a payout: an unverified refusal of a payout ends in
            :class:`PayoutOutcomeUnknown`, and an unverified ``ORDER_NOT_EXIST`` proves nothing.
    """

    def __init__(
        self, code: str, msg: str, *, http_status: int = 200, verified: bool = True
    ) -> None:
        # The gateway's text can echo a field's value back (a number, an email, the payee's name);
        # what ends up in logs and tracebacks is masked (``.msg`` keeps the text as received).
        super().__init__(f"{code}: {redact_message(msg)}" if msg else code)
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.verified = verified


class AuthenticationError(APIError):
    """Credentials or whitelist problem: wrong key, wrong appId, or this server's IP is not whitelisted."""


class InvalidRequestError(APIError):
    """The gateway refused the request definitively (``PARAMS_INVALID`` or a business rule): no order."""


class OrderNotFoundError(APIError):
    """``ORDER_NOT_EXIST``: the gateway holds no order with this ``outTradeNo``."""


class DuplicateOrderError(APIError):
    """``ORDER_REPEAT``: this ``outTradeNo`` was already submitted; query it for its state."""


class RateLimitError(APIError):
    """``TOO_MANY_REQUEST`` or HTTP 429. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        code: str,
        msg: str,
        *,
        http_status: int = 200,
        retry_after: float | None = None,
        verified: bool = True,
    ) -> None:
        super().__init__(code, msg, http_status=http_status, verified=verified)
        self.retry_after = retry_after


class RequestTimeSkewError(APIError):
    """``REQ_TIME_OVER_TIME``: ``requestTime`` was more than two minutes off the gateway's clock."""


class GatewayError(APIError):
    """Gateway trouble (``SYSTEM_ERROR``, ``UNEXPECTED_ERROR``, ``REQUEST_TIMEOUT``, HTTP 5xx).

    For a payout the order may or may not exist.
    """


class IdempotencyConflictError(PayerMaxError):
    """One ``outTradeNo`` is already taken by another payout: the journal holds it with different
    data (amount, currency or payee), or the gateway holds an order of another amount or currency
    under it. This request was not sent. The message says whether the recorded payout may exist."""

    def __init__(self, message: str, *, out_trade_no: str) -> None:
        super().__init__(message)
        self.out_trade_no = out_trade_no


class StoreError(PayerMaxError):
    """The idempotency store could not be read or written (database locked, Redis unreachable).

    Raised by ``create()`` only before the payout was sent: a payout leaves only after its journal
    record is committed, so retry the same ``create()`` (same ``outTradeNo``) once the store is
    back. ``out_trade_no`` names the payout when there is one.
    """

    def __init__(self, message: str, *, out_trade_no: str | None = None) -> None:
        super().__init__(message)
        self.out_trade_no = out_trade_no


class PayoutOutcomeUnknown(PayerMaxError):
    """A payout may or may not exist at PayerMax, and this call could not settle which.

    The idempotency store keeps it ``IN_DOUBT``; ``client.payouts.reconcile()`` settles it later by
    querying the gateway. Never create it again under a new ``outTradeNo``: calling ``create()`` again
    with the same request is safe (it queries first).

    Attributes:
        out_trade_no: the payout's number.
        code: the last gateway code this call received (``BALANCE_INSUFFICIENT``, ``ORDER_NOT_EXIST``,
            ...), if any; a refusal after an earlier attempt may have reached the gateway proves
            nothing (it may even be that payout's doing), so it is reported here, not raised.
        msg: the gateway's message for ``code``.
        verified: whether that last answer was signed by PayerMax (``None`` when there was none).
    """

    def __init__(
        self,
        message: str,
        *,
        out_trade_no: str,
        code: str | None = None,
        msg: str | None = None,
        verified: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.out_trade_no = out_trade_no
        self.code = code
        self.msg = msg
        self.verified = verified


_AUTH_CODES = frozenset({"SIGN_VERIFY_FAILED", "MERCHANT_APP_INVALID", "ILLEGAL_IP_REQUEST"})
_GATEWAY_CODES = frozenset({"SYSTEM_ERROR", "UNEXPECTED_ERROR", "REQUEST_TIMEOUT"})
#: Codes that mean the gateway refused the request for good: no order exists (docs/protocol.md §4).
REJECTION_CODES = frozenset(
    {
        "PARAMS_INVALID",
        "AMOUNT_INVALID",
        "COUNTRY_INVALID",
        "CURRENCY_INVALID",
        "CONTRACT_INVALID",
        "CONTRACT_NOT_SIGNED",
        "PAYMENT_METHOD_NOT_AVAILABLE",
        "PAYMENT_METHOD_NOT_EXIST",
        "TRANSACTION_EXCEED_LIMIT",
        "AMOUNT_NOT_ENOUGH",
        "BALANCE_INSUFFICIENT",
        "PAYEE_AMOUNT_EXCEED_LIMIT",
        "MERCHANT_INVALID",
    }
)


def error_for_code(
    code: str,
    msg: str,
    *,
    http_status: int = 200,
    retry_after: float | None = None,
    verified: bool = True,
) -> APIError:
    """Map a PayerMax response ``code`` to the most specific :class:`APIError` subclass.

    ``verified`` says whether the answer carried a valid ``sign`` (see :attr:`APIError.verified`).
    """
    cls = _class_for_code(code, http_status)
    if cls is RateLimitError:
        return RateLimitError(
            code, msg, http_status=http_status, retry_after=retry_after, verified=verified
        )
    return cls(code, msg, http_status=http_status, verified=verified)


def _class_for_code(code: str, http_status: int) -> type[APIError]:
    if code == "ORDER_NOT_EXIST":
        return OrderNotFoundError
    if code == "ORDER_REPEAT":
        return DuplicateOrderError
    if code == "TOO_MANY_REQUEST" or http_status == 429:
        return RateLimitError
    if code == "REQ_TIME_OVER_TIME":
        return RequestTimeSkewError
    if code in _AUTH_CODES:
        return AuthenticationError
    if code in _GATEWAY_CODES or http_status >= 500:
        return GatewayError
    if code in REJECTION_CODES:
        return InvalidRequestError
    # A code we do not know: we cannot tell whether an order was made, so it stays a plain APIError
    # (for a payout the retry layer treats it as an unknown outcome and asks the gateway).
    return APIError


class WaitTimeoutError(PayerMaxError, TimeoutError):
    """``wait_until_final`` ran out of time while the payout was still not final.

    ``last_order`` is the most recent state seen (``None`` if no query succeeded).
    """

    def __init__(self, message: str, *, out_trade_no: str, last_order: object | None) -> None:
        super().__init__(message)
        self.out_trade_no = out_trade_no
        self.last_order = last_order

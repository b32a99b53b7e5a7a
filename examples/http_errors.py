"""One mapping from payermax-async's outcomes to HTTP answers, shared by the FastAPI and aiohttp
examples so both answer the same error with the same status and the same JSON body.

Each framework only wraps an :class:`Answer` in its own response type. Bodies never hold payee data:
SDK messages are already masked, and nothing here echoes the request.

| outcome | status | body |
|---|---|---|
| ``PayoutOutcomeUnknown`` (also a deadline passed after sending) | 202 | ``{"withdrawal_id", "status": "IN_DOUBT", "detail"}``: may exist; settled later |
| ``ValidationError`` | 422 | ``{"error": "invalid", "field", "detail"}`` |
| payee refused by ``validate()`` | 422 | ``{"error": "payee_invalid", "fields": [{"field", "detail"}]}`` |
| ``InvalidRequestError`` | 422 | ``{"error": "rejected", "code", "detail"}``: no payout exists |
| ``IdempotencyConflictError`` | 409 | ``{"error": "conflict", "detail"}`` |
| ``RateLimitError``, ``TransportError`` (also ``DeadlineExceededError``) | 503 | ``{"error": "unavailable", "detail"}``: nothing was sent |
| any other ``PayerMaxError`` | 502 | ``{"error": "provider_error", "code"}`` |
| a body that is not a withdrawal | 400 | ``{"error": "bad_request", "detail"}`` |
| an unknown withdrawal | 404 | ``{"error": "not_found"}`` |
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payermax_async import (
    APIError,
    FieldValidationResult,
    IdempotencyConflictError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    TransportError,
    ValidationError,
)
from payermax_async.errors import InvalidRequestError, RateLimitError

IN_DOUBT = "IN_DOUBT"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: its status and JSON body.

    ``in_doubt`` is true when the payout may exist: the app records the withdrawal as in doubt, for
    its reconciler (or a retried request with the same id) to settle under the same number.
    """

    status: int
    body: dict[str, object] = field(default_factory=dict)
    in_doubt: bool = False


NOT_FOUND = Answer(404, {"error": "not_found"})


def error_answer(exc: PayerMaxError, withdrawal_id: str) -> Answer:
    """The answer for an error of ``validate()``, ``create()`` or ``retrieve()``."""
    if isinstance(exc, PayoutOutcomeUnknown):
        # The payout may exist. Never retry under a new number: the reconciler (or a retried POST
        # with the same withdrawal_id) settles it by asking the gateway first.
        body = {"withdrawal_id": withdrawal_id, "status": IN_DOUBT, "detail": str(exc)}
        return Answer(202, dict(body), in_doubt=True)
    if isinstance(exc, ValidationError):
        return Answer(422, {"error": "invalid", "field": exc.field, "detail": str(exc)})
    if isinstance(exc, IdempotencyConflictError):
        detail = "this withdrawal_id was already used for a different payout"
        return Answer(409, {"error": "conflict", "detail": detail})
    if isinstance(exc, InvalidRequestError):
        return Answer(422, {"error": "rejected", "code": exc.code, "detail": exc.msg})
    if isinstance(exc, RateLimitError | TransportError):
        # Not sent: the SDK surfaces these only when no attempt may have reached the gateway (a
        # payout whose deadline passed after it may have been sent is PayoutOutcomeUnknown above;
        # for retrieve() the provider was merely too slow).
        detail = "payment provider unavailable; retry with the same withdrawal_id"
        return Answer(503, {"error": "unavailable", "detail": detail})
    code = exc.code if isinstance(exc, APIError) else type(exc).__name__
    return Answer(502, {"error": "provider_error", "code": code})


def payee_invalid(check: FieldValidationResult) -> Answer:
    """The answer when ``validate()`` refused payee fields (nothing was paid)."""
    failed = [{"field": f.field, "detail": f.error_msg} for f in check.failed_fields]
    return Answer(422, {"error": "payee_invalid", "fields": failed})


def bad_request(detail: str) -> Answer:
    """The answer for a request body that is not a withdrawal."""
    return Answer(400, {"error": "bad_request", "detail": detail})

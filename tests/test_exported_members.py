"""The public names of payermax_async are a contract: code outside this repo imports exactly these."""

from __future__ import annotations

import inspect

import payermax_async
from payermax_async import errors
from payermax_async.resources.payouts import Payouts

PUBLIC_NAMES = {
    "PayerMaxClient",
    "PayerMaxConfig",
    "Environment",
    "RetryPolicy",
    "Signer",
    "RsaSigner",
    "RsaVerifier",
    "generate_keypair",
    "KeyPair",
    "IdempotencyStore",
    "MemoryStore",
    "SQLiteStore",
    "RedisStore",
    "PostgresStore",
    "WebhookVerifier",
    "PayoutNotification",
    "PayoutRequest",
    "PayoutResult",
    "PayoutOrder",
    "PayoutStatus",
    "FieldValidationResult",
    "PayerMaxError",
    "APIError",
    "TransportError",
    "SignatureError",
    "ResponseSignatureError",
    "WebhookSignatureError",
    "IdempotencyConflictError",
    "PayoutOutcomeUnknown",
    "OrderNotFoundError",
    "ValidationError",
    "ConfigurationError",
}


def test_all_is_exactly_the_design_names() -> None:
    """__all__ lists exactly the pinned public names, no more and no fewer."""
    assert set(payermax_async.__all__) == PUBLIC_NAMES
    assert len(payermax_async.__all__) == len(PUBLIC_NAMES)


def test_every_public_name_is_importable() -> None:
    """Each name in __all__ resolves to an object, and each documented one has a docstring."""
    for name in PUBLIC_NAMES:
        member = getattr(payermax_async, name)
        assert member is not None
        assert (getattr(member, "__doc__", None) or "").strip(), f"{name} lacks a docstring"


def test_errors_share_one_base() -> None:
    """Everything the SDK raises is a PayerMaxError; ValidationError is also a ValueError."""
    for name in PUBLIC_NAMES:
        member = getattr(payermax_async, name)
        if isinstance(member, type) and issubclass(member, Exception):
            assert issubclass(member, payermax_async.PayerMaxError), name
    assert issubclass(payermax_async.ValidationError, ValueError)


def test_per_call_option_names() -> None:
    """The per-call options are part of the contract: ``with_options`` and ``DeadlineExceededError``
    (in ``payermax_async.errors``, next to the other transport errors), and ``timeout``/``deadline``
    on every operation that sends."""
    assert "DeadlineExceededError" in errors.__all__
    assert issubclass(errors.DeadlineExceededError, errors.RequestTimeoutError)
    parameters = inspect.signature(payermax_async.PayerMaxClient.with_options).parameters
    assert list(parameters) == ["self", "retry", "timeout", "deadline"]
    for operation in ("validate", "create", "create_many", "retrieve", "list"):
        names = inspect.signature(getattr(Payouts, operation)).parameters
        assert "timeout" in names, operation
        assert "deadline" in names, operation

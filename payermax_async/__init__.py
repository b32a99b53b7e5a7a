"""payermax-async: the asyncio SDK for PayerMax payouts.

Signed requests, verified responses and notifications, exactly-once payouts keyed on ``outTradeNo``,
and an embedded sandbox so everything runs offline. The public names below are pinned by a test.
"""

from __future__ import annotations

from ._client import PayerMaxClient
from ._config import Environment, PayerMaxConfig
from ._version import __version__ as __version__
from .errors import (
    APIError,
    ConfigurationError,
    IdempotencyConflictError,
    OrderNotFoundError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    ResponseSignatureError,
    SignatureError,
    TransportError,
    ValidationError,
    WebhookSignatureError,
)
from .middleware.retry import RetryPolicy
from .models import (
    FieldValidationResult,
    PayoutNotification,
    PayoutOrder,
    PayoutRequest,
    PayoutResult,
    PayoutStatus,
)
from .signing import RsaSigner, RsaVerifier, Signer
from .signing.keys import KeyPair, generate_keypair
from .stores import IdempotencyStore, MemoryStore, PostgresStore, RedisStore, SQLiteStore
from .webhooks import WebhookVerifier

__all__ = [
    "APIError",
    "ConfigurationError",
    "Environment",
    "FieldValidationResult",
    "IdempotencyConflictError",
    "IdempotencyStore",
    "KeyPair",
    "MemoryStore",
    "OrderNotFoundError",
    "PayerMaxClient",
    "PayerMaxConfig",
    "PayerMaxError",
    "PayoutNotification",
    "PayoutOrder",
    "PayoutOutcomeUnknown",
    "PayoutRequest",
    "PayoutResult",
    "PayoutStatus",
    "PostgresStore",
    "RedisStore",
    "ResponseSignatureError",
    "RetryPolicy",
    "RsaSigner",
    "RsaVerifier",
    "SQLiteStore",
    "SignatureError",
    "Signer",
    "TransportError",
    "ValidationError",
    "WebhookSignatureError",
    "WebhookVerifier",
    "generate_keypair",
]

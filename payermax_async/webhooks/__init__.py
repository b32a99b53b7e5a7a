"""Receiving PayerMax payout result notifications: verify, parse, deduplicate, acknowledge.

- :class:`WebhookVerifier` checks the ``sign`` header over the raw body and parses a
  :class:`~payermax_async.models.PayoutNotification`.
- :func:`aiohttp_handler` and :func:`asgi_app` serve a notification URL: they read the body up to the
  size cap, verify it, call the app once per payout and forward status, and answer :data:`ACK` only
  after the app's callback returned.
- :class:`NotificationLedger` is where delivered results are remembered;
  :class:`MemoryNotificationLedger` is the default, and the SDK's idempotency stores implement it too.
"""

from __future__ import annotations

from ._delivery import ACK, NotificationCallback
from .aiohttp import AiohttpHandler, aiohttp_handler
from .asgi import NotificationASGIApp, asgi_app
from .dedupe import MemoryNotificationLedger, NotificationLedger
from .verifier import DEFAULT_MAX_BODY_BYTES, WebhookVerifier, verify_file

__all__ = [
    "ACK",
    "DEFAULT_MAX_BODY_BYTES",
    "AiohttpHandler",
    "MemoryNotificationLedger",
    "NotificationASGIApp",
    "NotificationCallback",
    "NotificationLedger",
    "WebhookVerifier",
    "aiohttp_handler",
    "asgi_app",
    "verify_file",
]

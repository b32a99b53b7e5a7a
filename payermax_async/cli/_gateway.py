"""The client every command that talks to PayerMax uses, and what a failed connection says.

An interactive command should answer within a second or two when the gateway cannot be reached:
the SDK's default policy (five attempts with backoff, several seconds) is right for a service that
rides out a blip, not for a person at a prompt. ``payouts bulk`` keeps the default: a run of hours
should survive a short outage instead of marking rows unpaid.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from ..errors import ConnectError
from ..middleware.policy import RetryPolicy

if TYPE_CHECKING:
    from .._client import PayerMaxClient
    from .._config import PayerMaxConfig
    from ..stores.protocol import IdempotencyStore

__all__ = ["CLI_RETRY", "cli_client", "connect_failure"]

#: One quick second try (a dropped keep-alive connection, a restarting proxy), then the answer.
CLI_RETRY = RetryPolicy(max_attempts=2, backoff_base=0.2, backoff_max=0.5, deadline=30.0)

#: The gateway URL of the last client made here, so that a connection failure can name it.
_last_url: list[str] = []


def cli_client(
    config: PayerMaxConfig | None = None,
    *,
    store: IdempotencyStore | None = None,
    retry: RetryPolicy | None = CLI_RETRY,
) -> PayerMaxClient:
    """A client for one command: ``config`` (default: the ``PAYERMAX_*`` variables), short retries."""
    from .._client import PayerMaxClient
    from .._config import PayerMaxConfig

    config = config or PayerMaxConfig.from_env()
    _last_url[:] = [config.gateway_url]
    return PayerMaxClient(config, store=store, retry=retry)


def _reason(error: BaseException) -> str:
    cause = error.__cause__
    os_error = getattr(cause, "os_error", None)
    if isinstance(os_error, socket.gaierror):
        return f"name lookup failed ({os_error.strerror})"
    if isinstance(os_error, OSError) and os_error.errno:
        return os.strerror(os_error.errno).lower()
    if cause is not None:
        return type(cause).__name__
    return str(error)


def connect_failure(error: ConnectError) -> str:
    """One line: which URL could not be reached, and why (refused, name lookup, timeout, TLS)."""
    where = _last_url[0] if _last_url else "the PayerMax gateway"
    sent = "" if error.maybe_sent else "; nothing was sent"
    return f"could not connect to {where}: {_reason(error)}{sent} (check PAYERMAX_BASE_URL)"

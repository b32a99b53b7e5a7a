"""The journal as the payout layers use it: its clock, lease tokens, writes that survive a
cancellation, and the rule that says when a "not found" proves that no order exists."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..stores.base import PayoutRecord
from ..stores.protocol import IdempotencyStore
from .shield import run_to_completion

__all__ = ["DEFAULT_ABSENCE_WINDOW", "Journal"]

logger = logging.getLogger("payermax_async")
T = TypeVar("T")
#: How long after the last possible send an ``ORDER_NOT_EXIST`` proves absence (docs/protocol.md §8):
#: PayerMax refuses a request older than 2 minutes, plus a wide margin for late commits.
DEFAULT_ABSENCE_WINDOW = 600.0


class Journal:
    """A store, and this process's way of using it.

    Args:
        store: the journal.
        lease_seconds: how long a claim is exclusive without renewal.
        absence_window: seconds after the last possible send before ``ORDER_NOT_EXIST`` proves that
            no order exists (measured on the store's clock).
        owner: this process's identity in the store (host, pid and a random part by default).
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        lease_seconds: float,
        absence_window: float = DEFAULT_ABSENCE_WINDOW,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.absence_window = absence_window
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tokens = 0

    def now(self) -> float:
        """The journal's clock (epoch seconds)."""
        clock = getattr(self.store, "now", None)
        return float(clock()) if callable(clock) else time.time()

    def token(self) -> str:
        """A lease token for one call: claims are exclusive per call, not per process, so a
        reconcile() and a create() of one number in the same process cannot act for each other."""
        self._tokens += 1
        return f"{self.owner}/{self._tokens}"

    def absence_proven(self, record: PayoutRecord, queried_at: float) -> bool:
        """Whether a signed ``ORDER_NOT_EXIST`` from a query started at ``queried_at`` proves that
        no order exists for ``record``: nothing was ever maybe sent, or the query came an absence
        window after the last moment a request may have left."""
        if not record.maybe_sent:
            return True
        until = record.sent_until
        return until is not None and queried_at >= until + self.absence_window

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a background journal write, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def write(self, step: Coroutine[Any, Any, T]) -> T | None:
        """A journal write after the fact: runs to completion even if the caller is cancelled; a
        failure is logged and ``None`` returned (the caller's own outcome matters more, and the
        record stays open for the next owner or ``reconcile()``)."""
        try:
            return await run_to_completion(step)
        except Exception as exc:
            logger.error(
                "payermax journal write failed: %s",
                type(exc).__name__,
                extra={"outcome": "store_error"},
            )
            return None

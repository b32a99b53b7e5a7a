"""Leases: how long a claim is exclusive, and the heartbeat that keeps a working owner's alive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..pipeline.chain import Call
from ..stores.base import IdempotencyStore

__all__ = ["Heartbeat", "lease_for"]

logger = logging.getLogger("payermax_async")


def lease_for(call: Call, base: float, default_timeout: float | None) -> float:
    """The lease of one payout call: ``base`` (sized by the client for its own timeout), plus two
    more timeouts' worth when the call's timeout is longer (its last attempt and the settling query
    may each run that long)."""
    total = call.timeout.total if call.timeout is not None else None
    extra = max(0.0, total - (default_timeout or 0.0)) if total else 0.0
    return base + 2 * extra


class Heartbeat:
    """Renews a claim's lease every third of it while its owner works (a slow signer, a store that
    stalls, a timeout without a total): the lease never lapses under a working owner.

    Args:
        store: the journal.
        key: the payout's number.
        token: the owner's lease token.
        lease: the lease length, in seconds.
        spawn: runs a background write, keeping a reference to it.
    """

    __slots__ = ("_handle", "_key", "_lease", "_spawn", "_store", "_token")

    def __init__(
        self,
        store: IdempotencyStore,
        key: str,
        token: str,
        lease: float,
        spawn: Callable[[Coroutine[Any, Any, object]], None],
    ) -> None:
        self._store, self._key, self._token, self._lease = store, key, token, lease
        self._spawn = spawn
        self._handle = asyncio.get_running_loop().call_later(lease / 3, self._beat)

    def _beat(self) -> None:
        renew = self._store.renew(self._key, owner=self._token, lease_seconds=self._lease)
        self._spawn(_logged(renew))
        self._handle = asyncio.get_running_loop().call_later(self._lease / 3, self._beat)

    def stop(self) -> None:
        """The owner is done: no more renewals."""
        self._handle.cancel()


async def _logged(write: Awaitable[object]) -> None:
    try:
        await write
    except Exception as exc:  # the lease then lapses on its own; the owner's outcome is unaffected
        logger.error("payermax journal lease renewal failed: %s", type(exc).__name__)

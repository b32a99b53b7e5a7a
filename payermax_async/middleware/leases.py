"""Leases: how long a claim is exclusive, and the heartbeat that keeps a working owner's alive."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..pipeline.chain import Call
from ..stores.protocol import IdempotencyStore

__all__ = ["LeaseKeeper", "lease_for"]

logger = logging.getLogger("payermax_async")


def lease_for(call: Call, base: float, default_timeout: float | None) -> float:
    """The lease of one payout call: ``base`` (sized by the client for its own timeout), plus two
    more timeouts' worth when the call's timeout is longer (its last attempt and the settling query
    may each run that long)."""
    total = call.timeout.total if call.timeout is not None else None
    extra = max(0.0, total - (default_timeout or 0.0)) if total else 0.0
    return base + 2 * extra


class LeaseKeeper:
    """Renews the leases of this process's working owners, every third of each lease, so a lease
    never lapses under an owner that is still working (a slow signer, a store that stalls, a
    timeout without a total). One timer serves every payout in flight: holding and dropping a
    lease is a dictionary write, not a timer per payout.

    Args:
        store: the journal.
        spawn: runs a background write, keeping a reference to it.
    """

    __slots__ = ("_held", "_spawn", "_store", "_timer")

    def __init__(
        self, store: IdempotencyStore, spawn: Callable[[Coroutine[Any, Any, object]], None]
    ) -> None:
        self._store = store
        self._spawn = spawn
        #: token → (outTradeNo, lease length, loop time of the next renewal)
        self._held: dict[str, tuple[str, float, float]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def hold(self, key: str, token: str, lease: float) -> None:
        """``token`` owns ``key`` for ``lease`` seconds from now; keep it alive until dropped."""
        loop = asyncio.get_running_loop()
        due = loop.time() + lease / 3
        self._held[token] = (key, lease, due)
        if self._timer is None:
            self._timer = loop.call_at(due, self._tick)

    def drop(self, token: str) -> None:
        """The owner is done: no more renewals."""
        self._held.pop(token, None)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._timer = None
        next_due: float | None = None
        for token, (key, lease, due) in list(self._held.items()):
            if due <= now:
                renew = self._store.renew(key, owner=token, lease_seconds=lease)
                self._spawn(_logged(renew))
                due = now + lease / 3
                self._held[token] = (key, lease, due)
            next_due = due if next_due is None else min(next_due, due)
        if next_due is not None:
            self._timer = loop.call_at(next_due, self._tick)


async def _logged(write: Awaitable[object]) -> None:
    try:
        await write
    except Exception as exc:  # the lease then lapses on its own; the owner's outcome is unaffected
        logger.error("payermax journal lease renewal failed: %s", type(exc).__name__)

"""A test double for the app's notification callback that records what reached it."""

from __future__ import annotations

import asyncio

from payermax_async import PayoutNotification, PayoutStatus


class Recorder:
    """Records each delivered (outTradeNo, status); can fail a number of times or wait for a gate."""

    def __init__(self, *, failures: int = 0, gate: asyncio.Event | None = None) -> None:
        self.delivered: list[tuple[str, PayoutStatus]] = []
        self.calls = 0
        self.failures = failures
        self.gate = gate
        self.entered = asyncio.Event()

    async def __call__(self, notification: PayoutNotification) -> None:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        # Yield a few times so that, without the per-outTradeNo lock, a concurrent copy of this
        # notification would pass the dedupe check before this one is recorded.
        for _ in range(3):
            await asyncio.sleep(0)
        if self.failures > 0:
            self.failures -= 1
            msg = f"database down while storing {notification.data.notify_email}"
            raise RuntimeError(msg)
        self.delivered.append((notification.data.out_trade_no, notification.data.status))

    @property
    def statuses(self) -> list[PayoutStatus]:
        """The statuses delivered, in order."""
        return [status for _, status in self.delivered]

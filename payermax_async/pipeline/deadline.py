"""Per-call deadlines: one bound on a whole call (every attempt, backoff and settling query).

A ``timeout`` bounds one HTTP attempt; a ``deadline`` bounds the call around all of them. The call
carries it as an instant on the event loop's clock (``Call.deadline``), fixed when the call is built,
so every layer sees the same end. :class:`DeadlineScope` enforces it by cancelling the task at that
instant and turning the cancellation into :class:`asyncio.TimeoutError` for the layer that knows what
the cut meant (for a payout: whether a request may have left).
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType

from ..errors import ValidationError

__all__ = ["MAX_DEADLINE", "DeadlineScope", "check_deadline", "deadline_at", "remaining"]

#: The longest deadline accepted, in seconds (a day), as for timeouts: no answer is worth more.
MAX_DEADLINE = 86_400.0


def check_deadline(value: object, field: str = "deadline") -> float | None:
    """``value`` as seconds, or ``None``; refuse NaN, infinity, zero, negative, over a day, booleans.

    Raises:
        ValidationError: naming ``field``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{field} must be a number of seconds"
        raise ValidationError(msg, field=field)
    # Compared before any conversion: float(10**400) raises OverflowError; NaN compares false.
    if not 0 < value <= MAX_DEADLINE:
        msg = f"{field} must be more than 0 and at most {MAX_DEADLINE:g} seconds"
        raise ValidationError(msg, field=field)
    return float(value)


def deadline_at(seconds: float | None) -> float | None:
    """The instant ``seconds`` from now on the running loop's clock (``None`` stays ``None``)."""
    if seconds is None:
        return None
    return asyncio.get_running_loop().time() + seconds


def remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (negative once it passed); ``None`` without one."""
    if deadline is None:
        return None
    return deadline - asyncio.get_running_loop().time()


class DeadlineScope:
    """``async with DeadlineScope(at):`` cancels the body at ``at`` (loop clock) and raises
    :class:`asyncio.TimeoutError` in its place; ``expired`` then says the deadline did it.

    Written out rather than ``asyncio.timeout_at`` because that needs Python 3.11. A cancellation
    from elsewhere that arrives together with the deadline's is kept (3.11+: ``Task.uncancel``), so
    an outer ``task.cancel()`` is never swallowed.
    """

    __slots__ = ("_at", "_handle", "_task", "expired")

    def __init__(self, at: float) -> None:
        self._at = at
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self.expired = False

    async def __aenter__(self) -> DeadlineScope:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover (always inside a task under asyncio.run)
            msg = "DeadlineScope needs a running task"
            raise RuntimeError(msg)
        self._task = task
        self._handle = asyncio.get_running_loop().call_at(self._at, self._fire)
        return self

    def _fire(self) -> None:
        self.expired = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if not self.expired:
            return
        others = 0  # cancellations of the task besides ours (countable on 3.11+)
        if sys.version_info >= (3, 11) and self._task is not None:
            others = self._task.uncancel()  # ours is consumed, whatever the body made of it
        if exc_type is asyncio.CancelledError and others == 0:
            raise asyncio.TimeoutError from exc

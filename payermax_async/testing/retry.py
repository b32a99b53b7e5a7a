"""Test-mode helpers for the retry layer: no real sleeping, an injectable clock.

Re-exported from :mod:`payermax_async.testing`. Use them in your own tests::

    clock = FakeClock()
    sleep = RecordingSleep(clock)
    client = PayerMaxClient(config, retry=fast_retry_policy(sleep=sleep, clock=clock))
    ...
    assert sleep.delays == [...]   # what the backoff asked for, without waiting
"""

from __future__ import annotations

import asyncio

from ..middleware.retry import RetryPolicy

__all__ = ["FakeClock", "RecordingSleep", "fast_retry_policy"]


class FakeClock:
    """A clock that only moves when told (``advance``) or when a :class:`RecordingSleep` sleeps.

    Args:
        start: the initial reading in seconds.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


class RecordingSleep:
    """An ``asyncio.sleep`` stand-in that records each requested delay and returns at once.

    It still yields to the event loop once, so other tasks run as they would. With a clock, the
    clock jumps forward by each delay (so deadlines behave as if the time had passed).

    Args:
        clock: a :class:`FakeClock` to advance, if any.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.delays: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)
        await asyncio.sleep(0)


def fast_retry_policy(
    *,
    max_attempts: int = 8,
    deadline: float = 30.0,
    sleep: RecordingSleep | None = None,
    clock: FakeClock | None = None,
    budget: int = 1_000_000,
) -> RetryPolicy:
    """A :class:`RetryPolicy` for tests: backoff and ``Retry-After`` waits off (zero), a generous
    attempt allowance and a retry budget that never runs dry in a test run.

    Args:
        max_attempts: sends per call.
        deadline: seconds per call (measured on ``clock`` if given).
        sleep: a recording sleep, to look at the delays that would have been used.
        clock: a fake monotonic clock.
        budget: the retry bucket's size.
    """
    return RetryPolicy(
        max_attempts=max_attempts,
        backoff_base=0.0,
        backoff_max=0.0,
        deadline=deadline,
        retry_after_max=0.0,
        budget=budget,
        sleep=sleep,
        clock=clock,
    )

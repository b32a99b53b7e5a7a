"""Pacing and progress for bulk runs: a token-bucket rate limit and a progress line on stderr.

Both take an injectable clock (and the bucket an injectable sleep), so tests run them without real
time passing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TextIO

from ..errors import ConfigurationError

__all__ = ["Progress", "TokenBucket"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: A waiter never needs more than a couple of sleeps per token; this only stops a broken clock
#: (one that never advances) from spinning for ever.
_MAX_WAITS = 10_000


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, and at most ``burst`` at once.

    The bucket starts full. Waiters are served one at a time, in the order they arrived.

    Args:
        rate: tokens added per second (payouts per second).
        burst: the bucket's size; ``1`` spaces acquisitions evenly ``1/rate`` seconds apart.
        clock: a monotonic clock in seconds (tests inject a fake one).
        sleep: the coroutine used to wait (tests inject one that advances the fake clock).

    Raises:
        ConfigurationError: ``rate`` is not positive or ``burst`` is below 1.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            msg = "the rate must be a positive number of payouts per second"
            raise ConfigurationError(msg)
        if not burst >= 1:
            msg = "the burst must be at least 1"
            raise ConfigurationError(msg)
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock: Clock = clock or time.monotonic
        self._sleep: Sleep = sleep or asyncio.sleep
        self._tokens = self.burst
        self._updated = self._clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it.

        Raises:
            RuntimeError: the clock does not advance while waiting.
        """
        async with self._lock:
            for _ in range(_MAX_WAITS):
                self._refill()
                # A hair of tolerance: refills computed from float clock readings may land just
                # short of a whole token after sleeping exactly the time it needs.
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                await self._sleep((1.0 - self._tokens) / self.rate)
        msg = "the rate limiter's clock is not advancing"
        raise RuntimeError(msg)


class Progress:
    """A progress display on a text stream (stderr).

    On a terminal it rewrites one line in place (at most ``tty_interval`` apart); otherwise (a log
    file, CI) it writes a full line at most every ``interval`` seconds. :meth:`finish` always writes
    the final state.

    Args:
        stream: where to write.
        total: how many rows will be worked on.
        tty: whether ``stream`` is a terminal (default: ``stream.isatty()``).
        interval: seconds between lines when not on a terminal.
        tty_interval: seconds between redraws on a terminal.
        clock: a monotonic clock in seconds.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        tty: bool | None = None,
        interval: float = 5.0,
        tty_interval: float = 0.1,
        clock: Clock | None = None,
    ) -> None:
        self._stream = stream
        self.total = total
        self._tty = _isatty(stream) if tty is None else tty
        self._interval = tty_interval if self._tty else interval
        self._clock: Clock = clock or time.monotonic
        self._started = self._clock()
        self._shown: float | None = None
        self._width = 0
        self._base = 0  # rows done before this run: left out of the rate

    def line(self, done: int, counts: Mapping[str, int]) -> str:
        """The text shown for ``done`` rows finished with these counts per status."""
        percent = 100 * done // self.total if self.total else 100
        elapsed = self._clock() - self._started
        sent = done - self._base
        rate = f", {sent / elapsed:.1f}/s" if elapsed > 0 and sent > 0 else ""
        parts = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()) if count)
        return f"payouts {done}/{self.total} ({percent}%){': ' + parts if parts else ''}{rate}"

    def update(self, done: int, counts: Mapping[str, int]) -> None:
        """Show the state if the last display is old enough."""
        now = self._clock()
        if self._shown is not None and now - self._shown < self._interval:
            return
        self._shown = now
        self._write(self.line(done, counts), final=False)

    def finish(self, done: int, counts: Mapping[str, int]) -> None:
        """Show the final state (and end the terminal line)."""
        self._write(self.line(done, counts), final=True)

    def resume(self, already: int, done: int, counts: Mapping[str, int]) -> None:
        """Say how many rows an earlier run already did, and show the count starting there."""
        self.note(f"resuming: {already} of {self.total} rows already done")
        self._base = already
        self._shown = self._clock()
        self._write(self.line(done, counts), final=False)

    def close(self) -> None:
        """Release the display (a no-op here; a live progress bar stops)."""

    def note(self, text: str) -> None:
        """Write a message on its own line, without disturbing the progress line."""
        if self._tty and self._width:
            self._stream.write("\n")
            self._width = 0
        self._stream.write(text + "\n")
        self._stream.flush()

    def _write(self, text: str, *, final: bool) -> None:
        if self._tty:
            # Pad over the remains of a longer previous line; newline only at the end.
            padding = " " * max(0, self._width - len(text))
            self._stream.write(f"\r{text}{padding}{chr(10) if final else ''}")
            self._width = 0 if final else len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False

"""The one backoff rule, used by every loop that waits before trying again: the retry layer (with
full jitter), ``wait_until_final`` polls and the wait for another process's lease (without)."""

from __future__ import annotations

import random

import attrs

__all__ = ["Backoff"]


@attrs.frozen
class Backoff:
    """Exponentially growing pauses: pause ``n`` (from 1) is ``first * factor**(n-1)``, capped.

    With ``jitter`` the pause is drawn uniformly from ``[0, that]`` ("full jitter", so that many
    clients failing together do not retry together).

    Attributes:
        first: the first pause, in seconds.
        cap: the largest pause.
        factor: growth per attempt.
        jitter: draw each pause uniformly from zero up to its value.
    """

    first: float
    cap: float
    factor: float = 2.0
    jitter: bool = False

    def ceiling(self, attempt: int) -> float:
        """The largest pause after ``attempt`` tries (1 for the first)."""
        exponent = max(0, attempt - 1)
        try:
            value = self.first * self.factor**exponent
        except OverflowError:
            return self.cap
        return min(self.cap, value)

    def pause(self, attempt: int) -> float:
        """The pause after ``attempt`` tries."""
        ceiling = self.ceiling(attempt)
        return random.uniform(0.0, ceiling) if self.jitter else ceiling

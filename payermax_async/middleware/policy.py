"""How hard the client tries before giving up: the retry policy and the per-client retry budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from ..errors import ConfigurationError

__all__ = ["Clock", "RetryBudget", "RetryPolicy", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


def _positive(name: str, value: float, *, allow_zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        msg = f"RetryPolicy.{name} must be a number"
        raise ConfigurationError(msg)
    if value < 0 or (value == 0 and not allow_zero):
        msg = f"RetryPolicy.{name} must be {'positive' if not allow_zero else 'non-negative'}"
        raise ConfigurationError(msg)


@attrs.frozen
class RetryPolicy:
    """How hard the client tries before giving up. All times in seconds.

    Args:
        max_attempts: sends of one request at most (a payout's resolving queries have their own,
            equal allowance). ``1`` turns retries off.
        backoff_base: the first backoff window; window ``n`` is ``backoff_base * 2**(n-1)``, and the
            delay is drawn uniformly from it (full jitter).
        backoff_max: the largest backoff window.
        deadline: no new attempt starts this long after the call began.
        retry_after_max: the most a ``Retry-After`` hint can make us wait.
        time_skew_retries: re-signed retries after ``REQ_TIME_OVER_TIME`` before it is surfaced.
        budget: tokens in the client's retry bucket; a retry costs ``retry_cost`` (``timeout_cost``
            after a timeout), a success refunds what it spent or adds one token.
        retry_cost: tokens per retry.
        timeout_cost: tokens per retry after a timeout.
        sleep: the coroutine used to wait (tests inject a fake one).
        clock: a monotonic clock (tests inject a fake one).

    Raises:
        ConfigurationError: a value is out of range.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    deadline: float = 60.0
    retry_after_max: float = 30.0
    time_skew_retries: int = 2
    budget: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    sleep: Sleep | None = attrs.field(default=None, eq=False, repr=False)
    clock: Clock | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            msg = "RetryPolicy.max_attempts must be an integer"
            raise ConfigurationError(msg)
        if self.max_attempts < 1:
            msg = "RetryPolicy.max_attempts must be at least 1"
            raise ConfigurationError(msg)
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            _positive(name, getattr(self, name))
        _positive("deadline", self.deadline, allow_zero=False)
        for name in ("time_skew_retries", "budget", "retry_cost", "timeout_cost"):
            _positive(name, getattr(self, name))


class RetryBudget:
    """A token bucket shared by every call of one client (botocore's retry quota).

    A retry takes tokens; when the bucket is empty no retry happens, the call fails fast. A success
    puts back what its call took, or one token if it needed no retry.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.tokens = capacity

    def acquire(self, cost: int) -> bool:
        """Take ``cost`` tokens if there are enough."""
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True

    def refund(self, spent: int) -> None:
        """A call succeeded: return what it spent, or one token if it spent nothing."""
        self.tokens = min(self.capacity, self.tokens + (spent or 1))

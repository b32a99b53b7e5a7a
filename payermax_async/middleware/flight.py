"""Single-flight: concurrent ``create()`` calls of one number in one process share one attempt."""

from __future__ import annotations

import asyncio

from ..pipeline.chain import Reply

__all__ = ["Flight", "LeaderCancelled"]


class LeaderCancelled(Exception):
    """The call settling a shared attempt was cancelled (not the waiting caller): start over."""


class Flight:
    """One payout being settled by this process; later callers of the same number wait on it.

    The first caller settles the payout on its own task (no extra task per payout); the future the
    others wait on is only made when a second caller turns up. A cancelled leader settles it with
    :class:`LeaderCancelled`, never by cancelling it: a waiter that sees ``CancelledError`` then
    knows it was itself cancelled, on every Python version (``Task.cancelling()`` is 3.11+).
    """

    __slots__ = ("_waiter", "fingerprint", "maybe_sent")

    def __init__(self, fingerprint: str, *, maybe_sent: bool = False) -> None:
        self.fingerprint = fingerprint
        self._waiter: asyncio.Future[Reply] | None = None
        #: Whether a request of this payout may have left (this attempt's, an earlier call's or
        #: another owner's): a deadline that cuts the attempt then leaves it in doubt.
        self.maybe_sent = maybe_sent

    def waiter(self) -> asyncio.Future[Reply]:
        """The future followers await (made on first use)."""
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def settle(self, reply: Reply | None, error: BaseException | None) -> None:
        """Hand the leader's outcome to every follower."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if isinstance(error, asyncio.CancelledError):
            waiter.set_exception(LeaderCancelled())
            waiter.exception()  # retrieved: nobody may be left waiting
        elif error is not None:
            waiter.set_exception(error)
            waiter.exception()  # retrieved: a waiter that was itself cancelled must not log it
        else:
            assert reply is not None
            waiter.set_result(reply)

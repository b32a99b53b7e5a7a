"""What a passed ``deadline=`` means: for a read, a timeout; for a payout, a timeout only when nothing
may have left, else an outcome in doubt.

The journal layer runs the call inside a :class:`~payermax_async.pipeline.deadline.DeadlineScope`.
The cut is a cancellation, so the journal records it as it records any cancellation: a claim not yet
used is handed back (nothing was sent, nothing is in doubt), a payout cut after it was marked ``SENT``
stays ``IN_DOUBT`` for ``reconcile()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .._redact import last4
from ..errors import DeadlineExceededError, PayoutOutcomeUnknown
from ..pipeline.chain import Call, Handler, Reply
from ..pipeline.deadline import DeadlineScope
from .flight import Flight

__all__ = ["FOLLOWED", "pay_within", "read_within"]

#: Stands for a shared attempt another call leads: it may send at any moment, so a deadline that
#: passes while waiting on it leaves the payout in doubt.
FOLLOWED = Flight("", maybe_sent=True)


async def read_within(call: Call, next_handler: Handler) -> Reply:
    """Run a read; past ``call.deadline`` raise :class:`DeadlineExceededError`."""
    assert call.deadline is not None
    scope = DeadlineScope(call.deadline)
    try:
        async with scope:
            return await next_handler(call)
    except asyncio.TimeoutError:
        if not scope.expired:
            raise
        msg = f"{call.api}: the call's deadline passed before an answer arrived"
        raise DeadlineExceededError(msg) from None


async def pay_within(
    call: Call, key: str, settle: Callable[[list[Flight]], Awaitable[Reply]]
) -> Reply:
    """Run a payout's settlement; past ``call.deadline`` raise :class:`DeadlineExceededError` if no
    request of it may have left, else :class:`PayoutOutcomeUnknown` (the journal keeps it in doubt).

    ``settle`` appends the :class:`Flight` it leads (or :data:`FOLLOWED`) to the list it is given.
    """
    assert call.deadline is not None
    flights: list[Flight] = []
    scope = DeadlineScope(call.deadline)
    try:
        async with scope:
            return await settle(flights)
    except asyncio.TimeoutError:
        if not scope.expired:
            raise
    if any(flight.maybe_sent for flight in flights):
        msg = (
            f"payout {last4(key)}: the call's deadline passed after a request may have left; "
            "it stays in doubt for reconcile() (create() it again with the same request to settle it)"
        )
        cause = DeadlineExceededError("the call's deadline passed")
        raise PayoutOutcomeUnknown(msg, out_trade_no=key) from cause
    msg = f"payout {last4(key)}: the call's deadline passed before anything was sent"
    raise DeadlineExceededError(msg, maybe_sent=False)

"""Running several payouts at once without leaving any behind.

``asyncio.gather`` returns (or raises) as soon as one awaitable raises, while the others keep running
in the background: payouts paid after the caller saw an error, whose results nobody reads. ``run_all``
is what ``create_many`` needs instead: when one task fails with an exception (a bug, not a payout's
own ``PayerMaxError``, which the tasks catch) or the caller is cancelled, every other task is
cancelled and **awaited**, so each one settles its journal record (a payout that may have been sent
ends ``IN_DOUBT``, one that was not is handed back) before the error propagates. Python 3.11's
``TaskGroup`` does the same but wraps errors in an ``ExceptionGroup`` and needs 3.11.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

__all__ = ["run_all"]

# settle() waits again after each new cancellation of the caller; each round normally ends at once,
# because the cancelled tasks only finish their (shielded) journal writes.
_MAX_SETTLE_ROUNDS = 1000


async def _settle(tasks: list[asyncio.Task[None]]) -> bool:
    """Cancel every unfinished task and wait until all have finished; return whether the caller was
    cancelled meanwhile."""
    for task in tasks:
        task.cancel()
    cancelled = False
    for _ in range(_MAX_SETTLE_ROUNDS):
        running = [task for task in tasks if not task.done()]
        if not running:
            break
        try:
            await asyncio.wait(running)
        except asyncio.CancelledError:
            # Cancelled again while the tasks wind down: keep waiting, so that none outlives this
            # call; the cancellation is raised once they are done.
            cancelled = True
            for task in running:
                task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio would log "exception was never retrieved"
    return cancelled


def _failure(tasks: list[asyncio.Task[None]]) -> BaseException | None:
    for task in tasks:
        if task.done():
            if task.cancelled():
                return asyncio.CancelledError()  # cancelled by someone else: stop as if we were
            error = task.exception()
            if error is not None:
                return error
    return None


async def run_all(coroutines: Iterable[Coroutine[Any, Any, None]], *, name: str) -> None:
    """Run ``coroutines`` as tasks (named ``{name}-{index}``) and wait until all have finished.

    Raises:
        BaseException: the first exception a task raised, after every other task was cancelled and
            has finished; ``CancelledError`` when the caller was cancelled, likewise.
    """
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(coro, name=f"{name}-{i}") for i, coro in enumerate(coroutines)]
    if not tasks:
        return
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    except asyncio.CancelledError:
        await _settle(tasks)
        raise
    failure = _failure(tasks)
    if failure is None:
        return
    if await _settle(tasks):
        raise asyncio.CancelledError
    raise failure

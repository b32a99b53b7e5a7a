"""Journal writes that a cancellation can neither interrupt nor orphan.

A caller may be cancelled while a journal write is in flight (an SQLite transaction on the store's
thread, a Redis round trip). The write must still land whole, and when it granted the caller
something (a claim and its lease) that the caller will now never use, it must be handed back at
once, or the next ``create()`` of that number would wait for the whole lease.

:func:`run_to_completion` does both. It first runs the write inline: a write that completes without
suspending (``MemoryStore``) cannot be interrupted and needs no task. A write that suspends is driven
from the caller's task too, but the caller only ever waits beside the future the write waits on,
never on it, so a cancellation cannot reach the write. Only if the caller is cancelled does the rest
of the write move onto a task of its own; the caller then waits (bounded) for it to land, applies
``undo`` (if any) to its result, and only then lets the cancellation through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_to_completion"]

T = TypeVar("T")
logger = logging.getLogger("payermax_async")

#: How long a cancelled caller waits for its in-flight write before leaving the undo to a callback.
UNDO_WAIT_SECONDS = 30.0
_background: set[asyncio.Task[Any]] = set()


async def _drive(coro: Coroutine[Any, Any, T], waiting_on: object) -> T:
    """Continue a coroutine that was started inline and suspended on ``waiting_on``."""
    for _ in range(10_000_000):  # a journal write suspends a handful of times
        if waiting_on is None:
            await asyncio.sleep(0)  # a bare yield: give the loop one turn
        else:
            # The coroutine reads the future's outcome itself when resumed (``future.result()``).
            await asyncio.wait({waiting_on})  # type: ignore[type-var]
        try:
            waiting_on = coro.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
    msg = "journal write did not finish"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover


async def run_to_completion(
    write: Coroutine[Any, Any, T],
    *,
    undo: Callable[[T], Awaitable[object]] | None = None,
) -> T:
    """Await a journal write that must land whole whatever happens to the caller.

    Args:
        write: the store call (a coroutine, not yet started).
        undo: called with the write's result if the caller was cancelled while it was in flight
            (e.g. hand back the lease a claim granted).
    """
    try:
        waiting_on = write.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    while True:
        # The caller's own task drives the write; nothing the write waits on is ever cancelled by
        # the caller's cancellation, which only interrupts this wait (see _settled).
        try:
            await _settled(waiting_on)
        except asyncio.CancelledError:
            task = asyncio.ensure_future(_drive(write, waiting_on))
            if undo is not None:
                await _undo_when_landed(task, undo)
            else:
                # The cancelled caller leaves only once its write has landed: whoever reads the
                # journal next (the caller's own clean-up, a shutdown closing the store) sees it.
                await _wait_landed(task)
            raise
        try:
            waiting_on = write.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def _settled(waiting_on: object) -> None:
    """Wait until the future a suspended write waits on is done, or for one loop turn after a bare
    yield. A cancellation of the caller interrupts only this wait: the write's own future is
    never cancelled, and the write reads its outcome itself when resumed. A CancelledError here is
    always the caller's (the waiter below is only ever given a result)."""
    if waiting_on is None:
        await asyncio.sleep(0)
        return
    future: asyncio.Future[Any] = waiting_on  # type: ignore[assignment]
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        future.remove_done_callback(wake)


async def _wait_landed(task: asyncio.Task[Any]) -> None:
    """Wait (bounded, and only once: a second cancellation stops the wait) for ``task``; a task
    still running after that is kept referenced until it is done."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait({task}, timeout=UNDO_WAIT_SECONDS)
    if not task.done():
        _keep(task)


async def _undo_when_landed(task: asyncio.Task[T], undo: Callable[[T], Awaitable[object]]) -> None:
    await _wait_landed(task)  # cancelled again, or too slow: the callback below undoes
    if not task.done():
        task.add_done_callback(lambda landed: _spawn_undo(landed, undo))
        return
    if task.cancelled() or task.exception() is not None:
        return  # the write did not land: nothing to hand back
    try:
        await asyncio.shield(_call(undo, task.result()))
    except asyncio.CancelledError:
        pass
    except Exception as exc:  # the lease lapses by itself; log and let the cancellation through
        logger.error("payermax journal undo after a cancellation failed: %s", type(exc).__name__)


async def _call(undo: Callable[[T], Awaitable[object]], value: T) -> None:
    await undo(value)


def _spawn_undo(task: asyncio.Task[T], undo: Callable[[T], Awaitable[object]]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    _keep(asyncio.ensure_future(_call(undo, task.result())))


def _keep(task: asyncio.Task[Any]) -> None:
    # A running task is only weakly referenced by the loop: keep it until it is done.
    _background.add(task)
    task.add_done_callback(_background.discard)

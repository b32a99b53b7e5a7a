"""Group commit for the durable stores: transitions requested while a batch is being written wait
for the next batch, so many payouts in flight share one transaction (SQLite, PostgreSQL) or one
round trip (Redis), and each caller still returns only once its own transition is written."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ._journal import T, Update

__all__ = ["Batch", "GroupCommit", "Outcome"]

#: One transition's outcome: ``(True, value)``, or ``(False, exception)`` for its caller alone.
Outcome = tuple[bool, object]
Batch = list[tuple[str, Update[Any]]]


class GroupCommit:
    """A queue of transitions and the one task that writes them, a batch at a time.

    ``commit`` writes a batch and returns one :data:`Outcome` per transition, in order; if it raises,
    every caller of the batch gets ``failure(exc)`` (nothing of it may be assumed written). A caller
    that is cancelled while it waits does not cancel its transition: once requested, a transition is
    written whole or not at all, and its outcome is dropped.
    """

    def __init__(
        self,
        commit: Callable[[Batch], Awaitable[list[Outcome]]],
        failure: Callable[[BaseException], BaseException],
        *,
        limit: int = 1024,
    ) -> None:
        self._commit = commit
        self._failure = failure
        self._limit = limit
        self._queue: list[tuple[str, Update[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, out_trade_no: str, update: Update[T]) -> T:
        """Queue one transition and wait until its batch is written; its value or its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((out_trade_no, update, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def drain(self) -> None:
        """Wait until every transition requested so far is written (or failed)."""
        if self._flusher is not None:
            await asyncio.wait({self._flusher})

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._limit]
                del self._queue[: self._limit]
                try:
                    outcomes = await self._commit([(key, update) for key, update, _ in batch])
                except BaseException as exc:
                    failure = self._failure(exc)
                    if not isinstance(exc, Exception):
                        # The flusher itself is cancelled (the loop is closing): nobody is left
                        # to write what waits, so its callers fail too rather than hang.
                        batch += self._queue
                        self._queue = []
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue  # its caller was cancelled; the transition is written anyway
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)  # type: ignore[arg-type]
        finally:
            self._flusher = None

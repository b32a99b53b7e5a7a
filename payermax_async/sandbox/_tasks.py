"""Background tasks of the sandbox: tracked, awaitable as a group, and all cancelled on exit."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

__all__ = ["TaskTracker"]

#: ``settle`` re-checks for newly spawned tasks at most this many times (tasks spawn tasks).
_MAX_SETTLE_ROUNDS = 1000


class TaskTracker:
    """Owns every background task of one gateway, so none outlives it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        #: Unexpected exceptions of finished tasks (a sandbox bug if ever non-empty).
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[object, object, None], *, name: str) -> asyncio.Task[None]:
        """Start ``coro`` as a tracked task."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Retrieved here so asyncio never logs "exception was never retrieved"; the sandbox's own
            # tasks catch what they expect, so anything left is a sandbox bug: settle() reports it.
            self.errors.append(error)

    @property
    def pending(self) -> int:
        """How many tasks are still running."""
        return len(self._tasks)

    async def settle(self, timeout: float) -> None:
        """Wait until no task is left (including tasks spawned meanwhile).

        Raises:
            TimeoutError: tasks are still running after ``timeout`` seconds.
            RuntimeError: a task failed unexpectedly (a sandbox bug).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for _ in range(_MAX_SETTLE_ROUNDS):
            if self.errors:
                msg = f"a sandbox task failed: {self.errors[0]!r}"
                raise RuntimeError(msg) from self.errors[0]
            if not self._tasks:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        msg = f"{len(self._tasks)} sandbox task(s) still running after {timeout:g} s"
        raise TimeoutError(msg)

    async def aclose(self) -> None:
        """Cancel every task and wait for them to finish."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

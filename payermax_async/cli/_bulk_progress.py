"""The progress display of ``payermax payouts bulk``: a progress bar on a terminal when the optional
``rich`` package is installed (``pip install 'payermax-async[progress]'``), plain lines otherwise.

A log file or CI gets one full line every few seconds; a terminal without ``rich`` gets one line
redrawn in place (:class:`~payermax_async.bulk.pacing.Progress`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from ..bulk.pacing import Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar

__all__ = ["BarProgress", "make_progress"]


def make_progress(stream: TextIO, total: int) -> Progress:
    """A bar if ``stream`` is a terminal and ``rich`` is installed, else plain progress lines."""
    plain = Progress(stream, total)
    if not _isatty(stream):
        return plain
    try:
        return BarProgress(stream, total)
    except ImportError:  # the extra is not installed: plain lines are the fallback
        return plain


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items()) if count)


class BarProgress(Progress):
    """A ``rich`` progress bar (done/total, counts per status, rate, time left) on a terminal.

    Raises:
        ImportError: ``rich`` is not installed.
    """

    def __init__(self, stream: TextIO, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        super().__init__(stream, total, tty=True)
        self._bar: RichBar = Bar(
            TextColumn("payouts"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[counts]}"),
            console=Console(file=stream, highlight=False),
        )
        self._task: Any = self._bar.add_task("payouts", total=total or None, counts="")
        self._bar.start()

    def update(self, done: int, counts: Mapping[str, int]) -> None:
        """Move the bar (rich redraws it at its own pace)."""
        self._bar.update(self._task, completed=done, counts=_counts(counts))

    def resume(self, already: int, done: int, counts: Mapping[str, int]) -> None:
        """Start the bar at the rows an earlier run already did."""
        self.note(f"resuming: {already} of {self.total} rows already done")
        self._bar.reset(self._task, completed=done, counts=_counts(counts))

    def finish(self, done: int, counts: Mapping[str, int]) -> None:
        """Show the final state and stop the bar."""
        self.update(done, counts)
        self.close()

    def close(self) -> None:
        """Stop the bar (the terminal gets its cursor back); safe to call twice."""
        self._bar.stop()

    def note(self, text: str) -> None:
        """Print a message above the bar."""
        self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)

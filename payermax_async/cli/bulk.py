"""``payermax payouts bulk FILE.csv --out results.csv``: the command around :mod:`payermax_async.bulk`.

Exit status: 0 every row was accepted by the gateway; 1 the file has invalid rows (nothing was sent)
or the run could not start; 3 some rows were not paid (see the results file); 130 stopped by Ctrl-C
(run the same command again to resume).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from .._files import PRIVATE_FILE_MODE
from ..bulk import BulkRow, BulkRun, RowResult, RowStatus, read_rows, write_results
from ..bulk.pacing import Progress, TokenBucket
from ..errors import ConfigurationError
from ._bulk_help import columns_help
from ._bulk_progress import make_progress
from ._bulk_refresh import refresh
from ._gateway import cli_client

__all__ = ["command", "default_journal", "register"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNPAID = 3
EXIT_INTERRUPTED = 130
_MAX_SHOWN_ERRORS = 1_000


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1024:
        msg = f"must be a whole number from 1 to 1024, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        msg = f"must be a positive number, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bulk`` to the ``payouts`` actions."""
    bulk = actions.add_parser(
        "bulk",
        help="pay every row of a CSV file, exactly once, resumable",
        description=textwrap.fill(
            "Pay one payout per row of FILE.csv. Every row is checked first; nothing is sent while "
            "any row is invalid (unless --skip-invalid). A SQLite journal next to the results "
            "makes the run exactly-once: after a crash or Ctrl-C, run the same command again to "
            "resume without paying anyone twice.",
            width=78,
        ),
        epilog=columns_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bulk.add_argument(
        "file",
        type=Path,
        nargs="?",
        metavar="FILE.csv",
        help="the payouts, one per row (not needed with --refresh)",
    )
    bulk.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="RESULTS.csv",
        help="write outTradeNo,status,tradeNo,error here",
    )
    bulk.add_argument(
        "--concurrency", type=_positive_int, default=8, metavar="N", help="payouts in flight (8)"
    )
    bulk.add_argument(
        "--skip-invalid", action="store_true", help="report invalid rows and pay the others"
    )
    bulk.add_argument(
        "--rate", type=_positive_float, metavar="N", help="start at most N payouts per second"
    )
    bulk.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="the SQLite journal (default: RESULTS.csv.journal.sqlite)",
    )
    bulk.add_argument(
        "--refresh",
        action="store_true",
        help=(
            "pay nothing: query the rows of RESULTS.csv that are PENDING or IN_DOUBT again and "
            "rewrite their lines with their status now (SUCCESS, FAILED, ...)"
        ),
    )
    bulk.set_defaults(handler=command)


def default_journal(results: Path) -> Path:
    """Where the journal of a results file lives unless ``--journal`` says otherwise."""
    return results.with_name(results.name + ".journal.sqlite")


def command(args: argparse.Namespace) -> int:
    """Run the ``bulk`` command; return its exit status."""
    out: Path = args.out
    if not out.parent.is_dir():  # found out now, not after paying everyone
        msg = f"{out.parent}: directory does not exist"
        raise ConfigurationError(msg)
    journal: Path = args.journal or default_journal(args.out)
    if args.refresh:
        with _exclusive(journal):
            return asyncio.run(refresh(out, journal, args.concurrency))
    if args.file is None:
        msg = "say which file to pay: payermax payouts bulk FILE.csv --out RESULTS.csv"
        raise ConfigurationError(msg)
    rows = read_rows(args.file)
    invalid = [row for row in rows if not row.valid]
    if invalid:
        _report_invalid(sys.stderr, rows, invalid, skipping=args.skip_invalid)
        if not args.skip_invalid:
            return EXIT_INVALID
    with _exclusive(journal):
        return asyncio.run(_run(args, rows, journal))


def _report_invalid(
    stream: TextIO, rows: Sequence[BulkRow], invalid: Sequence[BulkRow], *, skipping: bool
) -> None:
    errors = [error for row in invalid for error in row.errors]
    for error in errors[:_MAX_SHOWN_ERRORS]:
        stream.write(f"invalid: {error}\n")
    if len(errors) > _MAX_SHOWN_ERRORS:
        stream.write(f"invalid: ... and {len(errors) - _MAX_SHOWN_ERRORS} more\n")
    what = f"{len(invalid)} of {len(rows)} rows are invalid"
    if skipping:
        stream.write(f"{what}; skipping them (--skip-invalid), paying the others\n")
    else:
        stream.write(f"{what}; nothing was sent. Fix them, or pay the others with --skip-invalid\n")
    stream.flush()


@contextlib.contextmanager
def _exclusive(journal: Path) -> Iterator[None]:
    """One bulk run per journal at a time: resuming settles the journal's open records as a dead
    run's, which is only right while no other run is using them."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one run at a time is on the user
        yield
        return
    if not journal.parent.is_dir():
        msg = f"{journal.parent}: directory does not exist"
        raise ConfigurationError(msg)
    # 0600 like the journal; O_NOFOLLOW: a symlink planted at the lock's path is refused (ELOOP),
    # never followed to create or lock another file.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    lock = journal.with_name(journal.name + ".lock")
    with os.fdopen(os.open(lock, flags, PRIVATE_FILE_MODE), "r+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            msg = f"another bulk run is using the journal {journal}; wait for it to finish"
            raise ConfigurationError(msg) from None
        yield


async def _run(args: argparse.Namespace, rows: Sequence[BulkRow], journal: Path) -> int:
    from .._config import PayerMaxConfig
    from ..stores.sqlite import SQLiteStore

    config = PayerMaxConfig.from_env()
    valid = sum(1 for row in rows if row.valid)
    stop = asyncio.Event()
    progress = make_progress(sys.stderr, valid)
    limiter = TokenBucket(args.rate) if args.rate else None
    interrupted = False
    async with SQLiteStore(journal) as store, cli_client(config, store=store, retry=None) as client:
        run = BulkRun(
            client,
            rows,
            concurrency=args.concurrency,
            limiter=limiter,
            progress=progress,
            stop=stop,
        )
        task = asyncio.ensure_future(run.run())
        with _ctrl_c(stop, task, progress):
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
                interrupted = True
            finally:
                progress.close()
        results = run.results()
        interrupted = interrupted or any(r.status == RowStatus.NOT_SENT for r in results)
        settled = run.settled_first
    write_results(args.out, results)
    _summary(sys.stdout, results, settled, args.out, journal, interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(result.accepted for result in results) else EXIT_UNPAID


@contextlib.contextmanager
def _ctrl_c(
    stop: asyncio.Event, task: asyncio.Future[list[RowResult]], progress: Progress
) -> Iterator[None]:
    """First Ctrl-C: start nothing new, let payouts in flight finish. Second: abandon them (the
    journal keeps them in doubt; the next run settles them by querying)."""
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        if not stop.is_set():
            stop.set()
            progress.note("stopping: waiting for payouts in flight (Ctrl-C again to abandon them)")
        else:
            task.cancel()

    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Not on Windows or outside the main thread, where Ctrl-C stays a KeyboardInterrupt.
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def _summary(
    stream: TextIO,
    results: Sequence[RowResult],
    settled: int,
    out: Path,
    journal: Path,
    *,
    interrupted: bool,
) -> None:
    counts = Counter(result.status for result in results)
    accepted = {status: n for status, n in counts.items() if status not in vars(RowStatus).values()}
    reused = sum(1 for result in results if result.from_journal)
    lines = [f"payouts bulk: {len(results)} rows"]
    detail = ", ".join(f"{status} {n}" for status, n in sorted(accepted.items()))
    lines.append(f"  accepted  {sum(accepted.values()):>7}" + (f"  ({detail})" if detail else ""))
    if reused:
        lines.append(f"    of which {reused} already accepted in an earlier run (not sent again)")
    if settled:
        lines.append(f"    {settled} left open by an earlier run were settled by query first")
    hints = {
        RowStatus.REJECTED: "refused by the gateway; no order exists",
        RowStatus.IN_DOUBT: "may exist: run the same command again (it settles them first)",
        RowStatus.ERROR: "not paid; see the error column",
        RowStatus.INVALID: "failed the local checks; not sent",
        RowStatus.NOT_SENT: "not started; run the same command again to send them",
    }
    for status, hint in hints.items():
        if counts.get(status):
            lines.append(f"  {status.lower().replace('_', ' '):<9} {counts[status]:>7}  {hint}")
    if interrupted:
        lines.append("interrupted: run the same command again to resume (nothing is paid twice)")
    lines.append(f"results  {out}")
    lines.append(f"journal  {journal}")
    stream.write("\n".join(lines) + "\n")
    stream.flush()

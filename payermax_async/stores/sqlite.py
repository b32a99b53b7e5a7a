"""``SQLiteStore``: a journal in one SQLite file that survives ``kill -9`` and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from .._files import create_private_file
from ..errors import ConfigurationError, StoreError
from ..protocol.rules import check_out_trade_no
from ._batch import Batch, GroupCommit, Outcome
from ._journal import Clock, JournalStore, T, Update
from .base import OPEN_STATES, OpenRecords, PayoutRecord, scan_rows

__all__ = ["SQLiteStore"]

R = TypeVar("R")
_TABLE = "payermax_journal"
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
    " out_trade_no TEXT PRIMARY KEY, state TEXT NOT NULL, record TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_state ON {_TABLE} (state)",
)
_UPSERT = (
    f"INSERT INTO {_TABLE} (out_trade_no, state, record) VALUES (?, ?, ?) "  # noqa: S608 (constant)
    "ON CONFLICT (out_trade_no) DO UPDATE SET state = excluded.state, record = excluded.record"
)
_SELECT = f"SELECT record FROM {_TABLE} WHERE out_trade_no = ?"  # noqa: S608 (constant)
_SELECT_ALL = f"SELECT out_trade_no, record FROM {_TABLE} ORDER BY out_trade_no"  # noqa: S608
_SELECT_OPEN = f"SELECT out_trade_no, record FROM {_TABLE} WHERE state IN ({', '.join('?' * len(OPEN_STATES))})"  # noqa: S608


class SQLiteStore(JournalStore):
    """A durable journal in one SQLite file: every transition committed before it returns.

    The file is in WAL mode with ``synchronous=FULL`` by default, so a transition that returned is on
    disk: a process killed with SIGKILL (or a power cut, with ``FULL``) finds every committed intent on
    restart. Several processes on one host may share the file; transitions requested together share
    one ``BEGIN IMMEDIATE`` transaction (group commit), so claims are atomic across them. SQLite
    work runs on one private thread so the event loop never blocks on a lock or an fsync.

    Use it as ``async with SQLiteStore(path) as store:`` or call :meth:`aclose`.

    Args:
        path: the database file (created with mode ``0600`` if missing; its directory must exist).
        synchronous: ``"FULL"`` (durable across power loss) or ``"NORMAL"`` (durable across process
            crashes, faster).
        busy_timeout: seconds to wait for another process's write lock.
        clock: seconds since the epoch (tests inject their own).

    Raises:
        ConfigurationError: the directory does not exist or ``synchronous`` is unknown.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self._path = Path(path)
        if not self._path.parent.is_dir():
            msg = f"SQLiteStore: directory {str(self._path.parent)!r} does not exist"
            raise ConfigurationError(msg)
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            msg = "SQLiteStore: synchronous must be FULL, EXTRA or NORMAL"
            raise ConfigurationError(msg)
        self._synchronous = synchronous.upper()
        self._busy_ms = int(busy_timeout * 1000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="payermax-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._batches = GroupCommit(self._commit_batch, _store_error)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        # Runs on the store's thread only; the connection never crosses threads.
        if self._conn is None:
            if str(self._path) != ":memory:":
                # A new journal is 0600 (it names every payout); SQLite gives its -wal and -shm
                # files the mode of the database file. An existing file keeps its mode. If the
                # folder refuses the file, connect() below fails the same way, as a StoreError.
                with contextlib.suppress(OSError):
                    create_private_file(self._path)
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_ms / 1000)
            try:
                conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
                self._set_up(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _set_up(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL takes an exclusive lock for which SQLite does not always call
        # the busy handler, so connections opened at the same moment can meet "database is locked"
        # here: try again for up to busy_timeout (this runs on the store's own thread).
        deadline = time.monotonic() + self._busy_ms / 1000
        for attempt in range(1_000_000):
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                for statement in _SCHEMA:
                    conn.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.05, 0.001 * 2**attempt))

    async def _run(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        if self._closed:
            msg = "this SQLiteStore is closed"
            raise ConfigurationError(msg)
        loop = asyncio.get_running_loop()
        # If the awaiting task is cancelled, the transaction still finishes on the thread: a
        # transition is either committed whole or not at all.
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(self._connect()))
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc

    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        # Group commit: transitions requested while a transaction is being committed wait for the
        # next one, so many payouts in flight share one transaction and one fsync, and each caller
        # still returns only once its own transition is committed (before its payout is sent).
        check_out_trade_no(out_trade_no)
        if self._closed:
            msg = "this SQLiteStore is closed"
            raise ConfigurationError(msg)
        return await self._batches.submit(out_trade_no, update)

    async def _commit_batch(self, batch: Batch) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._commit, batch)

    def _commit(self, batch: Batch) -> list[Outcome]:
        """One ``BEGIN IMMEDIATE`` transaction for ``batch`` (on the store's thread). An update
        that raises (an unreadable record) fails alone; a database error fails the whole batch,
        and nothing of it is committed."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list[Outcome] = []
        try:
            for out_trade_no, update in batch:
                try:
                    row = conn.execute(_SELECT, (out_trade_no,)).fetchone()
                    old = PayoutRecord.from_json(row[0]) if row else None
                    new, value = update(old)
                except (StoreError, ValueError, TypeError) as exc:
                    outcomes.append((False, exc))
                    continue
                if new is not None and new != old:
                    conn.execute(_UPSERT, (out_trade_no, new.state.value, new.to_json()))
                outcomes.append((True, value))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcomes

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""

        def read(conn: sqlite3.Connection) -> PayoutRecord | None:
            row = conn.execute(_SELECT, (out_trade_no,)).fetchone()
            return PayoutRecord.from_json(row[0]) if row else None

        return await self._run(read)

    async def scan_open(self) -> OpenRecords:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record, and the numbers of open rows
        that cannot be read (skipped, never guessed at)."""
        states = sorted(state.value for state in OPEN_STATES)

        def read(conn: sqlite3.Connection) -> OpenRecords:
            return scan_rows(conn.execute(_SELECT_OPEN, states).fetchall())

        return await self._run(read)

    async def records_between(self, start: float = -math.inf, end: float = math.inf) -> OpenRecords:
        """Every readable record created in ``[start, end)`` (epoch seconds), whatever its state,
        and the numbers of rows that cannot be read. Reads the whole table (``created_at`` lives in
        the record, not in a column): meant for daily jobs."""

        def read(conn: sqlite3.Connection) -> OpenRecords:
            rows = conn.execute(_SELECT_ALL)
            return scan_rows(rows, lambda record: start <= record.created_at < end)

        return await self._run(read)

    async def aclose(self) -> None:
        """Close the database and its thread. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Transitions already requested are committed first: they were promised.
        await self._batches.drain()

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await loop.run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self._path)!r})"


def _store_error(exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    error = StoreError(f"SQLite journal failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error

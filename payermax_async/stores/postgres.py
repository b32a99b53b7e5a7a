"""``PostgresStore``: the journal in PostgreSQL, and an outbox for payouts reserved in your transaction.

``asyncpg`` is an optional dependency (``pip install 'payermax-async[postgres]'``); it is imported only
when a store first connects, so the package works without it. The schema is created only by
:meth:`PostgresStore.migrate` (or ``payermax journal migrate``), never implicitly.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigurationError, PayerMaxError, StoreError
from ..models.payouts import PayoutRequest
from ..protocol.rules import check_out_trade_no
from . import _pg_batch
from . import _pg_outbox as outbox
from . import _pg_schema as schema_sql
from ._batch import Batch, GroupCommit, Outcome
from ._journal import Clock, JournalStore, T, Update
from ._pg_outbox import Reserved
from .base import OPEN_STATES, OpenRecords, PayoutRecord, scan_rows

if TYPE_CHECKING:
    from asyncpg import Pool, Record

    from ._pg_schema import PgConnection

__all__ = ["PostgresStore", "Reserved"]

R = TypeVar("R")
#: A batch that deadlocks with another process's batch is tried again this many times at most.
_MAX_DEADLOCK_ROUNDS = 5


class PostgresStore(JournalStore):
    """A journal in PostgreSQL, shared by every process and host; transitions are group-committed.

    Transitions requested while a transaction is being committed share the next one (group
    commit): it locks their rows with ``SELECT ... FOR UPDATE`` (new ones are written with
    ``INSERT ... ON CONFLICT DO NOTHING``, re-read if another process inserted them first), applies
    the shared journal rule to each in the order requested and writes them back in the same
    transaction, so two processes can never both own one ``outTradeNo`` and a transition that
    returned is committed. A record that cannot be read fails its own transition only; a database
    error fails every transition of the transaction with ``StoreError``. Records are JSON text
    (:meth:`PayoutRecord.to_json`) beside indexed ``state`` and ``updated_at`` columns; they hold no
    payee data.

    The tables live in their own schema and are created by :meth:`migrate` only; a store on a schema
    that was never migrated raises :class:`~payermax_async.ConfigurationError` saying so.

    :meth:`reserve` is the outbox: it records a payout inside your own transaction, and
    ``client.payouts.send_reserved()`` sends it once that transaction has committed. The outbox
    table holds the reserved payouts' wire data, **payee data included**, in your own database until
    they are sent; nothing of it is ever logged or put in an error message.

    Use a DSN for remote databases with ``sslmode=verify-full`` so the server's certificate is
    checked.

    Args:
        dsn_or_pool: a ``postgresql://`` DSN (the store opens, owns and closes a pool on it), or an
            ``asyncpg.Pool`` to borrow (never closed by the store).
        schema: the schema holding the tables (a lower-case identifier).
        clock: seconds since the epoch (tests inject their own).
        max_connections: the size of an owned pool.

    Raises:
        ConfigurationError: ``asyncpg`` is missing, the DSN is not a PostgreSQL URL, or the schema
            name is not a lower-case identifier.
    """

    def __init__(
        self,
        dsn_or_pool: str | Pool[Record],
        *,
        schema: str = "payermax",
        clock: Clock | None = None,
        max_connections: int = 10,
    ) -> None:
        super().__init__(clock=clock)
        try:
            import asyncpg  # optional dependency: imported on use
        except ImportError:
            msg = "PostgresStore needs the asyncpg package: pip install 'payermax-async[postgres]'"
            raise ConfigurationError(msg) from None
        self._schema = schema_sql.check_schema_name(schema)
        self._pool: Pool[Record] | None = None
        self._dsn: str | None = None
        if isinstance(dsn_or_pool, str):
            if not dsn_or_pool.startswith(("postgresql://", "postgres://")):
                msg = "PostgresStore: the DSN must start with postgresql:// or postgres://"
                raise ConfigurationError(msg)
            self._dsn = dsn_or_pool
        elif isinstance(dsn_or_pool, asyncpg.Pool):
            self._pool = dsn_or_pool
        else:
            msg = f"PostgresStore needs a DSN or an asyncpg.Pool, not {type(dsn_or_pool).__name__}"
            raise ConfigurationError(msg)
        self._owns_pool = self._dsn is not None
        self._max_connections = max_connections
        self._opening = asyncio.Lock()
        self._migrated = False
        self._closed = False
        self._closing = False  # refuses new transitions while the requested ones finish
        # What an outage or a database refusal raises; turned into StoreError (PayerMaxError).
        self._errors: tuple[type[BaseException], ...] = (
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            OSError,
            asyncio.TimeoutError,
        )
        self._undefined = (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError)
        self._deadlock = asyncpg.DeadlockDetectedError
        self._batches = GroupCommit(self._commit, _batch_failure)
        self._parsed = _pg_batch.Parsed()
        t = f'"{self._schema}".journal'
        self._sql_get = f"SELECT record FROM {t} WHERE out_trade_no = $1"  # noqa: S608
        self._sql_lock = self._sql_get + " FOR UPDATE"
        self._sql_insert = (
            f"INSERT INTO {t} (out_trade_no, state, updated_at, record) VALUES ($1, $2, $3, $4) "  # noqa: S608
            "ON CONFLICT (out_trade_no) DO NOTHING"
        )
        self._sql_update = (
            f"UPDATE {t} SET state = $2, updated_at = $3, record = $4 WHERE out_trade_no = $1"  # noqa: S608
        )
        self._sql_batch = _pg_batch.statements(t)
        self._sql_all = f"SELECT out_trade_no, record FROM {t} ORDER BY out_trade_no"  # noqa: S608
        self._sql_open = (
            f"SELECT out_trade_no, record FROM {t} WHERE state = ANY($1::text[]) "  # noqa: S608
            "ORDER BY updated_at, out_trade_no"
        )

    @property
    def schema(self) -> str:
        """The schema holding the journal's tables."""
        return self._schema

    # ------------------------------------------------------------------------------ connections

    async def _get_pool(self) -> Pool[Record]:
        if self._closed:
            msg = "this PostgresStore is closed"
            raise ConfigurationError(msg)
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=self._max_connections
                    )
        return self._pool

    async def _run(
        self, work: Callable[[PgConnection], Awaitable[R]], *, migrated: bool = True
    ) -> R:
        """Run ``work`` on a pooled connection; database failures become ``StoreError``."""
        try:
            pool = await self._get_pool()
            async with pool.acquire() as conn:
                if migrated:
                    await self._check_migrated(conn)
                return await work(conn)
        except self._undefined as exc:
            # The schema was dropped (or never migrated) under a store that had checked it.
            self._migrated = False
            raise self._not_set_up() from exc
        except self._errors as exc:
            raise _store_error(exc) from exc

    def _not_set_up(self) -> ConfigurationError:
        return ConfigurationError(schema_sql.schema_problem(None, self._schema))

    async def _check_migrated(self, conn: PgConnection) -> None:
        if not self._migrated:
            schema_sql.require_current(
                await schema_sql.applied_version(conn, self._schema), self._schema
            )
            self._migrated = True

    async def migrate(self) -> list[int]:
        """Create or upgrade this store's schema; return the migration versions applied (``[]`` when
        it was up to date). Idempotent and safe to run from several processes at once.

        Raises:
            StoreError: the database refused or could not be reached.
            ConfigurationError: the schema was migrated by a newer release.
        """
        applied = await self._run(
            lambda conn: schema_sql.migrate(conn, self._schema), migrated=False
        )
        self._migrated = True
        return applied

    # ------------------------------------------------------------------------------ the journal

    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        # Group commit: transitions requested while a transaction is being committed wait for the
        # next one, so many payouts in flight share one transaction (and one WAL flush), and each
        # caller still returns only once its own transition is committed.
        check_out_trade_no(out_trade_no)
        if self._closing:
            msg = "this PostgresStore is closed"
            raise ConfigurationError(msg)
        return await self._batches.submit(out_trade_no, update)

    async def _commit(self, batch: Batch) -> list[Outcome]:
        """One transaction for ``batch``. A transition that raises (an unreadable record) fails
        alone; a database error fails the whole batch, and nothing of it is committed. A deadlock
        with another process's batch (both rolled back by PostgreSQL) is tried again."""

        async def transaction(conn: PgConnection) -> list[Outcome]:
            for attempt in range(_MAX_DEADLOCK_ROUNDS):
                try:
                    async with conn.transaction():
                        return await _pg_batch.apply(conn, self._sql_batch, batch, self._parsed)
                except self._deadlock:
                    if attempt == _MAX_DEADLOCK_ROUNDS - 1:
                        raise
            raise AssertionError  # pragma: no cover (the loop returns or raises)

        return await self._run(transaction)

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""

        async def read(conn: PgConnection) -> PayoutRecord | None:
            text = await conn.fetchval(self._sql_get, out_trade_no)
            return PayoutRecord.from_json(text) if text is not None else None

        return await self._run(read)

    async def scan_open(self) -> OpenRecords:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record, and the numbers of open rows
        that cannot be read (skipped, never guessed at)."""
        states = sorted(state.value for state in OPEN_STATES)

        async def read(conn: PgConnection) -> OpenRecords:
            return scan_rows(await conn.fetch(self._sql_open, states))

        return await self._run(read)

    async def records_between(self, start: float = -math.inf, end: float = math.inf) -> OpenRecords:
        """Every readable record created in ``[start, end)`` (epoch seconds), whatever its state,
        and the numbers of rows that cannot be read. Reads the whole table (``created_at`` lives in
        the record): meant for daily jobs."""

        async def read(conn: PgConnection) -> OpenRecords:
            rows = await conn.fetch(self._sql_all)
            return scan_rows(rows, lambda record: start <= record.created_at < end)

        return await self._run(read)

    async def aclose(self) -> None:
        """Close an owned pool (a borrowed one stays open). Safe to call more than once."""
        if self._closing:
            return
        self._closing = True
        # Transitions already requested are committed first: they were promised.
        await self._batches.drain()
        self._closed = True
        if self._owns_pool and self._pool is not None:
            await self._pool.close()

    # ------------------------------------------------------------------------------ the outbox

    async def reserve(
        self, connection: PgConnection, request: PayoutRequest | Mapping[str, object]
    ) -> PayoutRecord:
        """Record a payout inside your own transaction on ``connection``, to be sent once it commits.

        The request (a :class:`~payermax_async.PayoutRequest` or a wire mapping) is validated and
        fingerprinted as ``create()`` would, journalled as re-sendable (``CLAIMED``, no owner: nothing
        was sent), and its wire data kept in the outbox table. Nothing is sent: after your
        transaction commits, ``client.payouts.send_reserved()`` (or ``relay_reserved()``) pays it
        exactly once. If your transaction rolls back, nothing of it exists. Reserving the same
        request again is a no-op.

        Run it as ``async with connection.transaction(): ... await store.reserve(connection, req)``;
        it works in a savepoint of its own, so an error leaves your transaction usable.

        Returns:
            The journal record of the payout (a new one, or the one already recorded).

        Raises:
            ValidationError: the request is malformed (before anything is written).
            IdempotencyConflictError: the number is recorded for a payout with other data.
            ConfigurationError: the schema was not migrated.
            StoreError: the database refused the writes.
        """
        text, intent = outbox.prepare(request)
        try:
            # Checked on the caller's connection: that is the database the rows go to.
            await self._check_migrated(connection)
            async with connection.transaction():
                return await outbox.reserve(
                    connection, self._schema, intent, text, self.now(), self._sql_lock
                )
        except self._undefined as exc:
            self._migrated = False
            raise self._not_set_up() from exc
        except self._errors as exc:
            raise _store_error(exc) from exc

    async def claim_reserved(
        self, owner: str, *, limit: int, lease_seconds: float
    ) -> list[Reserved]:
        """Take up to ``limit`` reserved payouts that are not sent yet and that no live relay holds,
        for ``lease_seconds`` (``FOR UPDATE SKIP LOCKED``: concurrent relays never take the same row).
        Used by ``client.payouts.send_reserved()``."""
        now = self.now()

        async def take(conn: PgConnection) -> list[Reserved]:
            return await outbox.claim(conn, self._schema, owner, limit, now, now + lease_seconds)

        return await self._run(take)

    async def finish_reserved(
        self, out_trade_no: str, *, owner: str, outcome: str, done: bool, retry_at: float | None
    ) -> None:
        """Record what the relay ``owner`` did with a reserved payout: ``done`` (never taken again)
        or not yet (taken again after ``retry_at``). A relay whose lease was lost changes nothing."""
        now = self.now()

        async def finish(conn: PgConnection) -> None:
            await outbox.finish(
                conn, self._schema, out_trade_no, owner, outcome, done, now, retry_at
            )

        await self._run(finish)

    async def reserved(self, out_trade_nos: Sequence[str] | None = None) -> list[Reserved]:
        """The outbox rows (all, or those of ``out_trade_nos``), oldest first, data included."""

        async def read(conn: PgConnection) -> list[Reserved]:
            return await outbox.rows(conn, self._schema, out_trade_nos)

        return await self._run(read)

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self._schema!r})"


def _batch_failure(exc: BaseException) -> BaseException:
    # _run already turned database failures into StoreError (or ConfigurationError).
    if isinstance(exc, PayerMaxError):
        return exc
    return StoreError(f"PostgreSQL journal failed: {type(exc).__name__}")


def _store_error(exc: BaseException) -> StoreError:
    # The class and SQLSTATE only: a database message may quote the values of a row.
    state = getattr(exc, "sqlstate", None)
    detail = f" (SQLSTATE {state})" if state else ""
    if isinstance(exc, OSError):
        detail = f": {exc}"
    return StoreError(f"PostgreSQL journal failed: {type(exc).__name__}{detail}")

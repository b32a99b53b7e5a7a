"""The PostgreSQL journal's schema: versioned migrations, applied only by an explicit ``migrate()``.

A schema holds three tables: ``schema_version`` (one row per applied migration), ``journal`` (one
row per ``outTradeNo``: the record as JSON text plus the indexed ``state`` and ``updated_at``) and
``outbox`` (the wire ``data`` of payouts reserved inside a merchant's transaction, until a relay has
sent them). Nothing here runs at import or on first use: a store on a schema that was never migrated
refuses to work and says how to migrate it.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from asyncpg import Connection, Record
    from asyncpg.pool import PoolConnectionProxy

    PgConnection = Connection[Record] | PoolConnectionProxy[Record]

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "applied_version",
    "check_schema_name",
    "migrate",
    "require_current",
    "schema_problem",
]

#: Each migration: ``(version, description, statements)``; ``{s}`` is the quoted schema name.
#: Released migrations never change: a new version appends one.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "journal and outbox",
        (
            "CREATE TABLE {s}.journal ("
            " out_trade_no text PRIMARY KEY,"
            " state text NOT NULL,"
            " updated_at double precision NOT NULL,"
            # Text, not jsonb: the record is read back byte for byte, and a corrupted row must
            # stay storable so that scan_open() can report it instead of failing.
            " record text NOT NULL)",
            "CREATE INDEX journal_state_updated ON {s}.journal (state, updated_at)",
            "CREATE TABLE {s}.outbox ("
            " out_trade_no text PRIMARY KEY REFERENCES {s}.journal (out_trade_no),"
            # The payout's wire data, payee included: the relay sends it from here.
            " data text NOT NULL,"
            " created_at double precision NOT NULL,"
            " relay_owner text,"
            " relay_until double precision,"
            " relay_attempts integer NOT NULL DEFAULT 0,"
            " done_at double precision,"
            " outcome text)",
            "CREATE INDEX outbox_pending ON {s}.outbox (created_at) WHERE done_at IS NULL",
        ),
    ),
)
LATEST_VERSION = MIGRATIONS[-1][0]

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(schema: object) -> str:
    """A schema name safe to put in SQL unquoted-equivalent form (lower-case identifier).

    Raises:
        ConfigurationError: not a lower-case identifier of at most 63 characters.
    """
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        msg = "PostgresStore: schema must be a lower-case identifier (letters, digits, _; max 63)"
        raise ConfigurationError(msg)
    return schema


def _lock_key(schema: str) -> int:
    """A stable 64-bit advisory lock key per schema, so migrations of one schema never overlap."""
    digest = hashlib.sha256(f"payermax_async.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def applied_version(conn: PgConnection, schema: str) -> int | None:
    """The schema's migration version, or ``None`` if it was never migrated.

    ``to_regclass`` answers ``NULL`` for a missing table instead of raising, so this never aborts a
    transaction it runs in (``reserve`` runs inside the merchant's).
    """
    table = f'"{schema}".schema_version'
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table) is not True:
        return None
    version = await conn.fetchval(f"SELECT max(version) FROM {table}")  # noqa: S608 (checked name)
    return int(version) if version is not None else None


def schema_problem(version: int | None, schema: str) -> str | None:
    """What is wrong with a schema at ``version`` for this release, and how to fix it; ``None`` if
    nothing is."""
    if version == LATEST_VERSION:
        return None
    if version is None:
        return (
            f"the PostgreSQL journal schema {schema!r} is not set up: run "
            "`await store.migrate()` or `payermax journal migrate --journal URL` first"
        )
    if version < LATEST_VERSION:
        return (
            f"the PostgreSQL journal schema {schema!r} is at version {version}, this release needs "
            f"{LATEST_VERSION}: run `await store.migrate()` or `payermax journal migrate`"
        )
    return (
        f"the PostgreSQL journal schema {schema!r} is at version {version}, newer than this "
        f"release knows ({LATEST_VERSION}): upgrade payermax-async"
    )


def require_current(version: int | None, schema: str) -> None:
    """Refuse a schema that was never migrated, or migrated by an older or newer release.

    Raises:
        ConfigurationError: what is wrong, and how to fix it.
    """
    problem = schema_problem(version, schema)
    if problem is not None:
        raise ConfigurationError(problem)


async def migrate(conn: PgConnection, schema: str) -> list[int]:
    """Apply every migration the schema lacks, in one transaction; return the versions applied.

    Idempotent, and safe to run from several processes at once: a transaction-scoped advisory lock
    serialises them, so the second finds the work done.
    """
    quoted = f'"{schema}"'
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quoted}.schema_version ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = await applied_version(conn, schema) or 0
        if current > LATEST_VERSION:
            require_current(current, schema)
        applied: list[int] = []
        for version, description, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                await conn.execute(statement.format(s=quoted))
            await conn.execute(
                f"INSERT INTO {quoted}.schema_version (version, description) VALUES ($1, $2)",  # noqa: S608
                version,
                description,
            )
            applied.append(version)
        return applied

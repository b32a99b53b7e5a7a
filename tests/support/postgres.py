"""A real PostgreSQL for the tests: where it is, skip (or fail under PAYERMAX_REQUIRE_POSTGRES=1), a
schema of its own per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from payermax_async import PostgresStore
from payermax_async.stores._journal import Clock

POSTGRES_URL = os.environ.get(
    "PAYERMAX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def postgres_or_skip() -> None:
    """Skip when no PostgreSQL answers, unless PAYERMAX_REQUIRE_POSTGRES=1 (then fail)."""
    try:
        import asyncpg
    except ImportError:
        if os.environ.get("PAYERMAX_REQUIRE_POSTGRES") == "1":
            pytest.fail("PAYERMAX_REQUIRE_POSTGRES=1 but asyncpg is not installed")
        pytest.skip("asyncpg is not installed")
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=2)
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PAYERMAX_REQUIRE_POSTGRES=1 but PostgreSQL at {POSTGRES_URL} does not answer: {exc}"
            )
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    await conn.close()


def new_schema() -> str:
    """A schema name no other test uses."""
    return f"payermax_test_{uuid.uuid4().hex[:16]}"


async def drop_schema(schema: str) -> None:
    """Drop a test's schema and everything in it."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def postgres_store(
    *, clock: Clock | None = None, schema: str | None = None, migrate: bool = True
) -> AsyncIterator[PostgresStore]:
    """A migrated PostgresStore on a fresh schema; closed and its schema dropped afterwards."""
    await postgres_or_skip()
    name = schema or new_schema()
    store = PostgresStore(POSTGRES_URL, schema=name, clock=clock)
    try:
        if migrate:
            await store.migrate()
        yield store
    finally:
        await store.aclose()
        await drop_schema(name)

"""PostgresStore specifics: the explicit versioned migration, atomic claims across pools, borrowed
and owned pools, unreadable rows, and clear errors for what is not set up."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg
import pytest

from payermax_async import ConfigurationError, PostgresStore
from payermax_async.errors import StoreError
from payermax_async.stores import ClaimOutcome, RecordState
from payermax_async.stores._pg_schema import LATEST_VERSION
from tests.support.payloads import payout
from tests.support.postgres import (
    POSTGRES_URL,
    drop_schema,
    new_schema,
    postgres_or_skip,
    postgres_store,
)

KEY = "DURABLE_0001"


async def _claim(store: PostgresStore, owner: str) -> ClaimOutcome:
    claim = await store.claim(
        KEY, "f" * 64, owner=owner, lease_seconds=60, amount="5", currency="USD"
    )
    return claim.outcome


async def _versions(schema: str) -> list[int]:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        query = f'SELECT version FROM "{schema}".schema_version ORDER BY version'  # noqa: S608
        rows = await conn.fetch(query)
    finally:
        await conn.close()
    return [int(row["version"]) for row in rows]


async def test_an_unmigrated_schema_is_refused_with_how_to_migrate() -> None:
    """A store on a schema nobody migrated creates nothing and raises ConfigurationError naming
    migrate() and the CLI command; after migrate() the same store works."""
    async with postgres_store(migrate=False) as store:
        with pytest.raises(ConfigurationError, match=r"migrate\(\).*payermax journal migrate"):
            await store.get(KEY)
        with pytest.raises(ConfigurationError, match="not set up"):
            await _claim(store, "A")
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            exists = await conn.fetchval(
                "SELECT count(*) FROM pg_namespace WHERE nspname = $1", store.schema
            )
        finally:
            await conn.close()
        assert exists == 0  # first use created nothing
        assert await store.migrate() == [LATEST_VERSION]
        assert await _claim(store, "A") is ClaimOutcome.SEND


async def test_reserve_on_an_unmigrated_schema_says_how_to_migrate_and_spares_the_transaction() -> (
    None
):
    """reserve() into a schema nobody migrated raises ConfigurationError; the caller's transaction
    is not aborted by it and commits its own work."""
    async with postgres_store(migrate=False) as store:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            async with conn.transaction():
                with pytest.raises(ConfigurationError, match="not set up"):
                    await store.reserve(conn, payout("unmigrated_1"))
                assert await conn.fetchval("SELECT 41 + 1") == 42
        finally:
            await conn.close()


async def test_migrate_is_idempotent_and_safe_to_run_concurrently() -> None:
    """Eight stores migrating one schema at once apply each migration exactly once; running it
    again applies nothing."""
    await postgres_or_skip()
    schema = new_schema()
    stores = [PostgresStore(POSTGRES_URL, schema=schema) for _ in range(8)]
    try:
        applied = await asyncio.gather(*(s.migrate() for s in stores))
        assert sorted(applied) == [[]] * 7 + [[LATEST_VERSION]]
        assert await stores[0].migrate() == []
        assert await _versions(schema) == list(range(1, LATEST_VERSION + 1))
    finally:
        for store in stores:
            await store.aclose()
        await drop_schema(schema)


async def test_a_schema_from_a_newer_release_is_refused() -> None:
    """A schema_version beyond what this release knows is a ConfigurationError, for use and for
    migrate()."""
    async with postgres_store() as store:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(
                f'INSERT INTO "{store.schema}".schema_version (version, description) '  # noqa: S608
                "VALUES ($1, 'future')",
                LATEST_VERSION + 1,
            )
        finally:
            await conn.close()
        fresh = PostgresStore(POSTGRES_URL, schema=store.schema)
        try:
            with pytest.raises(ConfigurationError, match="upgrade payermax-async"):
                await fresh.get(KEY)
            with pytest.raises(ConfigurationError, match="upgrade payermax-async"):
                await fresh.migrate()
        finally:
            await fresh.aclose()


async def test_claims_are_atomic_across_pools() -> None:
    """Eight stores with their own pools on one schema: exactly one claim wins, all see its owner."""
    async with postgres_store() as first:
        stores = [PostgresStore(POSTGRES_URL, schema=first.schema) for _ in range(8)]
        try:
            outcomes = await asyncio.gather(*(_claim(s, f"O{i}") for i, s in enumerate(stores)))
            assert outcomes.count(ClaimOutcome.SEND) == 1
            record = await first.get(KEY)
            assert record is not None
            assert record.owner == f"O{outcomes.index(ClaimOutcome.SEND)}"
        finally:
            for store in stores:
                await store.aclose()


async def test_a_committed_transition_survives_a_new_store() -> None:
    """A transition that returned is committed: another store on the schema sees it at once."""
    async with postgres_store() as first:
        await _claim(first, "A")
        await first.mark_sent(KEY, owner="A")
        second = PostgresStore(POSTGRES_URL, schema=first.schema)
        try:
            record = await second.get(KEY)
            assert record is not None
            assert (record.state, record.attempts) == (RecordState.SENT, 1)
            assert [r.out_trade_no for r in await second.open_records()] == [KEY]
        finally:
            await second.aclose()


async def test_an_unreadable_row_is_reported_not_fatal() -> None:
    """scan_open() names a corrupted open row and still returns the readable ones."""
    async with postgres_store() as store:
        await _claim(store, "A")
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(
                f'INSERT INTO "{store.schema}".journal (out_trade_no, state, updated_at, record) '  # noqa: S608
                "VALUES ('bad_1', 'IN_DOUBT', 0, '{not json')"
            )
        finally:
            await conn.close()
        scan = await store.scan_open()
        assert [r.out_trade_no for r in scan.records] == [KEY]
        assert scan.unreadable == ["bad_1"]
        with pytest.raises(StoreError):
            await store.get("bad_1")


async def test_a_borrowed_pool_stays_open_and_an_owned_one_closes() -> None:
    """A pool passed in is never closed by the store; the store's own pool is, and a closed store
    refuses work (closing twice is fine)."""
    async with postgres_store() as owned:
        pool = await asyncpg.create_pool(POSTGRES_URL, min_size=1, max_size=2)
        try:
            borrowed = PostgresStore(pool, schema=owned.schema)
            await _claim(borrowed, "A")
            await borrowed.aclose()
            assert await pool.fetchval("SELECT 1") == 1
        finally:
            await pool.close()
        await owned.get(KEY)
        own_pool = owned._pool  # the test looks at the store's own pool
        await owned.aclose()
        await owned.aclose()
        assert own_pool is not None
        assert own_pool.is_closing()
        with pytest.raises(ConfigurationError, match="closed"):
            await owned.get(KEY)


async def test_an_unreachable_database_is_a_store_error() -> None:
    """Nothing listening is a StoreError (a PayerMaxError), never an asyncpg or OS error."""
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StoreError, match="PostgreSQL journal failed"):
            await store.get(KEY)
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("argument", "schema", "match"),
    [
        ("mysql://x", "payermax", "postgresql://"),
        (42, "payermax", "DSN or an asyncpg.Pool"),
        (POSTGRES_URL, 'x"; DROP TABLE y; --', "lower-case identifier"),
        (POSTGRES_URL, "Upper", "lower-case identifier"),
    ],
)
def test_bad_arguments_are_configuration_errors(argument: object, schema: str, match: str) -> None:
    """A foreign URL, a non-DSN or an unsafe schema name is refused at construction."""
    with pytest.raises(ConfigurationError, match=match):
        PostgresStore(argument, schema=schema)  # type: ignore[arg-type]


def test_without_asyncpg_the_package_imports_and_the_store_says_which_extra() -> None:
    """With asyncpg unavailable, `import payermax_async` works and PostgresStore(...) raises a
    ConfigurationError naming the postgres extra."""
    code = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "import payermax_async\n"
        "try:\n"
        "    payermax_async.PostgresStore('postgresql://x')\n"
        "except payermax_async.ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "payermax-async[postgres]" in done.stdout

"""``open_store(url)``: every journal by URL, the same journal the application writes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from payermax_async import ConfigurationError, PostgresStore, RedisStore, SQLiteStore
from payermax_async.stores import ClaimOutcome
from payermax_async.stores.urls import open_store
from tests.support.postgres import POSTGRES_URL, postgres_store
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)

FP = "f" * 64


async def test_sqlite_urls_take_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite:///name is relative to the working directory, sqlite:////path absolute."""
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    try:
        assert isinstance(relative, SQLiteStore)
        assert isinstance(absolute, SQLiteStore)
        assert relative.path == Path("rel.db")
        assert absolute.path == tmp_path / "abs.db"
    finally:
        await relative.aclose()
        await absolute.aclose()


def test_a_missing_sqlite_journal_is_an_error_when_it_must_exist(tmp_path: Path) -> None:
    """create=False (the operators' commands): a mistyped path is an error, not an empty journal."""
    with pytest.raises(ConfigurationError, match="no journal"):
        open_store(f"sqlite:///{tmp_path / 'typo.db'}", create=False)
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize("url", ["postgresql-ish://u:s3cr3t@h/db", "journal.db", "sqlite:"])
def test_unusable_urls_are_configuration_errors_without_secrets(url: str) -> None:
    """An unknown scheme or a malformed URL is a ConfigurationError that never repeats a password."""
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert "s3cr3t" not in str(caught.value)


async def test_a_redis_url_with_a_prefix_opens_the_applications_journal() -> None:
    """?prefix= selects the application's key prefix: the store sees what the application wrote."""
    await redis_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    app = RedisStore(REDIS_URL, prefix=prefix)
    opened = open_store(f"{REDIS_URL}?prefix={prefix}")
    try:
        await app.claim("URL_0001", FP, owner="A", lease_seconds=60, amount="1", currency="USD")
        assert isinstance(opened, RedisStore)
        assert not opened.cluster
        record = await opened.get("URL_0001")
        assert record is not None
        assert record.owner == "A"
    finally:
        await app.aclose()
        await opened.aclose()
        await redis_cleanup(prefix)


async def test_a_cluster_url_opens_a_cluster_store() -> None:
    """redis+cluster:// opens a RedisStore on the cluster, which claims atomically."""
    await redis_cluster_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store = open_store(f"{REDIS_CLUSTER_URL}?prefix={prefix}")
    try:
        assert isinstance(store, RedisStore)
        assert store.cluster
        claim = await store.claim(
            "URL_0002", FP, owner="A", lease_seconds=60, amount="1", currency="USD"
        )
        assert claim.outcome is ClaimOutcome.SEND
    finally:
        await store.aclose()
        await redis_cluster_cleanup(prefix)


async def test_postgres_urls_take_the_schema_from_the_query() -> None:
    """postgresql:// opens a PostgresStore on ?schema= (removed before connecting), which works."""
    async with postgres_store() as migrated:
        for scheme in ("postgresql://", "postgres://"):
            url = POSTGRES_URL.replace("postgresql://", scheme, 1) + f"?schema={migrated.schema}"
            store = open_store(url)
            try:
                assert isinstance(store, PostgresStore)
                assert store.schema == migrated.schema
                assert await store.get("NOPE_0001") is None
            finally:
                await store.aclose()
    default = open_store("postgresql://u@127.0.0.1/db")
    assert isinstance(default, PostgresStore)
    assert default.schema == "payermax"

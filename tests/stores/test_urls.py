"""open_store(url): one journal per URL scheme, options taken from the query, nothing leaked."""

from __future__ import annotations

from pathlib import Path

import pytest

from payermax_async import ConfigurationError, PostgresStore, RedisStore, SQLiteStore
from payermax_async.stores.urls import open_store
from tests.support.postgres import POSTGRES_URL, postgres_store
from tests.support.redis import REDIS_URL


async def test_sqlite_urls_name_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite:///name is relative to the working directory, sqlite:////abs is absolute."""
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///journal.db")
    absolute = open_store(f"sqlite:///{tmp_path}/other.db")
    try:
        assert isinstance(relative, SQLiteStore)
        assert relative.path == Path("journal.db")
        assert isinstance(absolute, SQLiteStore)
        assert absolute.path == tmp_path / "other.db"
    finally:
        await relative.aclose()
        await absolute.aclose()


async def test_redis_urls_take_the_prefix_from_the_query() -> None:
    """redis:// and rediss:// open a RedisStore; ?prefix= sets its key prefix."""
    store = open_store(f"{REDIS_URL}?prefix=ops:")
    default = open_store("rediss://127.0.0.1:6390/0")
    try:
        assert isinstance(store, RedisStore)
        assert repr(store) == "RedisStore(prefix='ops:')"
        assert repr(default) == "RedisStore(prefix='payermax:')"
    finally:
        await store.aclose()
        await default.aclose()


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


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/x", "journal.db", "sqlite://", "sqlite:///?x=1"]
)
def test_unknown_or_malformed_urls_are_configuration_errors(url: str) -> None:
    """An unsupported scheme or a malformed URL is a ConfigurationError that never repeats it."""
    with pytest.raises(ConfigurationError) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)

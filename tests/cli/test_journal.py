"""``payermax journal migrate --journal URL``, run in-process with ``main([...])``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from payermax_async.cli import main
from tests.support.postgres import POSTGRES_URL, drop_schema, new_schema, postgres_or_skip
from tests.support.redis import REDIS_URL


async def _version(schema: str) -> int | None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        table = f'"{schema}".schema_version'
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
            return None
        return int(await conn.fetchval(f"SELECT max(version) FROM {table}"))  # noqa: S608
    finally:
        await conn.close()


async def test_migrate_creates_the_postgres_schema_then_says_it_is_up_to_date(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The first run applies the migrations, the second applies none; both exit 0."""
    await postgres_or_skip()
    schema = new_schema()
    url = f"{POSTGRES_URL}?schema={schema}"
    try:
        assert await _version(schema) is None
        # main() runs its own event loop: run it on a thread, as the shell would in a process.
        assert await _in_thread(["journal", "migrate", "--journal", url]) == 0
        assert "migrated to version 1" in capsys.readouterr().out
        assert await _version(schema) == 1
        assert await _in_thread(["journal", "migrate", "--journal", url]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        await drop_schema(schema)


async def _in_thread(argv: list[str]) -> int:
    return await asyncio.to_thread(main, argv)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_migrate_is_a_no_op_for_sqlite_and_redis(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite and Redis journals need no migration: the command says so and exits 0."""
    url = f"sqlite:///{tmp_path}/j.db" if kind == "sqlite" else REDIS_URL
    assert main(["journal", "migrate", "--journal", url]) == 0
    assert "needs no migration" in capsys.readouterr().out
    if kind == "sqlite":
        assert not (tmp_path / "j.db").exists()  # nothing was created


def test_a_bad_journal_url_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unsupported URL is one error line on stderr, exit 1, and the password is not echoed."""
    assert main(["journal", "migrate", "--journal", "mysql://root:hunter2@db/x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("payermax: error: unknown journal URL scheme")
    assert "hunter2" not in err
    assert len(err.strip().splitlines()) == 1

"""``payermax journal``: operate the payout journal named by ``--journal URL``.

``migrate`` creates or upgrades a PostgreSQL journal's schema (SQLite and Redis journals need none).
"""

from __future__ import annotations

import argparse
import asyncio

from ._common import Commands, out

__all__ = ["register"]

_JOURNAL_HELP = (
    "the journal: sqlite:///path, redis://host/0[?prefix=P], rediss://..., "
    "postgresql://user@host/db[?schema=S]"
)


def register(commands: Commands) -> None:
    """Add ``payermax journal``."""
    journal = commands.add_parser("journal", help="operate the payout journal")
    actions = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate", help="create or upgrade a PostgreSQL journal's schema (SQLite, Redis: no-op)"
    )
    migrate.add_argument("--journal", required=True, metavar="URL", help=_JOURNAL_HELP)
    migrate.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    return asyncio.run(_run_migrate(args.journal))


async def _run_migrate(url: str) -> int:
    from ..stores.postgres import PostgresStore
    from ..stores.urls import open_store

    store = open_store(url)
    try:
        if not isinstance(store, PostgresStore):
            out(f"{type(store).__name__} needs no migration: nothing to do")
            return 0
        applied = await store.migrate()
        if applied:
            versions = ", ".join(str(version) for version in applied)
            out(f"schema {store.schema!r} migrated to version {applied[-1]} (applied {versions})")
        else:
            out(f"schema {store.schema!r} is up to date")
        return 0
    finally:
        await store.aclose()

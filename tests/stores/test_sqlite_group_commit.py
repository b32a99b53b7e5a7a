"""SQLite group commit: concurrent transitions share transactions, and none is lost or mixed up."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from payermax_async import SQLiteStore
from payermax_async.errors import ConfigurationError, StoreError
from payermax_async.stores import ClaimOutcome, RecordState


async def _claim(store: SQLiteStore, number: str) -> ClaimOutcome:
    claim = await store.claim(
        number, "v2:f", owner=f"owner-{number}", lease_seconds=60, amount="1", currency="USD"
    )
    return claim.outcome


async def test_concurrent_transitions_all_commit_even_when_callers_are_cancelled(
    tmp_path: Path,
) -> None:
    """Fifty claims requested together, half of their callers cancelled at once: every claim is
    committed (a transition once requested lands whole), the others report SEND."""
    async with SQLiteStore(tmp_path / "j.db") as store:
        tasks = [asyncio.ensure_future(_claim(store, f"GC_{i:02d}")) for i in range(50)]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        records = [await store.get(f"GC_{i:02d}") for i in range(50)]
    assert all(isinstance(r, asyncio.CancelledError) for r in results[::2])
    assert results[1::2] == [ClaimOutcome.SEND] * 25
    assert all(r is not None and r.state is RecordState.CLAIMED for r in records)


async def test_an_unreadable_record_fails_alone_in_its_batch(tmp_path: Path) -> None:
    """A transition whose record cannot be read raises StoreError for its own caller only; the
    transitions batched with it commit."""
    path = tmp_path / "j.db"
    async with SQLiteStore(path) as store:
        await _claim(store, "GC_OK_0")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO payermax_journal (out_trade_no, state, record) VALUES (?, ?, ?)",
            ("GC_BAD", "IN_DOUBT", "{not json"),
        )
    async with SQLiteStore(path) as store:
        outcomes = await asyncio.gather(
            _claim(store, "GC_OK_1"),
            _claim(store, "GC_BAD"),
            _claim(store, "GC_OK_2"),
            return_exceptions=True,
        )
        kept = [await store.get(n) for n in ("GC_OK_1", "GC_OK_2")]
    assert outcomes[0] == outcomes[2] == ClaimOutcome.SEND
    assert isinstance(outcomes[1], StoreError)
    assert all(record is not None for record in kept)


async def test_a_closed_store_commits_what_was_requested_before_it_closed(tmp_path: Path) -> None:
    """aclose() waits for the transitions already requested, then refuses new ones."""
    store = SQLiteStore(tmp_path / "j.db")
    pending = [asyncio.ensure_future(_claim(store, f"GC_C_{i}")) for i in range(10)]
    await asyncio.sleep(0)
    await store.aclose()
    assert await asyncio.gather(*pending) == [ClaimOutcome.SEND] * 10
    with pytest.raises(ConfigurationError, match="closed"):
        await _claim(store, "GC_C_late")
    async with SQLiteStore(tmp_path / "j.db") as reopened:
        assert all([await reopened.get(f"GC_C_{i}") for i in range(10)])

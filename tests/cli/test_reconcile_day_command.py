"""``payermax reconcile day DATE --journal URL --out report.csv`` against the sandbox."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from payermax_async import PayoutStatus
from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import FakeClock
from tests.support.bulk import env_for
from tests.support.journal import JournalTarget, at, gateway_order, journal_record

NOON = at("2025-03-14 12:00:00")


@pytest.fixture
def gateway_env(gateway: SandboxGateway, monkeypatch: pytest.MonkeyPatch) -> SandboxGateway:
    """PAYERMAX_* variables pointing at the running sandbox."""
    for name, value in env_for(gateway).items():
        monkeypatch.setenv(name, value)
    return gateway


async def test_a_day_with_mismatches_writes_the_report_and_exits_3(
    gateway_env: SandboxGateway,
    journal_target: JournalTarget,
    clock: FakeClock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unknown order, a missing one and an amount mismatch: each a CSV row, exit 3; an order
    whose number would be a formula in a spreadsheet is written with a leading quote."""
    store = journal_target.store
    await journal_record(
        store, clock, "ok_1", RecordState.FINAL, when=NOON, status=PayoutStatus.SUCCESS
    )
    gateway_order(gateway_env, "ok_1", when=NOON)
    gateway_order(gateway_env, "unknown_1", when=NOON)
    await journal_record(store, clock, "missing_1", RecordState.SENT, when=NOON)
    await journal_record(store, clock, "amount_1", RecordState.SENT, when=NOON, amount="10")
    gateway_order(gateway_env, "amount_1", when=NOON, amount="11")
    gateway_order(gateway_env, "-1+2", when=NOON)  # not a valid number, but the gateway said so
    report = tmp_path / "report.csv"
    argv = ["reconcile", "day", "2025-03-14", "--journal", journal_target.url, "--out", str(report)]
    assert await asyncio.to_thread(main, argv) == 3
    printed = capsys.readouterr().out
    assert "ACTION NEEDED" in printed
    with report.open(encoding="utf-8", newline="") as handle:
        rows = {row["outTradeNo"]: row for row in csv.DictReader(handle)}
    assert {number: row["kind"] for number, row in rows.items()} == {
        "unknown_1": "UNKNOWN_ORDER",
        "missing_1": "MISSING_ORDER",
        "amount_1": "AMOUNT_MISMATCH",
        "'-1+2": "UNKNOWN_ORDER",
    }
    assert (rows["amount_1"]["journalAmount"], rows["amount_1"]["gatewayAmount"]) == ("10", "11")


async def test_a_clean_day_exits_0(
    gateway_env: SandboxGateway,
    journal_target: JournalTarget,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The journal behind on a status is advanced and reported, but needs no action: exit 0."""
    store = journal_target.store
    await journal_record(store, clock, "behind_1", RecordState.ACCEPTED, when=NOON)
    gateway_order(gateway_env, "behind_1", when=NOON, status=PayoutStatus.FAILED)
    argv = ["reconcile", "day", "2025-03-14", "--journal", journal_target.url, "--tz", "UTC"]
    assert await asyncio.to_thread(main, argv) == 0
    printed = capsys.readouterr().out
    assert "nothing needs action" in printed
    assert "JOURNAL_BEHIND" in printed
    record = await store.get("behind_1")
    assert record is not None
    assert record.status is PayoutStatus.FAILED


def test_a_bad_date_or_zone_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """DATE must be YYYY-MM-DD and --tz an IANA zone; either mistake is exit 2 in one line."""
    assert main(["reconcile", "day", "30/11/2026", "--journal", "sqlite:///x.db"]) == 2
    assert "not a date like 2026-11-30" in capsys.readouterr().err
    argv = ["reconcile", "day", "2026-11-30", "--journal", "sqlite:///x.db", "--tz", "Mars/Olympus"]
    assert main(argv) == 2
    assert "not a time zone" in capsys.readouterr().err

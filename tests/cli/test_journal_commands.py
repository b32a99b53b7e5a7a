"""``payermax journal list|show|export|reconcile`` on real SQLite, Redis and Redis Cluster journals."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from payermax_async import PayerMaxClient, PayoutStatus, SQLiteStore
from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import FakeClock
from tests.support.bulk import env_for
from tests.support.journal import JournalTarget, journal_record
from tests.support.payloads import payout

ACCOUNT, NAME, EMAIL = "4111222233334444", "Josephine Marchetti", "josephine.marchetti@example.org"


def _ago(seconds: float) -> datetime:
    return datetime.fromtimestamp(time.time() - seconds, tz=timezone.utc)


async def _seed(target: JournalTarget, clock: FakeClock) -> None:
    """Two payouts in doubt (one for an hour, one for a minute), one sent long ago, one paid."""
    store = target.store
    await journal_record(store, clock, "WD_OLD_DOUBT_0001", RecordState.IN_DOUBT, when=_ago(3600))
    await journal_record(store, clock, "WD_NEW_DOUBT_0002", RecordState.IN_DOUBT, when=_ago(60))
    await journal_record(store, clock, "WD_OLD_SENT_0003", RecordState.SENT, when=_ago(7200))
    paid = RecordState.FINAL
    await journal_record(
        store, clock, "WD_PAID_0004", paid, when=_ago(5000), status=PayoutStatus.SUCCESS
    )


def _run(*argv: str) -> int:
    return main(list(argv))


async def test_the_alert_lists_old_payouts_in_doubt_and_fails(
    journal_target: JournalTarget, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """list --state IN_DOUBT --older-than 15m --fail-if-any: the hour-old payout in doubt, whole,
    and exit 3; nothing else listed. Without a match the same command exits 0."""
    await _seed(journal_target, clock)
    url = journal_target.url
    alert = ["journal", "list", "--journal", url, "--state", "IN_DOUBT", "--older-than", "15m"]
    assert await asyncio.to_thread(_run, *alert, "--fail-if-any") == 3
    listed = capsys.readouterr().out
    assert "WD_OLD_DOUBT_0001" in listed
    assert "1 record(s)" in listed
    for other in ("WD_NEW_DOUBT_0002", "WD_OLD_SENT_0003", "WD_PAID_0004"):
        assert other not in listed
    quiet = ["journal", "list", "--journal", url, "--state", "IN_DOUBT", "--older-than", "2h"]
    assert await asyncio.to_thread(_run, *quiet, "--fail-if-any") == 0
    assert "0 record(s)" in capsys.readouterr().out


async def test_list_defaults_to_the_open_records_and_takes_any_state(
    journal_target: JournalTarget, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --state the open records (CLAIMED, SENT, IN_DOUBT) are listed; --state FINAL and
    --state all read the whole journal; --json carries the same records."""
    await _seed(journal_target, clock)
    url = journal_target.url
    assert await asyncio.to_thread(_run, "journal", "list", "--journal", url, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["outTradeNo"] for r in document["records"]] == [
        "WD_OLD_SENT_0003",
        "WD_OLD_DOUBT_0001",
        "WD_NEW_DOUBT_0002",
    ]
    assert document["unreadable"] == []
    final = ["journal", "list", "--journal", url, "--state", "FINAL", "--json"]
    assert await asyncio.to_thread(_run, *final) == 0
    assert [r["outTradeNo"] for r in json.loads(capsys.readouterr().out)["records"]] == [
        "WD_PAID_0004"
    ]
    assert await asyncio.to_thread(_run, "journal", "list", "--journal", url, "--state", "all") == 0
    assert "4 record(s)" in capsys.readouterr().out


async def test_show_prints_one_record_and_a_missing_one_is_an_error(
    journal_target: JournalTarget, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """show NUMBER prints its fields; an unknown number is one line on stderr and exit 1."""
    await _seed(journal_target, clock)
    url = journal_target.url
    show = ["journal", "show", "WD_OLD_DOUBT_0001", "--journal", url, "--json"]
    assert await asyncio.to_thread(_run, *show) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["outTradeNo"], view["state"], view["maybeSent"]) == (
        "WD_OLD_DOUBT_0001",
        "IN_DOUBT",
        True,
    )
    missing = ["journal", "show", "WD_NOPE_0009", "--journal", url]
    assert await asyncio.to_thread(_run, *missing) == 1
    err = capsys.readouterr().err.strip()
    assert err == "payermax: error: the journal holds no record of WD_NOPE_0009"


async def test_export_writes_every_record_as_csv_no_cell_a_formula(
    journal_target: JournalTarget, clock: FakeClock, tmp_path: Path
) -> None:
    """export --csv --out: one row per record; a cell starting with = + - @ gets a leading '."""
    await _seed(journal_target, clock)
    store = journal_target.store
    await store.claim(
        "WD_ODD_0005", "e" * 64, owner="x", lease_seconds=1, amount="-5", currency="=1+1"
    )
    target = tmp_path / "journal.csv"
    export = ["journal", "export", "--csv", "--journal", journal_target.url, "--out", str(target)]
    assert await asyncio.to_thread(_run, *export) == 0
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["outTradeNo"] for row in rows} == {
        "WD_OLD_DOUBT_0001",
        "WD_NEW_DOUBT_0002",
        "WD_OLD_SENT_0003",
        "WD_PAID_0004",
        "WD_ODD_0005",
    }
    odd = next(row for row in rows if row["outTradeNo"] == "WD_ODD_0005")
    assert (odd["amount"], odd["currency"]) == ("'-5", "'=1+1")


async def test_payee_data_never_reaches_the_operator(
    gateway: SandboxGateway,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A payout made through the client: list, show and export print its number, never the
    payee's account, name or email."""
    path = tmp_path / "journal.db"
    async with SQLiteStore(path) as store, PayerMaxClient(gateway.config(), store=store) as client:
        await client.payouts.create(payout("WD_PAYEE_0001"))
    url = f"sqlite:///{path}"
    monkeypatch.setenv("PAYERMAX_JOURNAL_URL", url)
    for argv in (
        ["journal", "list", "--state", "all", "--json"],
        ["journal", "show", "WD_PAYEE_0001"],
        ["journal", "export", "--csv"],
    ):
        assert await asyncio.to_thread(main, argv) == 0
        printed = capsys.readouterr()
        assert "WD_PAYEE_0001" in printed.out
        for secret in (ACCOUNT, ACCOUNT[-8:], NAME, EMAIL):
            assert secret not in printed.out + printed.err


async def test_reconcile_settles_what_it_can_and_exits_3_for_what_it_cannot(
    gateway: SandboxGateway,
    journal_target: JournalTarget,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """journal reconcile (PAYERMAX_* from the environment): a payout in doubt that exists is
    adopted; one sent a minute ago that the gateway does not show stays in doubt: exit 3."""
    for name, value in env_for(gateway).items():
        monkeypatch.setenv(name, value)
    async with PayerMaxClient(gateway.config()) as client:
        await client.payouts.create(payout("WD_EXISTS_0001"))  # the order, made elsewhere
    store = journal_target.store
    await journal_record(store, clock, "WD_EXISTS_0001", RecordState.IN_DOUBT, when=_ago(3600))
    await journal_record(store, clock, "WD_UNSEEN_0002", RecordState.IN_DOUBT, when=_ago(60))
    argv = ["journal", "reconcile", "--journal", journal_target.url]
    assert await asyncio.to_thread(main, argv) == 3
    printed = capsys.readouterr().out
    assert "found       WD_EXISTS_0001" in printed
    assert "in_doubt    WD_UNSEEN_0002" in printed
    record = await store.get("WD_EXISTS_0001")
    assert record is not None
    assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)


def test_a_missing_journal_or_no_url_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped SQLite path is an error (never an empty, all-clear journal), and so is no URL."""
    monkeypatch.delenv("PAYERMAX_JOURNAL_URL", raising=False)
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    assert main(["journal", "list", "--journal", missing, "--fail-if-any"]) == 1
    assert "no journal at" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists()
    assert main(["journal", "list"]) == 1
    assert "--journal URL or $PAYERMAX_JOURNAL_URL" in capsys.readouterr().err


async def test_the_cron_line_as_a_real_process(
    journal_target: JournalTarget, clock: FakeClock
) -> None:
    """The documented cron command, run by the interpreter: exit 3 and the number on stdout."""
    await _seed(journal_target, clock)
    command = [sys.executable, "-m", "payermax_async", "journal", "list", "--state", "IN_DOUBT"]
    command += ["--older-than", "15m", "--fail-if-any"]
    env = {"PAYERMAX_JOURNAL_URL": journal_target.url, "PATH": "/usr/bin:/bin"}
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    assert "WD_OLD_DOUBT_0001" in done.stdout
    assert done.stderr == ""

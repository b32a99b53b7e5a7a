"""``payermax payouts bulk`` in-process (``main`` in a thread) against the sandbox."""

from __future__ import annotations

import asyncio

from payermax_async.cli import main
from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import ACCOUNT, NAME, read_results, row, write_csv

PAY = "paymentOrderPay"


async def bulk(*argv: str) -> int:
    """Run the command off the event loop, so the in-process sandbox keeps serving."""
    return await asyncio.to_thread(main, ["payouts", "bulk", *argv])


async def test_invalid_rows_are_all_reported_and_nothing_is_sent(sandbox_env, tmp_path, capsys):
    """Three bad rows among good ones: every one reported, exit 1, not one POST, no files written."""
    source = write_csv(
        tmp_path / "in.csv",
        [row("v_1"), row("v_2", amount="-5"), row("v_3", country="Indonesia"), row("v_1")],
    )
    out = tmp_path / "out.csv"
    assert await bulk(str(source), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "invalid: line 3, column amount:" in err
    assert "invalid: line 4, column country:" in err
    assert "invalid: line 5, column outTradeNo: repeats the outTradeNo of line 2" in err
    assert "3 of 4 rows are invalid; nothing was sent" in err
    assert ACCOUNT not in err
    assert NAME not in err
    assert sandbox_env.ledger.post_count() == 0
    assert not out.exists()
    assert not (tmp_path / "out.csv.journal.sqlite").exists()


async def test_an_unknown_column_is_one_line_naming_it(sandbox_env, tmp_path, capsys):
    """A column outside the documented set stops the run before anything is sent."""
    source = write_csv(tmp_path / "in.csv", [row("u_1", iban="DE00")])
    assert await bulk(str(source), "--out", str(tmp_path / "out.csv")) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "unknown column(s) 'iban'" in err
    assert sandbox_env.ledger.post_count() == 0


async def test_skip_invalid_pays_the_rest_and_writes_every_row_in_order(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """--skip-invalid: invalid rows are INVALID in the results, a gateway refusal is REJECTED,
    the others are paid; the file keeps the input order; exit 3 because not all were paid."""
    source = write_csv(
        tmp_path / "in.csv",
        [
            row("s_1"),
            row("s_2", amount="1.5"),
            row("s_3", accountNo="08-12-ABC"),  # passes local rules, the gateway refuses it
            row("s_4"),
        ],
    )
    out = tmp_path / "results.csv"
    code = await bulk(str(source), "--out", str(out), "--skip-invalid", "--concurrency", "3")
    assert code == 3
    results = read_results(out)
    assert [r["outTradeNo"] for r in results] == ["s_1", "s_2", "s_3", "s_4"]
    assert [r["status"] for r in results] == ["PENDING", "INVALID", "REJECTED", "PENDING"]
    orders = sandbox_env.ledger.orders
    assert [r["tradeNo"] for r in results] == [
        orders["s_1"].trade_no,
        "",
        "",
        orders["s_4"].trade_no,
    ]
    assert (
        results[1]["error"] == "line 3, column amount: has 1 decimals; IDR allows 0 (trade.amount)"
    )
    assert results[2]["error"].startswith("InvalidRequestError: PARAMS_INVALID")
    assert set(orders) == {"s_1", "s_4"}
    assert sandbox_env.ledger.post_count(api=PAY, out_trade_no="s_2") == 0
    captured = capsys.readouterr()
    assert "1 of 4 rows are invalid; skipping them" in captured.err
    assert "accepted        2  (PENDING 2)" in captured.out
    assert "rejected        1" in captured.out
    assert "invalid         1" in captured.out
    assert f"results  {out}" in captured.out
    everything = out.read_text() + captured.out + captured.err
    assert ACCOUNT not in everything
    assert NAME not in everything


async def test_a_second_run_sends_nothing_and_reports_the_journal(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """All rows paid (exit 0); the same command again POSTs nothing and writes the same results."""
    source = write_csv(tmp_path / "in.csv", [row(f"r_{i}") for i in range(6)])
    out = tmp_path / "out.csv"
    assert await bulk(str(source), "--out", str(out), "--rate", "1000") == 0
    first = read_results(out)
    posts = sandbox_env.ledger.post_count()
    assert posts == 6
    assert await bulk(str(source), "--out", str(out)) == 0
    assert sandbox_env.ledger.post_count() == posts
    assert read_results(out) == first
    assert all(r["status"] == "PENDING" and r["tradeNo"] for r in first)
    summary = capsys.readouterr().out
    assert "of which 6 already accepted in an earlier run (not sent again)" in summary
    assert f"journal  {tmp_path / 'out.csv.journal.sqlite'}" in summary


async def test_a_changed_row_is_not_paid_again_under_its_number(
    sandbox_env: SandboxGateway, tmp_path
):
    """Re-running with a different amount for a paid outTradeNo is an ERROR row; nothing is sent."""
    out = tmp_path / "out.csv"
    journal = tmp_path / "j.sqlite"
    first = write_csv(tmp_path / "a.csv", [row("c_1")])
    assert await bulk(str(first), "--out", str(out), "--journal", str(journal)) == 0
    changed = write_csv(tmp_path / "b.csv", [row("c_1", amount="99000")])
    assert await bulk(str(changed), "--out", str(out), "--journal", str(journal)) == 3
    (result,) = read_results(out)
    assert result["status"] == "ERROR"
    assert result["error"].startswith("IdempotencyConflictError:")
    assert sandbox_env.ledger.post_count(api=PAY) == 1


async def test_a_results_path_in_a_missing_directory_fails_before_sending(
    sandbox_env: SandboxGateway, tmp_path, capsys
):
    """The results file's directory is checked before any payout is sent."""
    source = write_csv(tmp_path / "in.csv", [row("m_1")])
    assert await bulk(str(source), "--out", str(tmp_path / "nope" / "out.csv")) == 1
    assert "directory does not exist" in capsys.readouterr().err
    assert sandbox_env.ledger.post_count() == 0

"""``payermax payouts bulk`` as a real process: progress (a bar on a terminal, lines otherwise), a
resumed run counting from the rows already done, and ``--refresh`` (queries only)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from payermax_async.sandbox import SandboxGateway
from tests.support.bulk import ACCOUNT, NAME, env_for, read_results, row, write_csv
from tests.support.cli import ROOT, clean_env, run_cli

PAY = "paymentOrderPay"


async def test_a_resumed_run_counts_from_the_rows_already_done(gateway: SandboxGateway, tmp_path):
    """Three rows paid, two added: the second run says 3 of 5 are done and starts its count there."""
    env = clean_env(env_for(gateway))
    out = tmp_path / "out.csv"
    first = write_csv(tmp_path / "a.csv", [row(f"res_{i}") for i in range(3)])
    ran = await run_cli("payouts", "bulk", str(first), "--out", str(out), env=env)
    assert ran.code == 0, ran.err
    assert "resuming" not in ran.err
    assert "payouts 0/3" not in ran.err
    second = write_csv(tmp_path / "b.csv", [row(f"res_{i}") for i in range(5)])
    ran = await run_cli("payouts", "bulk", str(second), "--out", str(out), env=env)
    assert ran.code == 0, ran.err
    lines = ran.err.splitlines()
    assert lines[0] == "resuming: 3 of 5 rows already done"
    assert lines[1].startswith("payouts 3/5 (60%): 3 PENDING")
    assert lines[-1].startswith("payouts 5/5 (100%): 5 PENDING")
    assert gateway.ledger.post_count(api=PAY) == 5


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal (120 columns); return the exit status and what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:  # read as it is written: a full pty buffer would block the command
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "payermax_async", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


async def test_a_terminal_gets_a_bar_and_plain_lines_without_rich(
    gateway: SandboxGateway, tmp_path
):
    """With rich: a bar (its ━ glyphs and 4/4); with rich missing: the one redrawn plain line."""
    env = clean_env({**env_for(gateway), "TERM": "xterm-256color"})
    source = write_csv(tmp_path / "in.csv", [row(f"bar_{i}") for i in range(4)])
    code, drawn = await asyncio.to_thread(
        _on_a_terminal, ["payouts", "bulk", str(source), "--out", str(tmp_path / "a.csv")], env
    )
    assert code == 0, drawn
    assert "━" in drawn
    assert "4/4" in drawn
    assert "\rpayouts " not in drawn  # not the plain line
    assert ACCOUNT not in drawn
    assert NAME not in drawn
    # A `rich` that cannot be imported stands for the extra not being installed.
    fake = tmp_path / "no_rich" / "rich"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('rich is not installed')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), str(ROOT)])
    source = write_csv(tmp_path / "in2.csv", [row(f"plain_{i}") for i in range(4)])
    code, drawn = await asyncio.to_thread(
        _on_a_terminal, ["payouts", "bulk", str(source), "--out", str(tmp_path / "b.csv")], env
    )
    assert code == 0, drawn
    assert "━" not in drawn
    assert "\rpayouts 4/4 (100%): 4 PENDING" in drawn


async def test_refresh_rewrites_results_with_final_statuses_and_pays_nothing(
    gateway: SandboxGateway, tmp_path: Path
):
    """Accepted as PENDING; once the gateway has settled them, --refresh writes SUCCESS and
    FAILED (PENDING stays PENDING) and the gateway receives no pay request meanwhile."""
    env = clean_env(env_for(gateway))
    out = tmp_path / "out.csv"
    source = write_csv(
        tmp_path / "in.csv",
        [row("ref_ok", "15000"), row("ref_fail", "11000"), row("ref_wait", "10000")],
    )
    ran = await run_cli("payouts", "bulk", str(source), "--out", str(out), env=env)
    assert ran.code == 0, ran.err
    assert [r["status"] for r in read_results(out)] == ["PENDING"] * 3
    await gateway.settle()
    pays = gateway.ledger.post_count(api=PAY)
    refreshed = await run_cli("payouts", "bulk", "--refresh", "--out", str(out), env=env)
    assert refreshed.code == 0, refreshed.err
    assert gateway.ledger.post_count(api=PAY) == pays
    results = read_results(out)
    assert [r["status"] for r in results] == ["SUCCESS", "FAILED", "PENDING"]
    assert [r["tradeNo"] for r in results] == [
        gateway.ledger.orders[n].trade_no for n in ("ref_ok", "ref_fail", "ref_wait")
    ]
    assert "3 not final were queried; now FAILED 1, PENDING 1, SUCCESS 1" in refreshed.out
    assert "nothing was paid" in refreshed.out
    again = await run_cli("payouts", "bulk", "--refresh", "--out", str(out), env=env)
    assert again.code == 0, again.err
    assert "1 not final were queried; now PENDING 1" in again.out
    assert gateway.ledger.post_count(api=PAY) == pays


async def test_refresh_without_a_results_file_is_one_line(gateway: SandboxGateway, tmp_path):
    """Nothing to refresh: one line, exit 1, nothing sent."""
    env = clean_env(env_for(gateway))
    ran = await run_cli("payouts", "bulk", "--refresh", "--out", str(tmp_path / "x.csv"), env=env)
    assert ran.code == 1
    assert ran.err.count("\n") == 1
    assert "no results file to refresh" in ran.err
    assert gateway.ledger.post_count() == 0


async def test_refresh_refuses_a_damaged_results_file(gateway: SandboxGateway, tmp_path):
    """A line that is not four cells stops --refresh before anything is queried or rewritten."""
    env = clean_env(env_for(gateway))
    out = tmp_path / "out.csv"
    text = "outTradeNo,status,tradeNo,error\nd_1,PENDING,T1,\nd_2,PENDING\n"
    out.write_text(text)
    ran = await run_cli("payouts", "bulk", "--refresh", "--out", str(out), env=env)
    assert ran.code == 1
    assert "line 3 is not outTradeNo,status,tradeNo,error" in ran.err
    assert out.read_text() == text
    assert gateway.ledger.post_count() == 0

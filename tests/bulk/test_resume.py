"""The bulk command as a real process: SIGKILL or Ctrl-C mid-run, run it again, nobody paid twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payermax_async import SQLiteStore
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import RecordState
from tests.support.bulk import env_for, read_results, row, write_csv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAY = "paymentOrderPay"
QUERY = "paymentOrderQry"
ROWS = 60


@pytest.fixture
async def slow_pays(gateway: SandboxGateway) -> AsyncIterator[SandboxGateway]:
    """Every payout is committed at once but answered 0.2 s later, so a kill lands mid-flight."""
    fault = gateway.faults.add(Fault(FaultKind.DELAY, api=PAY, delay=0.2))
    yield gateway
    gateway.faults.remove(fault)


async def start(gw: SandboxGateway, source: Path, out: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "payermax_async",
        "payouts",
        "bulk",
        str(source),
        "--out",
        str(out),
        "--concurrency",
        "4",
        cwd=ROOT,
        env={**os.environ, **env_for(gw)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def when_orders_reach(
    gw: SandboxGateway, count: int, proc: asyncio.subprocess.Process
) -> None:
    for _ in range(5_000):  # bounded: about 10 s
        if len(gw.ledger.orders) >= count or proc.returncode is not None:
            return
        await asyncio.sleep(0.002)


async def in_flight(journal: Path) -> set[str]:
    """Numbers the journal shows as possibly on the wire."""
    async with SQLiteStore(journal) as store:
        return {
            r.out_trade_no
            for r in await store.open_records()
            if r.state in (RecordState.SENT, RecordState.CLAIMED)
        }


async def test_sigkill_then_rerun_pays_every_row_exactly_once(slow_pays: SandboxGateway, tmp_path):
    """Killed with SIGKILL while payouts are in flight, the re-run settles those by query and
    finishes: one order per row, and no row was POSTed twice."""
    gw = slow_pays
    source = write_csv(tmp_path / "in.csv", [row(f"k_{i:03d}") for i in range(ROWS)])
    out = tmp_path / "out.csv"
    proc = await start(gw, source, out)
    await when_orders_reach(gw, 12, proc)
    proc.send_signal(signal.SIGKILL)
    await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert 12 <= len(gw.ledger.orders) < ROWS
    exposed = await in_flight(tmp_path / "out.csv.journal.sqlite")
    assert exposed  # the kill landed while payouts were on the wire
    assert not out.exists()

    gw.faults.clear()
    proc = await start(gw, source, out)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()[-2000:]

    orders = gw.ledger.orders
    assert sorted(orders) == [f"k_{i:03d}" for i in range(ROWS)]
    results = read_results(out)
    assert [r["outTradeNo"] for r in results] == sorted(orders)
    assert all(r["tradeNo"] == orders[r["outTradeNo"]].trade_no for r in results)
    assert {r["status"] for r in results} <= {"PENDING", "SUCCESS"}
    repeated = {k for k in orders if gw.ledger.post_count(api=PAY, out_trade_no=k) > 1}
    assert repeated <= exposed
    assert all(gw.ledger.post_count(api=QUERY, out_trade_no=k) >= 1 for k in exposed)
    assert "settled by query first" in stdout.decode()


async def test_ctrl_c_finishes_in_flight_payouts_and_the_rerun_sends_the_rest(
    slow_pays: SandboxGateway, tmp_path
):
    """One Ctrl-C: nothing new starts, payouts in flight finish, the results say NOT_SENT for the
    rest and exit 130; the re-run pays only those."""
    gw = slow_pays
    source = write_csv(tmp_path / "in.csv", [row(f"i_{i:03d}") for i in range(ROWS)])
    out = tmp_path / "out.csv"
    proc = await start(gw, source, out)
    await when_orders_reach(gw, 8, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    assert "stopping: waiting for payouts in flight" in stderr.decode()
    assert "interrupted: run the same command again" in stdout.decode()
    first = read_results(out)
    paid = {r["outTradeNo"] for r in first if r["status"] == "PENDING"}
    assert paid == set(gw.ledger.orders)  # every started payout finished and was recorded
    assert {r["status"] for r in first} == {"PENDING", "NOT_SENT"}

    gw.faults.clear()
    proc = await start(gw, source, out)
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert len(gw.ledger.orders) == ROWS
    assert gw.ledger.post_count(api=PAY) == ROWS
    assert all(r["tradeNo"] for r in read_results(out))

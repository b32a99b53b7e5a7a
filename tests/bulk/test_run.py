"""``BulkRun`` in-process over a SQLite journal: in-doubt rows, resuming, stopping."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from payermax_async import PayerMaxClient, SQLiteStore
from payermax_async.bulk import IN_DOUBT_HINT, BulkRow, BulkRun, parse_rows
from payermax_async.errors import ValidationError
from payermax_async.middleware.intent import fingerprint
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.bulk import HEADER, row

PAY = "paymentOrderPay"
QUERY = "paymentOrderQry"


def rows_of(*cells: dict[str, str]) -> list[BulkRow]:
    lines = [",".join(HEADER)] + [",".join(c[h] for h in HEADER) for c in cells]
    return parse_rows(lines)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """The journal file's path (each client opens its own store on it)."""
    return tmp_path / "journal.sqlite"


async def run_once(gw: SandboxGateway, journal: Path, rows: list[BulkRow], **options: object):
    async with (
        SQLiteStore(journal) as store,
        PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client,
    ):
        run = BulkRun(client, rows, **options)  # type: ignore[arg-type]
        results = await run.run()
    return run, results


async def test_an_in_doubt_row_says_so_and_the_next_run_settles_it_by_query(gateway, journal):
    """The answer is lost and the query fails too: IN_DOUBT with the hint. The next run settles it
    by query first and sends no second payout."""
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, out_trade_no="d_2", times=1))
    gateway.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=QUERY, out_trade_no="d_2"))
    rows = rows_of(row("d_1"), row("d_2"), row("d_3"))
    _, results = await run_once(gateway, journal, rows, concurrency=2)
    assert [r.status for r in results] == ["PENDING", "IN_DOUBT", "PENDING"]
    assert results[1].error == f"PayoutOutcomeUnknown: {IN_DOUBT_HINT}"
    assert results[1].trade_no == ""

    gateway.faults.clear()
    await gateway.settle()  # d_2 reaches its outcome now, not between the next run and the check
    run, results = await run_once(gateway, journal, rows, concurrency=2)
    assert run.settled_first == 1
    order = gateway.ledger.orders["d_2"]
    assert [r.status for r in results] == ["PENDING", order.status.value, "PENDING"]
    assert results[1].trade_no == gateway.ledger.orders["d_2"].trade_no
    assert [r.from_journal for r in results] == [True, True, True]
    assert gateway.ledger.post_count(api=PAY) == 3


async def test_a_dead_runs_lease_with_an_unanswerable_query_is_left_in_doubt(gateway, journal):
    """A record a killed run left SENT, whose query fails now, is reported in doubt at once:
    not sent, and not waited on for the dead run's lease."""
    (dead, fresh) = rows_of(row("l_1"), row("l_2"))
    assert dead.data is not None
    async with SQLiteStore(journal) as store:
        await store.claim(
            "l_1",
            fingerprint(dead.data),
            owner="dead",
            lease_seconds=600,
            amount=None,
            currency=None,
        )
        await store.mark_sent("l_1", owner="dead")
    gateway.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=QUERY, out_trade_no="l_1"))
    _, results = await asyncio.wait_for(run_once(gateway, journal, [dead, fresh]), timeout=10)
    assert [r.status for r in results] == ["IN_DOUBT", "PENDING"]
    assert gateway.ledger.post_count(api=PAY, out_trade_no="l_1") == 0


async def test_stop_lets_started_payouts_finish_and_starts_no_more(gateway, journal):
    """Once `stop` is set no new payout starts; the rest are NOT_SENT and were never POSTed."""
    stop = asyncio.Event()

    class StopAfterThree:
        def __init__(self) -> None:
            self.calls = 0

        async def acquire(self) -> None:
            self.calls += 1
            if self.calls > 3:
                stop.set()

    rows = rows_of(*(row(f"t_{i}") for i in range(6)))
    _, results = await run_once(
        gateway, journal, rows, concurrency=1, limiter=StopAfterThree(), stop=stop
    )
    assert [r.status for r in results] == ["PENDING"] * 3 + ["NOT_SENT"] * 3
    assert gateway.ledger.post_count(api=PAY) == 3


async def test_cancelling_marks_in_flight_rows_in_doubt(gateway, journal):
    """A run cancelled while payouts are on the wire reports those IN_DOUBT, the rest NOT_SENT."""
    gateway.faults.add(Fault(FaultKind.DELAY, api=PAY, delay=5))
    rows = rows_of(*(row(f"x_{i}") for i in range(5)))
    async with (
        SQLiteStore(journal) as store,
        PayerMaxClient(gateway.config(), store=store, retry=fast_retry_policy()) as client,
    ):
        run = BulkRun(client, rows, concurrency=2)
        task = asyncio.ensure_future(run.run())
        for _ in range(2_000):
            if len(gateway.ledger.orders) == 2:
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    statuses = [r.status for r in run.results()]
    assert statuses == ["IN_DOUBT", "IN_DOUBT", "NOT_SENT", "NOT_SENT", "NOT_SENT"]
    assert "interrupted while in flight" in run.results()[0].error


@pytest.mark.parametrize("concurrency", [0, -1, True, 2.5])
def test_concurrency_must_be_a_positive_integer(concurrency):
    """A bad concurrency is refused before anything runs."""
    with pytest.raises(ValidationError):
        BulkRun(object(), [], concurrency=concurrency)  # type: ignore[arg-type]

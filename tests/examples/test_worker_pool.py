"""The worker-pool example: exactly once under redelivery, graceful shutdown, reconciler, processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from examples import worker_pool
from examples.worker_pool import PayoutJob, PayoutPool, StoreSpec
from payermax_async import PayerMaxClient, RedisStore
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import OPEN_STATES
from payermax_async.testing import fast_retry_policy
from tests.support.examples import EXAMPLES, REDIS_URL, redis_cleanup, redis_prefix_or_skip


class Gate:
    """A client middleware holding payouts until opened: payouts "in flight", deterministically.

    ``after_send`` holds the answer after the gateway committed the order; otherwise the request
    is held before it leaves.
    """

    def __init__(self, *, after_send: bool) -> None:
        self.after_send = after_send
        self.opened = asyncio.Event()
        self.arrived = 0
        self._arrivals = asyncio.Condition()

    async def __call__(self, call, next_handler):
        if call.api != "paymentOrderPay":
            return await next_handler(call)
        reply = await next_handler(call) if self.after_send else None
        async with self._arrivals:
            self.arrived += 1
            self._arrivals.notify_all()
        await self.opened.wait()
        return reply if reply is not None else await next_handler(call)

    async def wait_for(self, count: int) -> None:
        """Wait until ``count`` payouts are held."""
        async with self._arrivals:
            await self._arrivals.wait_for(lambda: self.arrived >= count)


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisStore]:
    """A RedisStore under a fresh prefix, its keys deleted afterwards."""
    prefix = await redis_prefix_or_skip()
    store = RedisStore(REDIS_URL, prefix=prefix)
    yield store
    await store.aclose()
    await redis_cleanup(prefix)


def jobs(count: int, tag: str = "pool") -> list[PayoutJob]:
    """``count`` jobs that all succeed in the sandbox."""
    return [PayoutJob(f"WD_{tag}_{n:03d}", amount=str(15000 + n)) for n in range(count)]


def queued(items: list[PayoutJob]) -> asyncio.Queue[PayoutJob]:
    """A queue holding ``items``."""
    queue: asyncio.Queue[PayoutJob] = asyncio.Queue()
    for job in items:
        queue.put_nowait(job)
    return queue


async def test_redelivered_jobs_are_each_paid_exactly_once(
    payermax_sandbox: SandboxGateway, redis_store: RedisStore
):
    """Every job queued twice, 4 workers on one RedisStore: one pay request and one order each."""
    work = jobs(12)
    async with PayerMaxClient(
        payermax_sandbox.config(), store=redis_store, retry=fast_retry_policy()
    ) as client:
        pool = PayoutPool(client, queued(work + work), workers=4, reconcile_every=None, say=print)
        await pool.run(until_empty=True)
    assert pool.results == {job.withdrawal_id: "PENDING" for job in work}
    assert sorted(payermax_sandbox.ledger.orders) == [job.withdrawal_id for job in work]
    assert payermax_sandbox.ledger.post_count(api="paymentOrderPay") == len(work)


async def test_falls_back_to_sqlite_when_redis_is_unreachable(tmp_path: Path):
    """An unreachable Redis gives a SQLite journal, and the fallback is said out loud."""
    lines: list[str] = []
    spec = await worker_pool.choose_store(
        "redis://127.0.0.1:1/0", str(tmp_path / "journal.db"), say=lines.append
    )
    assert spec == StoreSpec(sqlite_path=str(tmp_path / "journal.db"))
    assert any(line.startswith("FALLBACK: journal in SQLite") for line in lines)
    store = spec.open()
    assert type(store).__name__ == "SQLiteStore"
    await store.aclose()


async def test_sigterm_stops_taking_jobs_and_in_flight_payouts_finish(
    payermax_sandbox: SandboxGateway, tmp_path: Path
):
    """SIGTERM: the 3 payouts in flight complete, the 5 queued jobs are handed back, none lost."""
    gate = Gate(after_send=False)
    work = jobs(8, "term")
    store = StoreSpec(sqlite_path=str(tmp_path / "journal.db")).open()
    async with PayerMaxClient(
        payermax_sandbox.config(), store=store, retry=fast_retry_policy(), middlewares=[gate]
    ) as client:
        pool = PayoutPool(client, queued(work), workers=3, reconcile_every=None, say=print)
        remove = worker_pool.install_signal_handlers(pool)
        try:
            running = asyncio.create_task(pool.run())
            await gate.wait_for(3)
            signal.raise_signal(signal.SIGTERM)
            for _ in range(1000):  # the loop reads its wakeup fd, then runs the handler
                if pool.stopping:
                    break
                await asyncio.sleep(0)
            assert pool.stopping
            gate.opened.set()
            await running
        finally:
            remove()
        left = pool.leftover()
    await store.aclose()
    assert sorted(pool.results.values()) == ["PENDING"] * 3
    assert len(left) == 5
    assert {*pool.results, *(job.withdrawal_id for job in left)} == {j.withdrawal_id for j in work}
    assert sorted(payermax_sandbox.ledger.orders) == sorted(pool.results)


async def test_drain_timeout_leaves_in_flight_in_doubt_and_reconcile_settles_it(
    payermax_sandbox: SandboxGateway, tmp_path: Path
):
    """Past the drain timeout in-flight payouts are cancelled in doubt; reconcile adopts each order."""
    gate = Gate(after_send=True)
    work = jobs(5, "drain")
    store = StoreSpec(sqlite_path=str(tmp_path / "journal.db")).open()
    async with PayerMaxClient(
        payermax_sandbox.config(), store=store, retry=fast_retry_policy(), middlewares=[gate]
    ) as client:
        pool = PayoutPool(
            client, queued(work), workers=2, reconcile_every=None, drain_timeout=0.0, say=print
        )
        running = asyncio.create_task(pool.run())
        await gate.wait_for(2)
        pool.stop()
        await running
        assert sorted(pool.results.values()) == ["IN_DOUBT"] * 2
        assert {r.state for r in await store.open_records()} <= OPEN_STATES
        assert len(await store.open_records()) == 2
        gate.opened.set()
        await pool.reconcile_once(stale_after=0.0)
        # Settled, no longer in doubt (the sandbox may already have moved one on to SUCCESS).
        assert len(pool.results) == 2
        assert set(pool.results.values()) <= {"PENDING", "SUCCESS"}
        assert await store.open_records() == []
        assert len(pool.leftover()) == 3
    await store.aclose()
    assert sorted(payermax_sandbox.ledger.orders) == sorted(pool.results)
    assert payermax_sandbox.ledger.post_count(api="paymentOrderPay") == 2


async def test_reconciler_settles_a_payout_whose_notification_never_came(
    payermax_sandbox: SandboxGateway, tmp_path: Path
):
    """No notifyUrl, so no webhook: the reconciler's query turns PENDING into SUCCESS/FAILED."""
    work = [PayoutJob("WD_quiet_ok", "15000"), PayoutJob("WD_quiet_ko", "11000")]
    store = StoreSpec(sqlite_path=str(tmp_path / "journal.db")).open()
    async with PayerMaxClient(
        payermax_sandbox.config(), store=store, retry=fast_retry_policy()
    ) as client:
        pool = PayoutPool(client, queued(work), workers=2, reconcile_every=None, say=print)
        await pool.run(until_empty=True)
        await payermax_sandbox.settle()
        assert payermax_sandbox.notifications == []
        assert set(pool.results.values()) == {"PENDING"}
        await pool.reconcile_once(stale_after=0.0)
    await store.aclose()
    assert pool.results == {"WD_quiet_ok": "SUCCESS", "WD_quiet_ko": "FAILED"}


@pytest.mark.slow
async def test_several_processes_share_one_journal_and_pay_each_job_once(
    payermax_sandbox: SandboxGateway, tmp_path: Path
):
    """Two spawned processes, each given every job (redelivery): one payout per withdrawal."""
    work = jobs(6, "procs")
    spec = StoreSpec(sqlite_path=str(tmp_path / "journal.db"))
    config = worker_pool.config_fields(payermax_sandbox.config())
    plans = [
        worker_pool.ProcessPlan(config, spec, tuple(work), 2, None),
        worker_pool.ProcessPlan(config, spec, tuple(reversed(work)), 2, None),
    ]
    codes = await worker_pool.run_processes(plans, say=print, join_timeout=60.0)
    assert codes == [0, 0]
    assert sorted(payermax_sandbox.ledger.orders) == [job.withdrawal_id for job in work]
    assert payermax_sandbox.ledger.post_count(api="paymentOrderPay") == len(work)
    store = spec.open()
    statuses = await worker_pool.journal_statuses(store, work)
    await store.aclose()
    assert set(statuses.values()) <= {"PENDING", "SUCCESS"}


def test_split_jobs_gives_each_job_to_two_processes():
    """The demo's at-least-once split: every job lands in exactly two shares."""
    work = jobs(5, "split")
    shares = worker_pool.split_jobs(work, 3)
    for job in work:
        assert sum(share.count(job) for share in shares) == 2


async def test_main_runs_standalone_against_an_embedded_sandbox(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """``python examples/worker_pool.py`` says it uses the sandbox and pays each withdrawal once."""
    monkeypatch.delenv("PAYERMAX_APP_ID", raising=False)
    await redis_prefix_or_skip()
    assert await worker_pool.main(["--jobs", "4", "--redis-url", REDIS_URL]) == 0
    out = capsys.readouterr().out
    assert "embedded SandboxGateway" in out
    assert "4 payouts at the gateway for 4 withdrawals started (4 pay requests)" in out


@pytest.mark.slow
async def test_sigterm_mid_run_prints_a_bounded_summary_with_correct_counts(tmp_path: Path):
    """``worker_pool.py --jobs 3000`` stopped by SIGTERM: a few short lines, and counts that add up."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "worker_pool.py"),
        "--jobs",
        "3000",
        "--redis-url",
        "redis://127.0.0.1:1/0",  # unreachable: the SQLite journal, no Redis needed
        "--sqlite",
        str(tmp_path / "journal.db"),
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PAYERMAX_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for _ in range(50):  # bounded: the start-up prints a few lines before paying
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
        lines.append(line)
        if line.startswith("Paying 3000 withdrawals") or not line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    lines += out.decode().splitlines()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert len(lines) < 40
    assert max(len(line) for line in lines) < 200
    counts = {
        match.group(1): int(match.group(2))
        for match in (re.match(r"\s+(\S+)\s+(\d+)  e\.g\. ", line) for line in lines)
        if match
    }
    assert sum(counts.values()) == 3000
    assert counts.get("NOT_STARTED", 0) > 0  # stopped mid-run
    stopped = next(line for line in lines if line.startswith("Stopped early:"))
    assert f", {counts['NOT_STARTED']} never started." in stopped
    gateway = next(line for line in lines if "payouts at the gateway for" in line)
    assert f"for {3000 - counts['NOT_STARTED']} withdrawals started" in gateway

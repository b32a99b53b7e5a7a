"""The RabbitMQ worker pool: acks only after the journal has the outcome, a prefetch limit, a
dead-letter queue for refusals, parking for unknown outcomes, and a worker SIGKILLed mid-run.

Against a real broker (``PAYERMAX_TEST_AMQP_URL``) and, for the processes, a real Redis journal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
import redis.asyncio as redis_asyncio
from aio_pika.abc import AbstractChannel

from examples import rabbitmq_pool
from examples.rabbitmq_pool import BrokerWorker, Topology
from examples.worker_pool import PayoutJob
from payermax_async import PayerMaxClient, RedisStore
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.rabbitmq import AMQP_URL, delete_queues, rabbitmq_or_skip
from tests.support.redis import REDIS_URL, redis_cleanup, redis_or_skip

ROOT = Path(__file__).resolve().parents[2]
PAY = "paymentOrderPay"


def jobs(count: int, tag: str) -> list[PayoutJob]:
    """``count`` jobs that the sandbox accepts."""
    return [PayoutJob(f"WD_{tag}_{n:04d}", amount=str(15000 + n)) for n in range(count)]


@pytest.fixture
async def topology() -> AsyncIterator[Topology]:
    """Queues of this test's own on the test broker, deleted afterwards."""
    await rabbitmq_or_skip()
    queues = Topology(queue=f"payermax-test-{uuid.uuid4().hex[:12]}", retry_delay=0.2)
    yield queues
    await delete_queues(queues.queue, queues.retry, queues.dead)


@pytest.fixture
async def channel() -> AsyncIterator[AbstractChannel]:
    """A channel on the test broker (publisher confirms on)."""
    await rabbitmq_or_skip()
    async with await aio_pika.connect(AMQP_URL) as connection:
        yield await connection.channel()


async def counts(channel: AbstractChannel, topology: Topology) -> dict[str, int]:
    """Messages ready in each queue."""
    found = {}
    for name in (topology.queue, topology.retry, topology.dead):
        queue = await channel.declare_queue(name, passive=True)
        found[name] = queue.declaration_result.message_count or 0
    return found


class Events:
    """What a worker reported: (event, withdrawal id, redelivered)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bool]] = []
        self.changed = asyncio.Condition()

    async def __call__(self, event: str, withdrawal_id: str, redelivered: bool) -> None:
        async with self.changed:
            self.seen.append((event, withdrawal_id, redelivered))
            self.changed.notify_all()

    async def wait_for(self, event: str, count: int) -> None:
        """Wait (bounded) until ``count`` ``event`` events arrived."""
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: self.of(event) >= count), timeout=60
            )

    def of(self, event: str) -> int:
        """How many ``event`` events arrived."""
        return sum(1 for seen, _, _ in self.seen if seen == event)


async def test_a_signed_refusal_and_an_unreadable_job_go_to_the_dead_letter_queue(
    payermax_sandbox: SandboxGateway, topology: Topology, channel: AbstractChannel
):
    """InvalidRequestError (no payout exists) and garbage are dead-lettered, the good job acked."""
    payermax_sandbox.faults.add(
        Fault(FaultKind.REJECT, api=PAY, out_trade_no="WD_dlq_refused", code="BALANCE_INSUFFICIENT")
    )
    await topology.declare(channel)
    await rabbitmq_pool.publish_jobs(
        channel,
        topology.queue,
        [PayoutJob("WD_dlq_refused", "15000"), PayoutJob("WD_dlq_ok", "15000")],
    )
    await channel.default_exchange.publish(aio_pika.Message(b"not a job"), topology.queue)
    events = Events()
    async with PayerMaxClient(payermax_sandbox.config(), retry=fast_retry_policy()) as client:
        worker = BrokerWorker(client, channel, topology, reconcile_every=None, on_event=events)
        running = asyncio.create_task(worker.run())
        await events.wait_for("dead", 2)
        await events.wait_for("done", 1)
        worker.stop()
        await running
    assert worker.counts == {"done": 1, "dead": 2}
    assert await counts(channel, topology) == {
        topology.queue: 0,
        topology.retry: 0,
        topology.dead: 2,
    }
    assert list(payermax_sandbox.ledger.orders) == ["WD_dlq_ok"]


async def test_an_unknown_outcome_is_parked_not_acked_then_settled_under_the_same_number(
    payermax_sandbox: SandboxGateway, topology: Topology, channel: AbstractChannel
):
    """Answer lost and queries failing: the job is parked (not done); back, it adopts the one order."""
    payermax_sandbox.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
    payermax_sandbox.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    await topology.declare(channel)
    await rabbitmq_pool.publish_jobs(channel, topology.queue, [PayoutJob("WD_park_1", "15000")])
    events = Events()
    retry = fast_retry_policy(max_attempts=2)
    async with PayerMaxClient(payermax_sandbox.config(), retry=retry) as client:
        worker = BrokerWorker(client, channel, topology, reconcile_every=None, on_event=events)
        running = asyncio.create_task(worker.run())
        await events.wait_for("parked", 1)
        assert events.of("done") == 0
        payermax_sandbox.faults.clear()  # the gateway answers again; the retry queue hands it back
        await events.wait_for("done", 1)
        worker.stop()
        await running
    assert [(e, redelivered) for e, _, redelivered in events.seen] == [
        ("received", False),
        ("parked", False),
        ("received", False),  # a new message (the parked copy), not a broker redelivery
        ("done", False),
    ]
    assert list(payermax_sandbox.ledger.orders) == ["WD_park_1"]
    assert payermax_sandbox.ledger.post_count(api=PAY) == 1  # the query found it: no resend
    assert await counts(channel, topology) == {
        topology.queue: 0,
        topology.retry: 0,
        topology.dead: 0,
    }


async def test_prefetch_bounds_the_payouts_in_flight(
    payermax_sandbox: SandboxGateway, topology: Topology
):
    """With prefetch 3 and every payout held, exactly 3 are in flight while 7 jobs wait queued."""
    held = asyncio.Event()
    arrived: list[str] = []

    async def hold(call, next_handler):
        if call.api == PAY:
            arrived.append(call.idempotency_key)
            await held.wait()
        return await next_handler(call)

    async with await aio_pika.connect(AMQP_URL) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=3)
        await topology.declare(channel)
        await rabbitmq_pool.publish_jobs(channel, topology.queue, jobs(10, "prefetch"))
        events = Events()
        async with PayerMaxClient(
            payermax_sandbox.config(), retry=fast_retry_policy(), middlewares=[hold]
        ) as client:
            worker = BrokerWorker(client, channel, topology, reconcile_every=None, on_event=events)
            running = asyncio.create_task(worker.run())
            await events.wait_for("received", 3)
            # The broker itself holds the other 7 back: they are still ready in the queue.
            waiting = await channel.declare_queue(topology.queue, passive=True)
            assert waiting.declaration_result.message_count == 7
            assert len(arrived) == 3
            assert events.of("received") == 3
            held.set()
            await events.wait_for("done", 10)
            worker.stop()
            await running
    assert len(payermax_sandbox.ledger.orders) == 10


# ------------------------------------------------------------------------------ real processes


def child_env(gateway: SandboxGateway) -> dict[str, str]:
    """The sandbox's credentials, the way PayerMaxConfig.from_env() reads them."""
    return {
        **os.environ,
        "PAYERMAX_APP_ID": gateway.app_id,
        "PAYERMAX_MERCHANT_NO": gateway.merchant_no,
        "PAYERMAX_PRIVATE_KEY": gateway.merchant_private_key,
        "PAYERMAX_PLATFORM_PUBLIC_KEY": gateway.platform_public_key,
        "PAYERMAX_BASE_URL": gateway.base_url,
    }


async def spawn_worker(
    gateway: SandboxGateway, queue: str, prefix: str
) -> asyncio.subprocess.Process:
    """One worker process (``tests/examples/_rabbit_child.py``)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.examples._rabbit_child",
        AMQP_URL,
        queue,
        REDIS_URL,
        prefix,
        cwd=ROOT,
        env=child_env(gateway),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_events(redis: redis_asyncio.Redis, prefix: str) -> list[tuple[int, str, str, bool]]:
    """Every event the workers reported: (pid, event, withdrawal id, redelivered)."""
    rows = []
    for raw in await redis.lrange(f"{prefix}events", 0, -1):
        pid, event, key, redelivered = raw.decode().split(" ")
        rows.append((int(pid), event, key, redelivered == "1"))
    return rows


@pytest.mark.slow
async def test_three_processes_500_jobs_one_sigkilled_each_job_paid_and_acked_once(
    payermax_sandbox: SandboxGateway, topology: Topology, channel: AbstractChannel
):
    """3 worker processes on one Redis journal, 500 jobs, one SIGKILLed mid-run: its jobs are
    redelivered, the sandbox ends with exactly the 500 orders, and every job is done once."""
    await redis_or_skip()
    prefix = f"payermax-rabbit-test:{uuid.uuid4().hex}:"
    redis = redis_asyncio.Redis.from_url(REDIS_URL)
    work = jobs(500, uuid.uuid4().hex[:6])
    await topology.declare(channel)
    await rabbitmq_pool.publish_jobs(channel, topology.queue, work)
    procs = [await spawn_worker(payermax_sandbox, topology.queue, prefix) for _ in range(3)]
    victim, survivors = procs[0], procs[1:]
    try:
        for _ in range(30_000):  # bounded: until the victim is busy mid-run
            done_by_victim = [
                e for e in await read_events(redis, prefix) if e[0] == victim.pid and e[1] == "done"
            ]
            if len(done_by_victim) >= 20 and len(payermax_sandbox.ledger.orders) >= 150:
                break
            await _alive(procs)
            await asyncio.sleep(0.01)
        assert len(payermax_sandbox.ledger.orders) < 450  # still mid-run
        victim.send_signal(signal.SIGKILL)
        await asyncio.wait_for(victim.communicate(), timeout=30)
        wanted = {job.withdrawal_id for job in work}
        for _ in range(30_000):  # bounded: the survivors take the victim's jobs over
            finished = {e[2] for e in await read_events(redis, prefix) if e[1] == "done"}
            if finished >= wanted:
                break
            await _alive(survivors)
            await asyncio.sleep(0.02)
        for proc in survivors:
            proc.send_signal(signal.SIGTERM)  # a graceful stop: in-flight acks go out first
        for proc in survivors:
            _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert proc.returncode == 0, err.decode()[-3000:]
        events = await read_events(redis, prefix)
        async with RedisStore(REDIS_URL, prefix=prefix) as store:
            records = {job.withdrawal_id: await store.get(job.withdrawal_id) for job in work}
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.communicate()
        await redis.aclose()
        await redis_cleanup(prefix)
    assert victim.returncode == -signal.SIGKILL

    # Paid exactly once: the sandbox holds the 500 orders, one per job, and nothing else.
    assert sorted(payermax_sandbox.ledger.orders) == sorted(wanted)
    states = {record.state if record else None for record in records.values()}
    assert states <= {RecordState.ACCEPTED, RecordState.FINAL}

    # Redeliveries happened: a survivor received some of the victim's unacked jobs again.
    survivor_pids = {proc.pid for proc in survivors}
    assert any(e[3] for e in events if e[0] in survivor_pids and e[1] == "received")

    # Acked once: every job done, once by the survivors at most; done twice only when the victim
    # reported it and died before its ack reached the broker (then it was redelivered).
    assert not [e for e in events if e[1] in ("dead", "parked")]
    done: dict[str, list[tuple[int, bool]]] = {}
    for pid, event, key, redelivered in events:
        if event == "done":
            done.setdefault(key, []).append((pid, redelivered))
    assert set(done) == wanted
    for key, reports in done.items():
        by_survivors = [r for r in reports if r[0] in survivor_pids]
        assert len(by_survivors) <= 1, key
        if len(reports) > 1:
            assert [pid for pid, _ in reports if pid not in survivor_pids] == [victim.pid], key
            assert by_survivors[0][1], key  # the survivor's copy was a redelivery

    # Nothing left in the broker: every message was acked (a rejected one would sit in .dead).
    assert await counts(channel, topology) == {
        topology.queue: 0,
        topology.retry: 0,
        topology.dead: 0,
    }


async def _alive(procs: list[asyncio.subprocess.Process]) -> None:
    """Fail at once, with its stderr, if a worker process has ended."""
    for proc in procs:
        if proc.returncode is not None:
            _, err = await proc.communicate()
            pytest.fail(f"worker {proc.pid} exited {proc.returncode}: {err.decode()[-3000:]}")

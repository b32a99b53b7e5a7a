"""Payout workers fed by RabbitMQ (aio-pika): a job is acknowledged only once the journal knows.

Run the demo (an embedded sandbox gateway; RabbitMQ must answer at ``--amqp-url``; the journal is
Redis when it answers, else a SQLite file)::

    pip install 'payermax-async[examples]'
    python examples/rabbitmq_pool.py --jobs 200 --processes 3
    python examples/rabbitmq_pool.py --amqp-url amqp://guest:guest@127.0.0.1:5672/ --prefetch 32

In production each worker process runs :func:`work` with a :class:`WorkerPlan` (your queue, journal
and ``PAYERMAX_*`` configuration); publishers use :func:`publish_jobs`.

Each worker process consumes ``{queue}`` with manual acks and a prefetch limit (at most ``prefetch``
unacked jobs per process: also its payouts in flight). How a job ends, by what ``create()`` did:

- a ``PayoutResult``: **acked**, since the journal has recorded the acceptance;
- ``InvalidRequestError`` (a signed refusal: no payout exists), ``ValidationError``,
  ``IdempotencyConflictError``, or an unreadable job: **rejected** without requeue, so the broker
  dead-letters it to ``{queue}.dead``: resending it can never pay it; a person looks;
- ``PayoutOutcomeUnknown`` (the payout **may** exist: acking it as done would lose track, requeueing
  it at once would spin while the gateway is down), or another ``PayerMaxError`` (nothing sent):
  **parked**, i.e. republished with a confirm to ``{queue}.retry``, then acked; the retry queue hands
  it back after ``retry_delay`` s, and ``create()`` of the same number queries before any resend;
- the worker died (SIGKILL): the broker redelivers its unacked jobs; another worker's ``create()``
  waits for the dead worker's lease, then queries the gateway before anything is resent;
- SIGTERM or SIGINT: no new jobs; payouts in flight finish (after ``drain_timeout``: cancelled, in
  doubt in the journal); unacked jobs go back to the queue. docs/integrations/rabbitmq.md has more.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from payermax_async import (
    IdempotencyConflictError,
    PayerMaxClient,
    PayerMaxConfig,
    PayerMaxError,
    PayoutOutcomeUnknown,
    RetryPolicy,
    ValidationError,
)
from payermax_async.errors import InvalidRequestError
from payermax_async.sandbox import SandboxGateway

try:  # imported as examples.rabbitmq_pool (the tests, ``python -m examples.rabbitmq_pool``)
    from examples import worker_pool
except ImportError:  # ``python examples/rabbitmq_pool.py``: this folder is on sys.path
    import worker_pool  # type: ignore[no-redef,import-not-found]

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
PERSISTENT = aio_pika.DeliveryMode.PERSISTENT  # jobs survive a broker restart (durable queues)
#: Called with (event, withdrawal id or "", redelivered) before the broker is told: ``received``,
#: then ``done``, ``dead`` or ``parked``. For metrics; it must not raise.
OnEvent = Callable[[str, str, bool], Awaitable[None]]
# Parked this often, a job is dead-lettered for a person (the journal keeps it in doubt meanwhile).
MAX_PARKS = 1000


@dataclass(frozen=True)
class Topology:
    """The work queue, its dead-letter queue and the retry (parking) queue. The broker refuses to
    declare them again with another ``retry_delay`` (``PRECONDITION_FAILED``)."""

    queue: str = "payouts"
    retry_delay: float = 30.0

    @property
    def dead(self) -> str:
        """Jobs refused for good."""
        return f"{self.queue}.dead"

    @property
    def retry(self) -> str:
        """Jobs waiting ``retry_delay`` seconds before they go back to the work queue."""
        return f"{self.queue}.retry"

    async def declare(self, channel: AbstractChannel) -> AbstractQueue:
        """Declare the three durable queues (idempotent); return the work queue."""
        await channel.declare_queue(self.dead, durable=True)
        await channel.declare_queue(
            self.retry,
            durable=True,
            arguments={
                "x-message-ttl": int(self.retry_delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.queue,
            },
        )
        return await channel.declare_queue(
            self.queue,
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead},
        )


def encode_job(job: worker_pool.PayoutJob) -> bytes:
    """A job as a message body (JSON)."""
    return json.dumps(asdict(job), separators=(",", ":")).encode()


def decode_job(body: bytes) -> worker_pool.PayoutJob:
    """The job of a message body. Raises ``ValueError`` (or ``TypeError``) if it is not one."""
    fields = json.loads(body)
    if not isinstance(fields, dict):
        raise TypeError(type(fields).__name__)
    return worker_pool.PayoutJob(**{str(k): str(v) for k, v in fields.items()})


async def publish_jobs(
    channel: AbstractChannel, routing_key: str, jobs: list[worker_pool.PayoutJob]
) -> None:
    """Publish persistent jobs; each ``publish`` returns once the broker confirmed it."""
    for job in jobs:
        message = aio_pika.Message(encode_job(job), delivery_mode=PERSISTENT)
        await channel.default_exchange.publish(message, routing_key=routing_key)


class BrokerWorker:
    """Consumes payout jobs from RabbitMQ and acks each only once the journal has its outcome.

    Args:
        client: the process's one client (its store is the shared journal).
        channel: an aio-pika channel (publisher confirms on: the default) with its prefetch set.
        topology: the queues.
        notify_url: where PayerMax posts results.
        drain_timeout: after :meth:`stop`, how long payouts in flight may take before they are
            cancelled (their jobs are then redelivered; the journal keeps them in doubt).
        reconcile_every: seconds between ``reconcile()`` runs (``None``: off).
        on_event: see :data:`OnEvent`.

    Attributes:
        counts: how many jobs ended ``done``, ``dead``, ``parked`` or ``handed_back``.
    """

    def __init__(
        self,
        client: PayerMaxClient,
        channel: AbstractChannel,
        topology: Topology,
        *,
        notify_url: str | None = None,
        drain_timeout: float = 30.0,
        reconcile_every: float | None = 60.0,
        on_event: OnEvent | None = None,
    ) -> None:
        self.client = client
        self.channel = channel
        self.topology = topology
        self.notify_url = notify_url
        self.drain_timeout = drain_timeout
        self.reconcile_every = reconcile_every
        self.on_event = on_event
        self.counts: Counter[str] = Counter()
        self._in_flight: set[asyncio.Task[object]] = set()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop taking jobs (the SIGTERM handler); payouts in flight go on."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until :meth:`stop`, then drain the payouts in flight."""
        queue = await self.topology.declare(self.channel)
        tag = await queue.consume(self._on_message)
        reconciler = asyncio.create_task(self._reconcile_forever())
        try:
            await self._stopping.wait()
        finally:
            reconciler.cancel()
            await queue.cancel(tag)  # no new deliveries; prefetched ones are handed back below
            if self._in_flight:
                _, late = await asyncio.wait(self._in_flight, timeout=self.drain_timeout)
                for task in late:
                    task.cancel()  # its job is never acked: the broker redelivers it
            await asyncio.gather(reconciler, *self._in_flight, return_exceptions=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            if self._stopping.is_set():
                await message.nack(requeue=True)  # arrived while stopping: another worker takes it
                self.counts["handed_back"] += 1
                return
            await self._handle(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        redelivered = bool(message.redelivered)
        try:
            job: worker_pool.PayoutJob | None = decode_job(message.body)
        except (ValueError, TypeError):
            job = None  # unreadable: dead-lettered
        key = job.withdrawal_id if job is not None else ""
        if job is not None:
            await self._event("received", key, redelivered)
        verdict = await self._pay(job) if job is not None else "dead"
        parks = int(str(message.headers.get("x-parked", 0)))
        if verdict == "parked" and parks >= MAX_PARKS:
            verdict = "dead"
        await self._event(verdict, key, redelivered)
        if verdict == "done":
            await message.ack()
        elif verdict == "dead":
            await message.reject(requeue=False)  # the broker dead-letters it to {queue}.dead
        else:
            # Confirmed before the ack: a crash in between leaves two copies (which the journal
            # makes harmless), never none.
            copy = aio_pika.Message(
                message.body, delivery_mode=PERSISTENT, headers={"x-parked": parks + 1}
            )
            await self.channel.default_exchange.publish(copy, routing_key=self.topology.retry)
            await message.ack()
        self.counts[verdict] += 1

    async def _pay(self, job: worker_pool.PayoutJob) -> str:
        try:
            await self.client.payouts.create(job.request(self.notify_url))
        except PayoutOutcomeUnknown:
            return "parked"  # may exist: keep the job until the journal knows
        except (InvalidRequestError, ValidationError, IdempotencyConflictError):
            return "dead"  # refused for good: no retry of this job can ever pay it
        except PayerMaxError:
            return "parked"  # provably not sent: the same number, later
        return "done"

    async def _event(self, event: str, withdrawal_id: str, redelivered: bool) -> None:
        if self.on_event is not None:
            await self.on_event(event, withdrawal_id, redelivered)

    async def _reconcile_forever(self) -> None:
        for _ in range(sys.maxsize if self.reconcile_every else 0):  # until run() cancels it
            await asyncio.sleep(self.reconcile_every or 0)
            with contextlib.suppress(PayerMaxError):
                await self.client.payouts.reconcile()


@dataclass(frozen=True)
class WorkerPlan:
    """What one worker process needs (picklable: it crosses a process boundary)."""

    config: dict[str, object]
    store: worker_pool.StoreSpec
    topology: Topology
    amqp_url: str = AMQP_URL
    prefetch: int = 16
    notify_url: str | None = None
    timeout: float | None = None
    absence_window: float = 600.0  # keep PayerMax's default; a sandbox's tests may shorten it


async def work(
    plan: WorkerPlan, *, retry: RetryPolicy | None = None, on_event: OnEvent | None = None
) -> Counter[str]:
    """One worker process's life: journal, client, broker; consume until SIGTERM or SIGINT."""
    store = plan.store.open()
    try:
        async with PayerMaxClient(
            PayerMaxConfig(**plan.config),  # type: ignore[arg-type]
            store=store,
            retry=retry,
            timeout=plan.timeout,
            absence_window=plan.absence_window,
        ) as client:
            connection = await aio_pika.connect_robust(plan.amqp_url)
            async with connection:
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=plan.prefetch)
                worker = BrokerWorker(
                    client, channel, plan.topology, notify_url=plan.notify_url, on_event=on_event
                )
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, worker.stop)
                await worker.run()
                return worker.counts
    finally:
        await store.aclose()


def _process_main(plan: WorkerPlan) -> None:
    print(f"[pid {os.getpid()}] stopped: {dict(asyncio.run(work(plan)))}", flush=True)


# ----------------------------------------------------------------------------------------- demo


async def _wait_until_done(
    channel: AbstractChannel,
    topology: Topology,
    spec: worker_pool.StoreSpec,
    jobs: list[worker_pool.PayoutJob],
) -> None:
    """Wait (bounded) until no job is queued or parked and the journal has every job's outcome."""
    store = spec.open()
    try:
        for _ in range(1200):  # at most about ten minutes
            queued = 0
            for name in (topology.queue, topology.retry):
                declared = await channel.declare_queue(name, passive=True)
                queued += declared.declaration_result.message_count or 0
            statuses = await worker_pool.journal_statuses(store, jobs)
            unsettled = ("NOT_STARTED", "CLAIMED", "SENT", "IN_DOUBT")
            if not queued and all(s not in unsettled for s in statuses.values()):
                return
            await asyncio.sleep(0.5)
    finally:
        await store.aclose()


async def _pay_with_processes(
    plan: WorkerPlan, count: int, jobs: list[worker_pool.PayoutJob]
) -> None:
    """Start ``count`` worker processes (spawned: no forked loop or sockets), wait until every job
    is settled, then stop them with SIGTERM, gracefully."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_process_main, args=(plan,)) for _ in range(count)]
    for process in processes:
        process.start()
    connection = await aio_pika.connect_robust(plan.amqp_url)
    try:
        async with connection:
            await _wait_until_done(await connection.channel(), plan.topology, plan.store, jobs)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.get_running_loop().run_in_executor(None, process.join, 60)


async def main(argv: list[str] | None = None) -> int:
    """``python examples/rabbitmq_pool.py``: demo jobs paid by worker processes, on a sandbox.

    Against PayerMax, run :func:`work` in each worker process instead, with your own queue.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=50, help="how many withdrawals to pay")
    parser.add_argument("--processes", type=int, default=3, help="worker processes")
    parser.add_argument("--prefetch", type=int, default=16, help="unacked jobs per process")
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", AMQP_URL))
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]  # this run's withdrawals, queues and journal keys
    async with contextlib.AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(SandboxGateway())
        print(f"An embedded SandboxGateway at {gateway.base_url}")
        sqlite_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "journal.db"
        spec = await worker_pool.choose_store(
            args.redis_url, str(sqlite_path), prefix=f"payermax-rabbit:{tag}:"
        )
        topology = Topology(queue=f"payouts-demo-{tag}", retry_delay=2.0)
        connection = await stack.enter_async_context(await aio_pika.connect_robust(args.amqp_url))
        channel = await connection.channel()
        await topology.declare(channel)
        jobs = worker_pool.demo_jobs(tag, args.jobs)
        await publish_jobs(channel, topology.queue, jobs)
        print(f"Published {len(jobs)} jobs to {topology.queue!r}; {args.processes} workers.")
        config = worker_pool.config_fields(gateway.config())
        plan = WorkerPlan(config, spec, topology, args.amqp_url, args.prefetch)
        await _pay_with_processes(plan, args.processes, jobs)
        store = spec.open()
        stack.push_async_callback(store.aclose)
        statuses = await worker_pool.journal_statuses(store, jobs)
        print(f"{len(jobs)} withdrawals, by the journal's state:")
        for line in worker_pool.summary_lines(statuses):
            print(line)
        pays = gateway.ledger.post_count(api="paymentOrderPay")
        print(f"{len(gateway.ledger.orders)} payouts at the gateway ({pays} pay requests).")
        for name in (topology.queue, topology.retry, topology.dead):
            await channel.queue_delete(name)
        if spec.redis_url is not None:
            await worker_pool.forget_run(spec)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

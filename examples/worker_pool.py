"""Payout workers: N asyncio workers (or N processes) paying jobs from a queue, exactly once.

Run it (an embedded sandbox gateway starts when ``PAYERMAX_APP_ID`` is not set)::

    python examples/worker_pool.py                      # 4 workers in this process
    python examples/worker_pool.py --processes 3        # 3 processes sharing one journal
    python examples/worker_pool.py --redis-url redis://127.0.0.1:6379/0

What it shows:

- the workers share one client and one journal: a :class:`RedisStore` when Redis answers, else a
  :class:`SQLiteStore` file (said clearly: then only processes on this host can share it);
- the queue is at-least-once (the demo enqueues every job twice, as a broker may redeliver): the
  journal makes each withdrawal one payout, whichever worker or process gets it;
- graceful shutdown on SIGINT/SIGTERM: stop taking jobs; payouts in flight finish, or, after
  ``drain_timeout``, are cancelled and stay **in doubt** in the journal for ``reconcile()``; jobs not
  started are handed back, never lost;
- a periodic reconciler settles payouts in doubt and pending payouts whose notification never came.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from payermax_async import (
    IdempotencyConflictError,
    IdempotencyStore,
    PayerMaxClient,
    PayerMaxConfig,
    PayerMaxError,
    PayoutNotification,
    PayoutOutcomeUnknown,
    RedisStore,
    RetryPolicy,
    SQLiteStore,
    ValidationError,
    WebhookVerifier,
    webhooks,
)
from payermax_async.errors import InvalidRequestError
from payermax_async.sandbox import SandboxGateway

IN_DOUBT = "IN_DOUBT"
_RANK = {IN_DOUBT: -1, "PENDING": 0, "SUCCESS": 1, "FAILED": 1, "BOUNCEBACK": 2}
#: A worker handles at most this many jobs before it returns (every loop is bounded).
_MAX_JOBS_PER_WORKER = 10_000_000
Say = Callable[[str], None]


@dataclass(frozen=True)
class PayoutJob:
    """One withdrawal to pay. ``withdrawal_id`` is the ``outTradeNo``: fixed before the first try."""

    withdrawal_id: str
    amount: str
    target_org: str = "DANA"
    account_no: str = "081234567890"
    country: str = "ID"
    currency: str = "IDR"

    def request(self, notify_url: str | None) -> dict[str, object]:
        """The payout's wire ``data``."""
        data: dict[str, object] = {
            "outTradeNo": self.withdrawal_id,
            "country": self.country,
            "trade": {"amount": self.amount, "currency": self.currency},
            "payeeInfo": {
                "paymentMethodType": "WALLET",
                "targetOrg": self.target_org,
                "accountInfo": {"accountNo": self.account_no},
            },
        }
        if notify_url:
            data["notifyUrl"] = notify_url
        return data


class PayoutPool:
    """``workers`` asyncio tasks paying the jobs of ``queue`` through one shared client.

    Args:
        client: the process's one client (its store is the shared journal).
        queue: where jobs arrive.
        workers: how many payouts may be in flight at once.
        notify_url: where PayerMax posts results.
        reconcile_every: seconds between reconciler runs while :meth:`run` runs (``None``: off).
        stale_after: a pending payout with no news for this long is queried by the reconciler.
        drain_timeout: after :meth:`stop`, how long in-flight payouts may take before they are
            cancelled (and left in doubt in the journal).
        say: where progress lines go.

    Attributes:
        results: withdrawal id → ``PENDING``/``SUCCESS``/``FAILED``/``BOUNCEBACK``/``IN_DOUBT``/
            ``REJECTED``/``CONFLICT``/``NOT_SENT``.
    """

    def __init__(
        self,
        client: PayerMaxClient,
        queue: asyncio.Queue[PayoutJob],
        *,
        workers: int = 4,
        notify_url: str | None = None,
        reconcile_every: float | None = 30.0,
        stale_after: float = 300.0,
        drain_timeout: float = 30.0,
        say: Say = print,
    ) -> None:
        self.client = client
        self.queue = queue
        self.workers = workers
        self.notify_url = notify_url
        self.reconcile_every = reconcile_every
        self.stale_after = stale_after
        self.drain_timeout = drain_timeout
        self.say = say
        self.results: dict[str, str] = {}
        self.jobs: dict[str, PayoutJob] = {}
        self.in_flight: set[str] = set()
        self._updated: dict[str, float] = {}
        self._stopping = asyncio.Event()

    # -------------------------------------------------------------------------------- results

    def record(self, withdrawal_id: str, status: str) -> None:
        """Apply a status (forward only; ``IN_DOUBT`` never hides a known one)."""
        old = self.results.get(withdrawal_id)
        if old is None or _RANK.get(status, -2) >= _RANK.get(old, -2):
            self.results[withdrawal_id] = status
            self._updated[withdrawal_id] = time.monotonic()

    async def on_notification(self, notification: PayoutNotification) -> None:
        """The webhook callback: a payout's new status."""
        self.record(notification.data.out_trade_no, notification.data.status.value)

    # ------------------------------------------------------------------------------- lifecycle

    def stop(self) -> None:
        """Stop taking jobs (the SIGINT/SIGTERM handler). In-flight payouts go on."""
        if not self._stopping.is_set():
            self.say("stopping: no new jobs; waiting for payouts in flight")
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    async def run(self, *, until_empty: bool = False) -> None:
        """Pay jobs until :meth:`stop` (or, with ``until_empty``, until the queue is empty)."""
        workers = [
            asyncio.create_task(self._worker(until_empty), name=f"payout-worker-{i}")
            for i in range(self.workers)
        ]
        reconciler: asyncio.Task[object] | None = (
            asyncio.create_task(self._reconcile_forever())
            if self.reconcile_every is not None
            else None
        )
        stop: asyncio.Task[object] = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([*workers, stop], return_when=asyncio.FIRST_COMPLETED)
            if self.stopping:
                _, late = await asyncio.wait(workers, timeout=self.drain_timeout)
                for worker in late:  # their payouts stay IN_DOUBT in the journal
                    worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            helpers: list[asyncio.Task[object]] = [stop]
            if reconciler is not None:
                helpers.append(reconciler)
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def leftover(self) -> list[PayoutJob]:
        """Jobs never started: hand them back to the queue's broker (here: just returned)."""
        jobs: list[PayoutJob] = []
        for _ in range(self.queue.qsize()):
            jobs.append(self.queue.get_nowait())
            self.queue.task_done()
        return jobs

    # --------------------------------------------------------------------------------- workers

    async def _next_job(self, until_empty: bool) -> PayoutJob | None:
        if self.stopping:
            return None
        if until_empty:
            try:
                return self.queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
        getter = asyncio.ensure_future(self.queue.get())
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({getter, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not getter.done():
            getter.cancel()
            return None
        job = getter.result()
        if self.stopping:  # both at once: the stop wins, the job goes back
            self.queue.put_nowait(job)
            self.queue.task_done()
            return None
        return job

    async def _worker(self, until_empty: bool) -> None:
        for _ in range(_MAX_JOBS_PER_WORKER):
            job = await self._next_job(until_empty)
            if job is None:
                return
            try:
                await self._pay(job)
            finally:
                self.queue.task_done()

    async def _pay(self, job: PayoutJob) -> None:
        key = job.withdrawal_id
        self.jobs[key] = job
        self.in_flight.add(key)
        try:
            result = await self.client.payouts.create(job.request(self.notify_url))
            self.record(key, result.status.value)
        except asyncio.CancelledError:
            # Shut down mid-payout: the journal holds it in doubt; reconcile() settles it.
            self.record(key, IN_DOUBT)
            raise
        except PayoutOutcomeUnknown:
            self.record(key, IN_DOUBT)
        except IdempotencyConflictError:
            self.record(key, "CONFLICT")
        except (ValidationError, InvalidRequestError):
            self.record(key, "REJECTED")  # refused for good: no payout exists
        except PayerMaxError:
            # Provably nothing exists (connection refused, rate limited, credentials refused, ...):
            # safe to retry later with the same number.
            self.record(key, "NOT_SENT")
        finally:
            self.in_flight.discard(key)

    # ------------------------------------------------------------------------------ reconciler

    async def reconcile_once(self, *, stale_after: float | None = None) -> None:
        """Settle payouts in doubt (query first; resend the same number only if none exists) and
        query pending payouts whose notification is ``stale_after`` seconds late."""
        for order in await self.client.payouts.reconcile():
            self.record(order.out_trade_no, order.status.value)
        cutoff = time.monotonic() - (self.stale_after if stale_after is None else stale_after)
        for key, status in list(self.results.items()):
            if key in self.in_flight or self._updated.get(key, 0.0) > cutoff:
                continue
            try:
                if status == IN_DOUBT and key in self.jobs:
                    result = await self.client.payouts.create(
                        self.jobs[key].request(self.notify_url)
                    )
                    self.record(key, result.status.value)
                elif status == "PENDING":
                    self.record(key, (await self.client.payouts.retrieve(key)).status.value)
            except PayerMaxError:
                continue  # still unclear: the next run tries again

    async def _reconcile_forever(self) -> None:
        assert self.reconcile_every is not None
        for _ in range(sys.maxsize):  # ends when run() cancels it
            await asyncio.sleep(self.reconcile_every)
            with contextlib.suppress(PayerMaxError):
                await self.reconcile_once()


def install_signal_handlers(pool: PayoutPool) -> Callable[[], None]:
    """SIGINT/SIGTERM → :meth:`PayoutPool.stop`. Returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, non-main thread
            loop.add_signal_handler(signum, pool.stop)
            installed.append(signum)

    def remove() -> None:
        for signum in installed:
            loop.remove_signal_handler(signum)

    return remove


# ----------------------------------------------------------------------------------- the journal


@dataclass(frozen=True)
class StoreSpec:
    """How to open the shared journal in any process: Redis (``redis_url``) or a SQLite file."""

    redis_url: str | None = None
    redis_prefix: str = "payermax:"
    sqlite_path: str | None = None

    def open(self) -> IdempotencyStore:
        """Open the journal this spec names."""
        if self.redis_url is not None:
            return RedisStore(self.redis_url, prefix=self.redis_prefix)
        assert self.sqlite_path is not None
        return SQLiteStore(self.sqlite_path)


async def choose_store(
    redis_url: str, sqlite_path: str, *, prefix: str = "payermax:", say: Say = print
) -> StoreSpec:
    """Redis if it answers a PING within a second, else the SQLite file (and say so)."""
    import redis.asyncio as redis_asyncio

    probe = redis_asyncio.Redis.from_url(redis_url, socket_connect_timeout=1.0)
    try:
        await probe.ping()
    except Exception as exc:
        say(f"Redis at {redis_url} is not reachable ({type(exc).__name__}).")
        say(
            f"FALLBACK: journal in SQLite file {sqlite_path}; only processes on this host share it."
        )
        return StoreSpec(sqlite_path=sqlite_path)
    finally:
        await probe.aclose()
    say(f"Journal: RedisStore at {redis_url} (prefix {prefix!r}), shared by every worker.")
    return StoreSpec(redis_url=redis_url, redis_prefix=prefix)


# ------------------------------------------------------------------------------- several processes


@dataclass(frozen=True)
class ProcessPlan:
    """What one worker process gets (picklable: it crosses a process boundary)."""

    config: dict[str, object]
    store: StoreSpec
    jobs: tuple[PayoutJob, ...]
    workers: int
    notify_url: str | None


def config_fields(config: PayerMaxConfig) -> dict[str, object]:
    """The settings to rebuild ``config`` in another process."""
    return {
        "app_id": config.app_id,
        "merchant_no": config.merchant_no,
        "merchant_private_key": config.merchant_private_key,
        "platform_public_key": config.platform_public_key,
        "environment": config.environment.value,
        "base_url": config.base_url,
        "key_version": config.key_version,
        "key_password": config.key_password,
    }


async def run_plan(plan: ProcessPlan, *, retry: RetryPolicy | None = None) -> dict[str, str]:
    """One worker process's life: open the journal and a client, pay its jobs, stop on a signal."""
    store = plan.store.open()
    try:
        async with PayerMaxClient(
            PayerMaxConfig(**plan.config),  # type: ignore[arg-type]
            store=store,
            retry=retry,
        ) as client:
            queue: asyncio.Queue[PayoutJob] = asyncio.Queue()
            for job in plan.jobs:
                queue.put_nowait(job)
            pool = PayoutPool(
                client,
                queue,
                workers=plan.workers,
                notify_url=plan.notify_url,
                reconcile_every=None,
                say=lambda line: print(f"[pid {os.getpid()}] {line}", flush=True),
            )
            remove = install_signal_handlers(pool)
            try:
                await pool.run(until_empty=True)
            finally:
                remove()
            return pool.results
    finally:
        await store.aclose()


def _process_main(plan: ProcessPlan) -> None:
    asyncio.run(run_plan(plan))


def split_jobs(jobs: list[PayoutJob], processes: int) -> list[tuple[PayoutJob, ...]]:
    """Give every job to two processes (when there are two), as an at-least-once queue may."""
    shares: list[list[PayoutJob]] = [[] for _ in range(processes)]
    for index, job in enumerate(jobs):
        shares[index % processes].append(job)
        if processes > 1:
            shares[(index + 1) % processes].append(job)
    return [tuple(share) for share in shares]


async def run_processes(
    plans: list[ProcessPlan], *, say: Say = print, join_timeout: float = 120.0
) -> list[int | None]:
    """Start one process per plan (spawned: no forked event loop or sockets) and wait for them.

    SIGINT/SIGTERM in the parent is passed on as SIGTERM, so every child stops gracefully.
    Returns the exit codes.
    """
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_process_main, args=(plan,)) for plan in plans]
    for process in processes:
        process.start()
    say(f"started {len(processes)} worker processes: {[p.pid for p in processes]}")
    loop = asyncio.get_running_loop()

    def forward() -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the child's pool stops taking jobs

    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, forward)
            installed.append(signum)
    try:
        for process in processes:
            await loop.run_in_executor(None, process.join, join_timeout)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    return [process.exitcode for process in processes]


async def journal_statuses(store: IdempotencyStore, jobs: list[PayoutJob]) -> dict[str, str]:
    """Each job's state as the shared journal records it."""
    statuses: dict[str, str] = {}
    for job in jobs:
        record = await store.get(job.withdrawal_id)
        if record is None:
            statuses[job.withdrawal_id] = "NOT_STARTED"
        elif record.status is not None:
            statuses[job.withdrawal_id] = record.status.value
        else:
            statuses[job.withdrawal_id] = record.state.value
    return statuses


def summary_lines(statuses: dict[str, str], *, examples: int = 3) -> list[str]:
    """A bounded summary of ``{withdrawal id: status}``: one line per status, its count and at most
    ``examples`` ids, so ten thousand jobs still print a handful of lines."""
    by_status: dict[str, list[str]] = {}
    for key, status in statuses.items():
        by_status.setdefault(status, []).append(key)
    lines = []
    for status, keys in sorted(by_status.items(), key=lambda item: (-len(item[1]), item[0])):
        shown = ", ".join(sorted(keys)[:examples])
        more = f", ... ({len(keys) - examples} more)" if len(keys) > examples else ""
        lines.append(f"  {status:<11} {len(keys):>6}  e.g. {shown}{more}")
    return lines


# ----------------------------------------------------------------------------------------- demo


def demo_jobs(tag: str, count: int) -> list[PayoutJob]:
    """Jobs whose sandbox outcomes vary: 11000 fails, 10000 stays pending, others succeed."""
    amounts = ("15000", "11000", "20000", "10000", "30000")
    return [
        PayoutJob(withdrawal_id=f"WD_{tag}_{n:03d}", amount=amounts[n % len(amounts)])
        for n in range(count)
    ]


@contextlib.asynccontextmanager
async def webhook_receiver(
    config: PayerMaxConfig, store: IdempotencyStore, on_notification: webhooks.NotificationCallback
) -> AsyncIterator[str]:
    """A loopback aiohttp server receiving notifications; yields its URL."""
    app = web.Application()
    verifier = WebhookVerifier.from_config(config)
    app.router.add_post(
        "/payermax/notifications",
        webhooks.aiohttp_handler(verifier, on_notification, dedupe=store),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/payermax/notifications"
    finally:
        await runner.cleanup()


async def main(argv: list[str] | None = None) -> int:
    """``python examples/worker_pool.py``: pay demo jobs with N workers (or N processes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=20, help="how many withdrawals to pay")
    parser.add_argument("--workers", type=int, default=4, help="asyncio workers per process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--sqlite", default=None, help="SQLite journal file if Redis is down")
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]  # this run's withdrawals and journal keys
    async with contextlib.AsyncExitStack() as stack:
        if os.environ.get("PAYERMAX_APP_ID", "").strip():
            print("Using the PayerMax gateway configured by the PAYERMAX_* variables.")
            config = PayerMaxConfig.from_env()
            if config.base_url is None and config.environment.value == "production":
                print("refusing to pay demo withdrawals in production", file=sys.stderr)
                return 2
            gateway = None
        else:
            gateway = await stack.enter_async_context(SandboxGateway())
            print(
                f"No PAYERMAX_* variables: using an embedded SandboxGateway at {gateway.base_url}"
            )
            config = gateway.config()
        sqlite_path = args.sqlite or str(
            Path(stack.enter_context(tempfile.TemporaryDirectory())) / "journal.db"
        )
        # A sandbox's payouts die with it: its run gets journal keys of its own, deleted at the end.
        prefix = f"payermax-example:{tag}:" if gateway is not None else "payermax:"
        spec = await choose_store(args.redis_url, sqlite_path, prefix=prefix)
        store = spec.open()
        stack.push_async_callback(store.aclose)
        client = await stack.enter_async_context(PayerMaxClient(config, store=store))
        jobs = demo_jobs(tag, args.jobs)
        queue: asyncio.Queue[PayoutJob] = asyncio.Queue()
        pool = PayoutPool(client, queue, workers=args.workers, reconcile_every=5.0)
        handed_back = 0
        notify_url = await stack.enter_async_context(
            webhook_receiver(config, store, pool.on_notification)
        )
        pool.notify_url = notify_url
        if args.processes > 1:
            plans = [
                ProcessPlan(config_fields(config), spec, share, args.workers, notify_url)
                for share in split_jobs(jobs, args.processes)
            ]
            codes = await run_processes(plans)
            print(f"worker processes exited with {codes}")
        else:
            for job in [*jobs, *jobs]:  # every job twice: an at-least-once queue redelivering
                queue.put_nowait(job)
            remove = install_signal_handlers(pool)
            print(f"Paying {len(jobs)} withdrawals, each queued twice; SIGTERM or Ctrl-C stops.")
            try:
                await pool.run(until_empty=True)
            finally:
                remove()
            handed_back = len(pool.leftover())
        if gateway is not None:
            await gateway.settle()  # let the sandbox finish and notify
        await pool.reconcile_once(stale_after=0.0)
        statuses = await journal_statuses(store, jobs)
        print(f"{len(jobs)} withdrawals, by the journal's state:")
        for line in summary_lines(statuses):
            print(line)
        if handed_back:
            # Each withdrawal sits in the queue twice: a copy handed back may belong to a withdrawal
            # already paid through its other copy, so the two counts differ.
            never = sum(1 for status in statuses.values() if status == "NOT_STARTED")
            print(f"Stopped early: {handed_back} queued copies handed back, {never} never started.")
        if gateway is not None:
            pays = gateway.ledger.post_count(api="paymentOrderPay")
            started = sum(1 for status in statuses.values() if status != "NOT_STARTED")
            # Facts only: after a SIGTERM not every withdrawal started, and one in doubt or refused
            # has no order, so "one payout per withdrawal" is for the reader to check, not to claim.
            print(
                f"{len(gateway.ledger.orders)} payouts at the gateway for {started} withdrawals "
                f"started ({pays} pay requests)."
            )
        if gateway is not None and spec.redis_url is not None:
            await forget_run(spec)
    return 0


async def forget_run(spec: StoreSpec) -> None:
    """Delete this demo run's journal keys (the sandbox's payouts died with it)."""
    import redis.asyncio as redis_asyncio

    assert spec.redis_url is not None
    redis = redis_asyncio.Redis.from_url(spec.redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{spec.redis_prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""A RabbitMQ worker process for the broker tests: ``examples/rabbitmq_pool.py``'s ``work()``,
reporting every job event to a Redis list.

``python -m tests.examples._rabbit_child AMQP_URL QUEUE REDIS_URL PREFIX``, with the sandbox's
credentials in ``PAYERMAX_*``. Each event is pushed to ``{PREFIX}events`` as
``"<pid> <event> <withdrawal id> <redelivered 0|1>"`` before the broker is told.
"""

from __future__ import annotations

import asyncio
import os
import sys

import redis.asyncio as redis_asyncio

from examples import rabbitmq_pool, worker_pool
from payermax_async import PayerMaxConfig
from payermax_async.testing import fast_retry_policy


async def main(amqp_url: str, queue: str, redis_url: str, prefix: str) -> None:
    events = redis_asyncio.Redis.from_url(redis_url)
    pid = os.getpid()

    async def report(event: str, withdrawal_id: str, redelivered: bool) -> None:
        await events.rpush(f"{prefix}events", f"{pid} {event} {withdrawal_id} {int(redelivered)}")

    plan = rabbitmq_pool.WorkerPlan(
        worker_pool.config_fields(PayerMaxConfig.from_env()),
        worker_pool.StoreSpec(redis_url=redis_url, redis_prefix=prefix),
        rabbitmq_pool.Topology(queue=queue, retry_delay=0.2),  # as the tests declared it
        amqp_url=amqp_url,
        prefetch=16,
        # Short leases and absence window: the sandbox commits at once, so a dead worker's payouts
        # are taken over (query first) in about 40 s instead of minutes.
        timeout=3.0,
        absence_window=2.0,
    )
    try:
        counts = await rabbitmq_pool.work(
            plan, retry=fast_retry_policy(deadline=5.0), on_event=report
        )
    finally:
        await events.aclose()
    print(dict(counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

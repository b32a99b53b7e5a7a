"""A child process that pays a batch through a durable store and prints {outTradeNo: tradeNo}.

Run by the crash and multi-process tests: ``python -m tests.e2e._payer_child <store> <where>
<prefix> <count> [reconcile]``, with the sandbox's credentials in ``PAYERMAX_*``. ``<store>`` is
``sqlite`` (``<where>``: the file), ``redis`` (the URL; the key prefix is ``PAYERMAX_TEST_REDIS_PREFIX``
or ``<prefix>:``), ``postgres`` (the schema, on
``PAYERMAX_TEST_POSTGRES_URL``) or ``relay`` (the schema: send what its outbox holds instead).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from payermax_async import (
    IdempotencyStore,
    PayerMaxClient,
    PayerMaxConfig,
    PayoutResult,
    PostgresStore,
    RedisStore,
    SQLiteStore,
)
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout
from tests.support.postgres import POSTGRES_URL


def requests(prefix: str, count: int) -> list[dict[str, object]]:
    """The batch every run pays: the same numbers and data each time."""
    return [payout(f"{prefix}{i:04d}", amount=str(10 + i % 40)) for i in range(count)]


def open_store(kind: str, where: str, prefix: str) -> IdempotencyStore:
    """The journal the parent named."""
    if kind == "sqlite":
        return SQLiteStore(where)
    if kind in ("postgres", "relay"):
        return PostgresStore(POSTGRES_URL, schema=where)
    # The crash test gives the journal a key prefix of its own (another run may share the Redis).
    return RedisStore(where, prefix=os.environ.get("PAYERMAX_TEST_REDIS_PREFIX", f"{prefix}:"))


async def main(kind: str, where: str, prefix: str, count: int, reconcile: bool) -> None:
    store = open_store(kind, where, prefix)
    try:
        async with PayerMaxClient(
            PayerMaxConfig.from_env(), store=store, retry=fast_retry_policy()
        ) as client:
            if reconcile:
                # A restart after a crash on one host: the dead process's leases are void.
                await client.payouts.reconcile(include_leased=True)
            if kind == "relay":
                report = await client.payouts.send_reserved(limit=count, concurrency=16)
                sys.stdout.write(json.dumps({r.out_trade_no: r.trade_no for r in report}) + "\n")
                return
            results = await client.payouts.create_many(requests(prefix, count), concurrency=16)
    finally:
        await store.aclose()
    summary = {
        str(request["outTradeNo"]): (
            str(result.trade_no) if isinstance(result, PayoutResult) else type(result).__name__
        )
        for request, result in zip(requests(prefix, count), results, strict=True)
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    kind, where, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    asyncio.run(main(kind, where, prefix, count, reconcile="reconcile" in sys.argv[5:]))

"""Real processes: SIGKILL crashes over SQLiteStore, RedisStore and PostgresStore (a payer, and an outbox relay),
and four payers sharing one RedisStore (one node or a Redis Cluster) or one PostgresStore."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from payermax_async import PayerMaxClient, PostgresStore, RedisStore, SQLiteStore
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import JournalStore, RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout
from tests.support.postgres import POSTGRES_URL, postgres_store
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAY = "paymentOrderPay"


def child_env(gw: SandboxGateway) -> dict[str, str]:
    """The sandbox's credentials, the way PayerMaxConfig.from_env() reads them."""
    return {
        **os.environ,
        "PAYERMAX_APP_ID": gw.app_id,
        "PAYERMAX_MERCHANT_NO": gw.merchant_no,
        "PAYERMAX_PRIVATE_KEY": gw.merchant_private_key,
        "PAYERMAX_PLATFORM_PUBLIC_KEY": gw.platform_public_key,
        "PAYERMAX_BASE_URL": gw.base_url,
    }


async def spawn(
    gw: SandboxGateway, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e._payer_child",
        *args,
        cwd=ROOT,
        env={**child_env(gw), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> dict[str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary: dict[str, str] = json.loads(out.decode().strip().splitlines()[-1])
    return summary


async def in_flight(store: JournalStore) -> set[str]:
    """Numbers the journal shows as possibly on the wire at this moment."""
    return {
        r.out_trade_no
        for r in await store.open_records()
        if r.state in (RecordState.SENT, RecordState.CLAIMED)
    }


Journal = tuple[str, str, JournalStore, dict[str, str]]


@pytest.fixture(params=["sqlite", "redis", "redis-cluster", "postgres"])
async def journal(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Journal]:
    """A durable journal for payer processes: (kind, where, the parent's own store on it, the
    children's extra environment)."""
    if request.param == "sqlite":
        db = tmp_path / "journal.db"
        async with SQLiteStore(db) as sqlite_store:
            yield "sqlite", str(db), sqlite_store, {}
        return
    if request.param == "postgres":
        async with postgres_store() as pg_store:
            yield "postgres", pg_store.schema, pg_store, {}
        return
    cluster = request.param == "redis-cluster"
    await (redis_cluster_or_skip() if cluster else redis_or_skip())
    url = REDIS_CLUSTER_URL if cluster else REDIS_URL
    prefix = f"payermax-test:{uuid.uuid4().hex}:"  # its own keys, whoever else uses this Redis
    try:
        async with RedisStore(url, prefix=prefix) as redis_store:
            yield "redis", url, redis_store, {"PAYERMAX_TEST_REDIS_PREFIX": prefix}
    finally:
        await (redis_cluster_cleanup if cluster else redis_cleanup)(prefix)


async def kill_at(gw: SandboxGateway, proc: asyncio.subprocess.Process, target: int) -> None:
    """SIGKILL ``proc`` once the sandbox holds ``target`` orders (or it exited by itself)."""
    for _ in range(20_000):  # bounded wait for the payer to reach the random moment
        if len(gw.ledger.orders) >= target or proc.returncode is not None:
            break
        await asyncio.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == -signal.SIGKILL


async def journalled_as_sent(store: JournalStore) -> set[str]:
    """Numbers whose journal record says a request may have left (or its order is known)."""
    records = [await store.get(f"KILL{i:04d}") for i in range(400)]
    return {r.out_trade_no for r in records if r is not None and r.attempts >= 1}


async def test_sigkill_three_times_then_reconcile_settles_every_order(
    gw: SandboxGateway, journal: Journal
) -> None:
    """400 payouts, the payer SIGKILLed at three random moments: after restart + reconcile every
    order exists once, results match the sandbox, and only in-flight numbers were POSTed again."""
    kind, where, store, env = journal
    rng = random.Random(7)
    count = 400
    exposed: set[str] = set()
    for low, high in ((30, 110), (150, 240), (270, 350)):
        target = rng.randint(low, high)
        payer = await spawn(gw, kind, where, "KILL", str(count), "reconcile", env=env)
        await kill_at(gw, payer, target)
        exposed |= await in_flight(store)
        # Committed before a byte left, batch or not: every order the gateway holds is in the
        # journal as sent (or settled), even for the transitions of the batch the kill cut short.
        assert set(gw.ledger.orders) <= await journalled_as_sent(store)
    assert 0 < len(gw.ledger.orders) < count  # the kills really interrupted the batch
    summary = await finish(await spawn(gw, kind, where, "KILL", str(count), "reconcile", env=env))
    assert len(gw.ledger.orders) == count
    assert summary == {k: o.trade_no for k, o in gw.ledger.orders.items()}
    reposted = {k for k in gw.ledger.orders if gw.ledger.post_count(api=PAY, out_trade_no=k) > 1}
    assert reposted <= exposed


@pytest.mark.parametrize("cluster", [False, True], ids=["redis", "redis-cluster"])
async def test_four_processes_one_redis_store_exactly_200_posts(
    gw: SandboxGateway, cluster: bool
) -> None:
    """Four processes paying the same 200 orders through one RedisStore: 200 POSTs, one tradeNo
    per order, identical reports from every process."""
    await (redis_cluster_or_skip() if cluster else redis_or_skip())
    url = REDIS_CLUSTER_URL if cluster else REDIS_URL
    prefix = f"R{uuid.uuid4().hex[:12]}_"
    procs = [await spawn(gw, "redis", url, prefix, "200") for _ in range(4)]
    try:
        summaries = await asyncio.gather(*(finish(p) for p in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.communicate()
        await (redis_cluster_cleanup if cluster else redis_cleanup)(f"{prefix}:")
    assert gw.ledger.post_count(api=PAY) == 200
    expected = {k: o.trade_no for k, o in gw.ledger.orders.items()}
    assert len(expected) == 200
    for summary in summaries:
        assert summary == expected


async def test_four_processes_one_postgres_journal_exactly_200_posts(gw: SandboxGateway) -> None:
    """Four processes paying the same 200 orders through one PostgreSQL journal: 200 POSTs, one
    tradeNo per order, identical reports from every process."""
    async with postgres_store() as store:
        procs = [await spawn(gw, "postgres", store.schema, "P", "200") for _ in range(4)]
        try:
            summaries = await asyncio.gather(*(finish(p) for p in procs))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.communicate()
    assert gw.ledger.post_count(api=PAY) == 200
    expected = {k: o.trade_no for k, o in gw.ledger.orders.items()}
    assert len(expected) == 200
    for summary in summaries:
        assert summary == expected


def sandbox_client(gw: SandboxGateway, store: JournalStore) -> PayerMaxClient:
    """A client of the sandbox on ``store``, with instant retries."""
    return PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy())


async def test_an_outbox_relay_killed_mid_way_loses_nothing(gw: SandboxGateway) -> None:
    """200 committed reservations, the relay process SIGKILLed mid-way: an hour later the next
    relay pays every remaining one, each number holds one order, every outbox row is done, and
    only numbers in flight at the kill were POSTed twice."""
    count = 200
    keys = [f"RELAY{i:04d}" for i in range(count)]
    async with postgres_store() as store:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            async with conn.transaction():
                for key in keys:
                    await store.reserve(conn, payout(key))
        finally:
            await conn.close()
        await kill_at(gw, await spawn(gw, "relay", store.schema, "-", str(count)), 60)
        exposed = await in_flight(store) & set(keys)
        pending = {row.out_trade_no for row in await store.reserved() if row.done_at is None}
        assert 0 < len(gw.ledger.orders) < count  # the kill really interrupted the relay
        later = PostgresStore(POSTGRES_URL, schema=store.schema, clock=lambda: time.time() + 3600)
        try:
            async with sandbox_client(gw, later) as client:
                report = await client.payouts.send_reserved(limit=count)
        finally:
            await later.aclose()
        rows = await store.reserved()
    assert {result.out_trade_no for result in report} == pending
    assert sorted(gw.ledger.orders) == keys
    assert all(row.done_at is not None for row in rows)
    reposted = {k for k in keys if gw.ledger.post_count(api=PAY, out_trade_no=k) > 1}
    assert reposted <= exposed

"""Real processes: SIGKILL crashes over SQLiteStore, and four payers sharing one RedisStore (on one
Redis node, and on a Redis Cluster)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import uuid
from pathlib import Path

import pytest

from payermax_async import SQLiteStore
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import RecordState
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


async def spawn(gw: SandboxGateway, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e._payer_child",
        *args,
        cwd=ROOT,
        env=child_env(gw),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> dict[str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary: dict[str, str] = json.loads(out.decode().strip().splitlines()[-1])
    return summary


async def in_flight(path: Path) -> set[str]:
    """Numbers the journal shows as possibly on the wire at this moment."""
    async with SQLiteStore(path) as store:
        return {
            r.out_trade_no
            for r in await store.open_records()
            if r.state in (RecordState.SENT, RecordState.CLAIMED)
        }


async def test_sigkill_three_times_then_reconcile_settles_every_order(
    gw: SandboxGateway, tmp_path: Path
) -> None:
    """400 payouts, the payer SIGKILLed at three random moments: after restart + reconcile every
    order exists once, results match the sandbox, and only in-flight numbers were POSTed again."""
    db = tmp_path / "journal.db"
    rng = random.Random(7)
    count = 400
    exposed: set[str] = set()
    for low, high in ((30, 110), (150, 240), (270, 350)):
        target = rng.randint(low, high)
        proc = await spawn(gw, "sqlite", str(db), "KILL", str(count), "reconcile")
        for _ in range(20_000):  # bounded wait for the payer to reach the random moment
            if len(gw.ledger.orders) >= target or proc.returncode is not None:
                break
            await asyncio.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == -signal.SIGKILL
        exposed |= await in_flight(db)
    assert 0 < len(gw.ledger.orders) < count  # the kills really interrupted the batch
    summary = await finish(await spawn(gw, "sqlite", str(db), "KILL", str(count), "reconcile"))
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

"""A real Redis for the tests: where it is, skip (or fail under PAYERMAX_REQUIRE_REDIS=1), clean up."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from redis.asyncio.cluster import RedisCluster

REDIS_URL = os.environ.get("PAYERMAX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_or_skip() -> None:
    """Skip when no Redis answers, unless PAYERMAX_REQUIRE_REDIS=1 (then fail)."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_REDIS") == "1":
            pytest.fail(f"PAYERMAX_REQUIRE_REDIS=1 but Redis at {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    finally:
        await client.aclose()


async def redis_cleanup(prefix: str) -> None:
    """Delete every key under ``prefix``."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ------------------------------------------------------------------------------ Redis Cluster

#: A Redis Cluster's URL (any node; ``.ci/redis-cluster`` starts one on 7101-7103).
REDIS_CLUSTER_URL = os.environ.get(
    "PAYERMAX_TEST_REDIS_CLUSTER_URL", "redis+cluster://127.0.0.1:7101"
)


async def redis_cluster_or_skip() -> None:
    """Skip when no Redis Cluster answers, unless PAYERMAX_REQUIRE_REDIS_CLUSTER=1 (then fail)."""
    client = _cluster_client()
    try:
        info = await asyncio.wait_for(client.cluster_info(), 5)
        if info.get("cluster_state") != "ok":
            msg = f"cluster_state is {info.get('cluster_state')!r}"
            raise RuntimeError(msg)
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_REDIS_CLUSTER") == "1":
            pytest.fail(
                f"PAYERMAX_REQUIRE_REDIS_CLUSTER=1 but no Redis Cluster at {REDIS_CLUSTER_URL}: {exc}"
            )
        pytest.skip(f"no Redis Cluster at {REDIS_CLUSTER_URL}")
    finally:
        await client.aclose()


async def redis_cluster_cleanup(prefix: str) -> None:
    """Delete every key under ``prefix`` on every master of the cluster."""
    client = _cluster_client()
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        # Keys of different slots cannot go in one DEL on a cluster: one each.
        for key in keys:
            await client.delete(key)
    finally:
        await client.aclose()


def _cluster_client() -> RedisCluster:
    """A cluster client for ``REDIS_CLUSTER_URL``, made the way ``RedisStore`` makes its own."""
    from redis.asyncio.cluster import RedisCluster

    from payermax_async.stores._redis_keys import connect

    client = connect(REDIS_CLUSTER_URL)
    assert isinstance(client, RedisCluster)
    return client

"""RedisStore's two key layouts: the earlier flat one on a Redis node (existing journals), hash tags
on a Redis Cluster (one slot per script, the journal spread over the masters); cluster URLs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

from payermax_async import ConfigurationError, RedisStore
from payermax_async.stores import ClaimOutcome, RecordState
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)

FP = "d" * 64


@pytest.fixture
async def cluster_store() -> AsyncIterator[RedisStore]:
    """A RedisStore on the test cluster under a fresh prefix, its keys deleted afterwards."""
    await redis_cluster_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store = RedisStore.from_url(REDIS_CLUSTER_URL, prefix=prefix)
    yield store
    await store.aclose()
    await redis_cluster_cleanup(prefix)


@pytest.fixture
async def node_store() -> AsyncIterator[RedisStore]:
    """A RedisStore on the single test node under a fresh prefix, its keys deleted afterwards."""
    await redis_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store = RedisStore(REDIS_URL, prefix=prefix)
    yield store
    await store.aclose()
    await redis_cleanup(prefix)


async def _claim(store: RedisStore, number: str, owner: str = "A") -> ClaimOutcome:
    claim = await store.claim(number, FP, owner=owner, lease_seconds=60, amount="5", currency="USD")
    return claim.outcome


async def test_a_record_of_an_earlier_version_is_read_and_settled_on_one_node(
    node_store: RedisStore,
) -> None:
    """A record written by an earlier version (flat keys, no maybe_sent field) is read where it
    was, listed as open, and its claim goes through the query first, as the rules demand."""
    prefix = node_store._prefix
    client = node_store._client
    old = {
        "out_trade_no": "OLD_0001",
        "fingerprint": FP,
        "state": "SENT",
        "attempts": 1,
        "amount": "5",
        "currency": "USD",
        "owner": "gone",
        "lease_expires": 1.0,
        "created_at": 1.0,
        "updated_at": 1.0,
    }
    await client.set(f"{prefix}payout:OLD_0001", json.dumps(old))
    await client.sadd(f"{prefix}open", "OLD_0001")
    record = await node_store.get("OLD_0001")
    assert record is not None
    assert (record.state, record.maybe_sent) == (RecordState.SENT, True)
    assert [r.out_trade_no for r in await node_store.open_records()] == ["OLD_0001"]
    assert await _claim(node_store, "OLD_0001", owner="B") is ClaimOutcome.QUERY_FIRST
    assert [r.out_trade_no for r in (await node_store.records_between()).records] == ["OLD_0001"]


async def test_a_node_keeps_the_flat_layout(node_store: RedisStore) -> None:
    """On one node new records go where every earlier version looks for them: processes of both
    versions sharing a Redis during an upgrade claim the same keys."""
    await _claim(node_store, "FLAT_0001")
    prefix = node_store._prefix
    client = node_store._client
    assert await client.exists(f"{prefix}payout:FLAT_0001") == 1
    assert await client.smembers(f"{prefix}open") == {b"FLAT_0001"}
    assert not node_store.cluster


async def test_every_script_touches_one_slot_and_the_journal_spreads_over_the_masters(
    cluster_store: RedisStore,
) -> None:
    """On a cluster each record shares its hash slot with its open-record index, and 300 numbers
    land on every master."""
    from redis.asyncio.cluster import RedisCluster

    numbers = [f"SPREAD_{i:04d}" for i in range(300)]
    await asyncio.gather(*(_claim(cluster_store, number) for number in numbers))
    client = cluster_store._client
    assert isinstance(client, RedisCluster)
    keys = cluster_store._keys
    nodes = set()
    for number in numbers:
        slot = client.keyslot(keys.record(number))
        assert slot == client.keyslot(keys.open_index(number))
        nodes.add(client.get_node_from_key(keys.record(number)).name)
    assert nodes == {node.name for node in client.get_primaries()}
    assert len(nodes) >= 3
    assert cluster_store.cluster
    assert "cluster" in repr(cluster_store)


async def test_a_fresh_cluster_store_takes_hundreds_of_concurrent_claims(
    cluster_store: RedisStore,
) -> None:
    """300 numbers and 20 owners of one more, all at once on a store that has not talked to the
    cluster yet: every claim is answered (no half-made connection, no connection-limit error) and
    the shared number has one winner."""
    shared = [_claim(cluster_store, "SHARED_0001", owner=f"O{i}") for i in range(20)]
    distinct = [_claim(cluster_store, f"MANY_{i:04d}") for i in range(300)]
    outcomes = await asyncio.gather(*shared, *distinct)
    assert outcomes[:20].count(ClaimOutcome.SEND) == 1
    assert set(outcomes[20:]) == {ClaimOutcome.SEND}
    assert len((await cluster_store.scan_open()).records) == 301


async def test_listing_reads_in_chunks_across_shards(cluster_store: RedisStore) -> None:
    """1,100 records (more than one MGET chunk) are all listed, open and by time."""
    await asyncio.gather(*(_claim(cluster_store, f"CHUNK_{i:05d}") for i in range(1_100)))
    assert len((await cluster_store.scan_open()).records) == 1_100
    assert len((await cluster_store.records_between()).records) == 1_100


async def test_a_cluster_url_may_list_several_nodes() -> None:
    """A node that does not answer, listed first, does not stop the store: the next one is used."""
    await redis_cluster_or_skip()
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    live = REDIS_CLUSTER_URL.split("://", 1)[1]
    store = RedisStore.from_url(f"redis+cluster://127.0.0.1:1,{live}", prefix=prefix)
    try:
        assert await _claim(store, "NODES_0001") is ClaimOutcome.SEND
        assert store.cluster
    finally:
        await store.aclose()
        await redis_cluster_cleanup(prefix)


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://user:s3cr3t-pw@127.0.0.1:notaport",
        "rediss+cluster://user:s3cr3t-pw@127.0.0.1",
        "ftp://user:s3cr3t-pw@127.0.0.1:6379",
    ],
)
def test_a_bad_url_is_a_configuration_error_without_the_password(url: str) -> None:
    """An unusable URL is a ConfigurationError at construction that never repeats the password."""
    with pytest.raises(ConfigurationError) as caught:
        RedisStore.from_url(url)
    assert "s3cr3t-pw" not in str(caught.value)

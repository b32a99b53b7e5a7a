"""Where ``RedisStore`` keeps its records: the key layouts, how a URL becomes a client, and the
gate every command to a cluster goes through.

Two layouts, chosen by the kind of client, never by a setting that two processes could disagree on:

* **flat** (a single Redis node; every earlier version): ``<prefix>payout:<outTradeNo>`` and one set
  ``<prefix>open``. Kept as it was so existing journals stay readable and so processes of an earlier
  version and of this one, sharing a Redis during a rolling upgrade, still claim the same keys.
* **tagged** (Redis Cluster): ``<prefix>{NNN}payout:<outTradeNo>`` and ``<prefix>{NNN}open``, where
  ``NNN`` is one of :data:`SHARDS` shards chosen by a CRC-32 of the number. A Lua script may only
  touch keys of one hash slot; the hash tag ``{NNN}`` puts a record and its shard's open-record index
  in one slot, and the shards spread the journal over the cluster's masters. The flat layout could
  never run on a cluster (its script touches two slots), so no cluster journal predates this one.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = [
    "CLUSTER_LIMIT",
    "CLUSTER_SCHEMES",
    "SHARDS",
    "ClusterGate",
    "FlatKeys",
    "Keys",
    "TaggedKeys",
    "connect",
]

#: Shards of the tagged layout: fixed, because a record's key depends on it (changing it would
#: hide every record). 128 hash slots spread over any cluster of a few dozen masters.
SHARDS = 128
#: URL schemes that mean a Redis Cluster (``rediss+cluster`` with TLS).
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
#: Commands one store has in flight on a cluster at most (redis-py's asyncio cluster client fails
#: with MaxConnectionsError, instead of waiting, past 100 connections to one node).
CLUSTER_LIMIT = 50
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _glob(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class Keys:
    """A key layout: where a record and its open-record index live, and how to find them all."""

    tagged = False

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def record(self, out_trade_no: str) -> str:
        """The key of one record."""
        raise NotImplementedError

    def open_index(self, out_trade_no: str) -> str:
        """The open-record set that indexes ``out_trade_no`` (same hash slot as its record)."""
        raise NotImplementedError

    def open_indexes(self) -> list[str]:
        """Every open-record set."""
        raise NotImplementedError

    def record_pattern(self) -> str:
        """A SCAN pattern matching every record key (and nothing else of this prefix)."""
        raise NotImplementedError

    def number(self, key: str) -> str:
        """The ``outTradeNo`` of a record key."""
        return key[len(self.record("")) :]


class FlatKeys(Keys):
    """The single-node layout of every earlier version (see the module docstring)."""

    def record(self, out_trade_no: str) -> str:
        """``<prefix>payout:<outTradeNo>``."""
        return f"{self.prefix}payout:{out_trade_no}"

    def open_index(self, out_trade_no: str) -> str:
        """``<prefix>open`` (one set for the whole journal)."""
        return f"{self.prefix}open"

    def open_indexes(self) -> list[str]:
        """The one set."""
        return [f"{self.prefix}open"]

    def record_pattern(self) -> str:
        """``<prefix>payout:*``."""
        return f"{_glob(self.prefix)}payout:*"


class TaggedKeys(Keys):
    """The cluster layout: a hash tag per shard on every key (see the module docstring)."""

    tagged = True

    @staticmethod
    def shard(out_trade_no: str) -> int:
        """The shard of a number (stable across processes and versions: CRC-32, not ``hash()``)."""
        return zlib.crc32(out_trade_no.encode("utf-8")) % SHARDS

    def _tag(self, shard: int) -> str:
        return f"{self.prefix}{{{shard:03d}}}"

    def record(self, out_trade_no: str) -> str:
        """``<prefix>{NNN}payout:<outTradeNo>``."""
        return f"{self._tag(self.shard(out_trade_no))}payout:{out_trade_no}"

    def open_index(self, out_trade_no: str) -> str:
        """``<prefix>{NNN}open``: the shard's set, in the record's hash slot."""
        return f"{self._tag(self.shard(out_trade_no))}open"

    def open_indexes(self) -> list[str]:
        """One set per shard."""
        return [f"{self._tag(shard)}open" for shard in range(SHARDS)]

    def record_pattern(self) -> str:
        """``<prefix>{???}payout:*``."""
        return f"{_glob(self.prefix)}{{???}}payout:*"

    def number(self, key: str) -> str:
        """The ``outTradeNo`` of a record key (after the 5-character tag and ``payout:``)."""
        return key[len(self.prefix) + len("{000}payout:") :]


def connect(url: str) -> Redis | RedisCluster:
    """A client for ``url``: ``redis://``, ``rediss://``, ``unix://`` for one node;
    ``redis+cluster://host:port[,host:port...]`` (or ``rediss+cluster://``) for a cluster, any of
    whose nodes is enough to discover the others (list several in case one is down).

    Raises:
        ConfigurationError: the URL cannot be used (the message never repeats a password).
    """
    import redis.asyncio as redis_asyncio  # optional dependency: the caller checked it is there
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        if scheme not in CLUSTER_SCHEMES:
            return redis_asyncio.Redis.from_url(url)
        credentials, _, hosts = parts.netloc.rpartition("@")
        nodes = [_host_port(item) for item in hosts.split(",") if item]
        if not nodes:
            msg = "a cluster URL names no host"
            raise ValueError(msg)
        first = (f"{credentials}@" if credentials else "") + hosts.split(",")[0]
        single = urlunsplit((CLUSTER_SCHEMES[scheme], first, parts.path, parts.query, ""))
        others = [ClusterNode(host, port) for host, port in nodes[1:]]
        return RedisCluster.from_url(single, startup_nodes=others or None)
    except ValueError as exc:
        msg = f"RedisStore: bad Redis URL ({_safe(str(exc), parts.password)})"
        raise ConfigurationError(msg) from None


def _host_port(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    if not host or not port.isdigit():
        msg = "each cluster node must be host:port"
        raise ValueError(msg)
    return host.strip("[]"), int(port)


def _safe(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


class ClusterGate:
    """``async with gate:`` around every command a store sends to a cluster.

    redis-py's asyncio ``RedisCluster`` (8.x at least) fails commands that race its first
    initialisation (``AttributeError`` inside a half-made connection) and refuses, rather than
    queues, commands past its per-node connection limit. The gate initialises the client once,
    under a lock, before the first command, and bounds the store's commands in flight.
    """

    def __init__(self, client: RedisCluster, limit: int = CLUSTER_LIMIT) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(limit)
        self._lock = asyncio.Lock()
        self._ready = False

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._ready:
            return
        try:
            async with self._lock:
                if not self._ready:
                    await self._client.initialize()
                    self._ready = True
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._slots.release()

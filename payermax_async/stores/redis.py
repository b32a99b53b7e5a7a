"""``RedisStore``: one journal shared by every process and host that talks to one Redis or one
Redis Cluster (key layouts: :mod:`._redis_keys`).

``redis`` is an optional dependency (``pip install 'payermax-async[redis]'``); it is imported only when a
``RedisStore`` is created, so the package works without it.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, StoreError
from ..protocol.rules import check_out_trade_no
from ._journal import Clock, JournalStore, T, Update
from ._redis_keys import ClusterGate, FlatKeys, Keys, TaggedKeys, connect
from .base import OPEN_STATES, OpenRecords, PayoutRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisStore"]

_MAX_CAS_ROUNDS = 200
_MGET_CHUNK = 500
_SCAN_COUNT = 1_000

# Compare-and-set of one record, plus the index of open records, in one atomic step. The new value
# is computed in Python by the shared transition rules; the script only applies it if nobody wrote
# the record in between (otherwise the caller re-reads and decides again). For a new key this is
# exactly SET NX; for an existing one it is a CAS on the whole record, lease included. Both keys
# are in one hash slot in either layout (one node, or one hash tag on a cluster).
_CAS = """
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then
  redis.call('SADD', KEYS[2], ARGV[4])
else
  redis.call('SREM', KEYS[2], ARGV[4])
end
return 1
"""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class RedisStore(JournalStore):
    """A journal in Redis or Redis Cluster: atomic claims with a lease, results shared across hosts.

    On one Redis node each record is one JSON string at ``<prefix>payout:<outTradeNo>`` and
    ``<prefix>open`` indexes the records ``reconcile()`` must look at (the layout of every earlier
    version, so existing journals stay readable). On a Redis Cluster (a ``redis+cluster://`` URL or a
    ``redis.asyncio.cluster.RedisCluster`` client) every key carries a hash tag of one of 128 shards,
    ``<prefix>{NNN}payout:<outTradeNo>`` and ``<prefix>{NNN}open``, so each atomic step touches one
    hash slot while the journal spreads over the masters. Every transition is an atomic
    compare-and-set (a Lua script), so two processes can never both own one ``outTradeNo``; the loser
    waits for the winner's recorded outcome. Records do not expire: a journal entry must outlive every
    retry of its payout. Use Redis persistence (AOF) if the journal must survive a Redis restart.

    Args:
        url: ``redis://host:6379/0``, ``rediss://...`` (TLS), ``unix:///path.sock`` or, for a
            cluster, ``redis+cluster://host:port[,host:port...]`` / ``rediss+cluster://...``
            (the store owns and closes that client).
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster`` to borrow
            instead (never closed by the store).
        prefix: the key prefix, to share one Redis between applications.
        clock: seconds since the epoch (tests inject their own).

    Raises:
        ConfigurationError: the ``redis`` package is missing, the URL is unusable, or not exactly
            one of ``url`` and ``client`` is given.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | RedisCluster | None = None,
        prefix: str = "payermax:",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        try:
            import redis.asyncio  # noqa: F401 (optional dependency: imported on use)
            from redis.asyncio.cluster import RedisCluster
            from redis.exceptions import RedisClusterException, RedisError
        except ImportError:
            msg = "RedisStore needs the redis package: pip install 'payermax-async[redis]'"
            raise ConfigurationError(msg) from None
        if (url is None) == (client is None):
            msg = "RedisStore needs exactly one of url= or client="
            raise ConfigurationError(msg)
        self._owns_client = client is None
        self._client: Redis | RedisCluster = client if client is not None else connect(str(url))
        self._cluster = isinstance(self._client, RedisCluster)
        self._gate: contextlib.AbstractAsyncContextManager[None] = (
            ClusterGate(self._client)
            if isinstance(self._client, RedisCluster)
            else contextlib.nullcontext()
        )
        # What a Redis outage raises; turned into StoreError so callers only ever see PayerMaxError.
        self._errors: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)
        self._prefix = prefix
        self._keys: Keys = TaggedKeys(prefix) if self._cluster else FlatKeys(prefix)
        self._cas = self._client.register_script(_CAS)
        self._closed = False

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "payermax:", clock: Clock | None = None
    ) -> RedisStore:
        """A store on the Redis (or Redis Cluster) at ``url``; see the class for the URL forms.

        Raises:
            ConfigurationError: the ``redis`` package is missing or the URL is unusable.
        """
        return cls(url, prefix=prefix, clock=clock)

    @property
    def cluster(self) -> bool:
        """Whether this store talks to a Redis Cluster (and uses the hash-tagged key layout)."""
        return self._cluster

    def _key(self, out_trade_no: str) -> str:
        return self._keys.record(out_trade_no)

    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        try:
            return await self._compare_and_set(out_trade_no, update)
        except self._errors as exc:
            raise _store_error(exc) from exc

    async def _compare_and_set(self, out_trade_no: str, update: Update[T]) -> T:
        check_out_trade_no(out_trade_no)
        key = self._key(out_trade_no)
        index = self._keys.open_index(out_trade_no)
        for _ in range(_MAX_CAS_ROUNDS):
            async with self._gate:
                raw = await self._client.get(key)
            current = _text(raw) if raw is not None else ""
            old = PayoutRecord.from_json(current) if current else None
            new, value = update(old)
            if new is None or new == old:
                return value
            is_open = "1" if new.state in OPEN_STATES else "0"
            args = [current, new.to_json(), is_open, out_trade_no]
            async with self._gate:
                written = int(await self._cas(keys=[key, index], args=args))
            if written:
                return value
        msg = f"RedisStore: record …{out_trade_no[-4:]} kept changing; gave up after contention"
        raise StoreError(msg, out_trade_no=out_trade_no)

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""
        try:
            async with self._gate:
                raw = await self._client.get(self._key(out_trade_no))
        except self._errors as exc:
            raise _store_error(exc) from exc
        return PayoutRecord.from_json(_text(raw)) if raw is not None else None

    async def scan_open(self) -> OpenRecords:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record, and the numbers of indexed
        records that cannot be read (skipped, never guessed at). Reads the open-record index only
        (one set, or one per shard on a cluster): its cost follows the open records, not the journal.
        """
        try:
            return await self._scan_open()
        except self._errors as exc:
            raise _store_error(exc) from exc

    async def _scan_open(self) -> OpenRecords:
        indexes = self._keys.open_indexes()
        async with self._gate, self._client.pipeline(transaction=False) as pipe:
            for index in indexes:
                pipe.smembers(index)
            sets = await pipe.execute()
        scan = OpenRecords([])
        for members in sets:
            # The members of one set share its hash slot: one MGET per chunk, on one node.
            numbers = sorted(_text(m) for m in members)
            for record in await self._read(numbers, scan):
                if record.state in OPEN_STATES:
                    scan.records.append(record)
        scan.records.sort(key=lambda record: record.out_trade_no)
        return scan

    async def records_between(self, start: float = -math.inf, end: float = math.inf) -> OpenRecords:
        """Every readable record created in ``[start, end)`` (epoch seconds, the store's clock),
        whatever its state, and the numbers of the records there that cannot be read.

        There is no index by time in Redis: this SCANs every record key of the prefix (on every
        master of a cluster), so it costs a pass over the whole journal. Fine for a daily job.
        """
        try:
            pattern = self._keys.record_pattern()
            async with self._gate:
                found = self._client.scan_iter(match=pattern, count=_SCAN_COUNT)
                keys = sorted({_text(key) async for key in found})
            scan = OpenRecords([])
            numbers = [self._keys.number(key) for key in keys]
            for record in await self._read(numbers, scan):
                if start <= record.created_at < end:
                    scan.records.append(record)
        except self._errors as exc:
            raise _store_error(exc) from exc
        return scan

    async def _read(self, numbers: list[str], scan: OpenRecords) -> list[PayoutRecord]:
        """The readable records of ``numbers`` (missing ones left out; unreadable ones noted)."""
        found: list[PayoutRecord] = []
        for begin in range(0, len(numbers), _MGET_CHUNK):
            chunk = numbers[begin : begin + _MGET_CHUNK]
            keys = [self._key(number) for number in chunk]
            async with self._gate:
                values = await (
                    self._client.mget_nonatomic(keys)  # type: ignore[union-attr]
                    if self._cluster
                    else self._client.mget(keys)
                )
            for number, raw in zip(chunk, values, strict=True):
                if raw is None:
                    continue
                try:
                    found.append(PayoutRecord.from_json(_text(raw)))
                except StoreError:
                    scan.unreadable.append(number)
        return found

    async def aclose(self) -> None:
        """Close an owned client (a borrowed one stays open). Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        kind = ", cluster" if self._cluster else ""
        return f"RedisStore(prefix={self._prefix!r}{kind})"


def _store_error(exc: BaseException) -> StoreError:
    return StoreError(f"Redis journal failed: {type(exc).__name__}: {exc}")

"""``RedisStore``: one journal shared by every process and host that talks to one Redis or one
Redis Cluster (key layouts: :mod:`._redis_keys`).

``redis`` is an optional dependency (``pip install 'payermax-async[redis]'``); it is imported only when a
``RedisStore`` is created, so the package works without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from typing import TYPE_CHECKING

import attrs

from ..errors import ConfigurationError, StoreError
from ..protocol.rules import check_out_trade_no
from ._batch import Batch, GroupCommit, Outcome
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
#: Records whose last known bytes the store remembers (a guess to compare-and-set against).
_REMEMBERED = 4_096

# Compare-and-set of records, plus the index of open records, each record in one atomic step.
# KEYS: the records, then the open-record index (one hash slot: on a cluster, one record per call).
# ARGV: four per record: the bytes the caller believes it holds ("" for absent), the new bytes ("":
# write nothing, only confirm), "1" if the new record is open, its number. The new value is computed
# in Python by the shared transition rules from what the store believes the record is (the bytes
# it last wrote or read, or "absent" for a number it never saw); the script applies it only if the
# record is still exactly that, and otherwise answers with what it is, so the caller decides again
# without a separate read. One reply per record: 1 (applied or confirmed) or the current bytes.
# For a new key this is exactly SET NX; for an existing one a CAS on the whole record, lease
# included.
_CAS = """
local index = KEYS[#KEYS]
local replies = {}
for i = 1, #KEYS - 1 do
  local at = (i - 1) * 4
  local current = redis.call('GET', KEYS[i]) or ''
  if current ~= ARGV[at + 1] then
    replies[i] = current
  else
    if ARGV[at + 2] ~= '' then
      redis.call('SET', KEYS[i], ARGV[at + 2])
      if ARGV[at + 3] == '1' then
        redis.call('SADD', index, ARGV[at + 4])
      else
        redis.call('SREM', index, ARGV[at + 4])
      end
    end
    replies[i] = 1
  end
end
return replies
"""
_CAS_SHA = hashlib.sha1(_CAS.encode(), usedforsecurity=False).hexdigest()


@attrs.define
class _Step:
    """One transition's attempt: decided on ``expected`` (``""``: absent), writing ``new``."""

    index: int
    number: str
    key: str
    expected: str
    new: str
    record: PayoutRecord | None
    value: object


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
    waits for the winner's recorded outcome. The store compares against the bytes it last wrote or
    read for the record (a record it never saw is expected absent), so an uncontended transition is
    one call with no read first; a record changed by another process is decided again on its
    current bytes. Transitions requested together go in one call on one node (one per record, all at
    once, on a cluster), and each caller returns once its own write is acknowledged. Records do not expire: a journal entry must outlive every
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
            from redis.exceptions import NoScriptError, RedisClusterException, RedisError
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
        self._no_script: type[BaseException] = NoScriptError
        # outTradeNo -> (bytes, record) as this store last wrote or read them: the expectation of
        # the next compare-and-set, so an uncontended transition is one script call, no GET.
        self._known: dict[str, tuple[str, PayoutRecord | None]] = {}
        self._batches = GroupCommit(self._commit, _store_error, limit=512)
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
        # Group commit: transitions requested while a batch is on the wire wait for the next one,
        # which goes as one script call (one round trip on one node); each caller returns once its
        # own compare-and-set is acknowledged.
        check_out_trade_no(out_trade_no)
        if self._closed:
            msg = "this RedisStore is closed"
            raise ConfigurationError(msg)
        return await self._batches.submit(out_trade_no, update)

    async def _commit(self, batch: Batch) -> list[Outcome]:
        """Compare-and-set every transition of ``batch``, a round trip per round: each round
        sends the first unfinished transition of each number, decided on what the store believes
        the record is; a transition whose record turned out to be something else is decided
        again, on the bytes the script returned, in the next round."""
        outcomes: list[Outcome | None] = [None] * len(batch)
        pending = list(range(len(batch)))
        for _ in range(_MAX_CAS_ROUNDS):
            steps: list[_Step] = []
            numbers: set[str] = set()
            for index in pending:
                number, update = batch[index]
                if number in numbers:
                    continue  # a later transition of the same number: decided on this one's write
                numbers.add(number)
                try:
                    steps.append(self._decide(index, number, update))
                except (StoreError, ValueError, TypeError) as exc:
                    outcomes[index] = (False, exc)  # an unreadable record fails alone
            if steps:
                replies = await self._send(steps)
                for step, reply in zip(steps, replies, strict=True):
                    outcomes[step.index] = self._settle(step, reply)
            pending = [index for index in pending if outcomes[index] is None]
            if not pending:
                return [outcome for outcome in outcomes if outcome is not None]
        for index in pending:
            number = batch[index][0]
            msg = f"RedisStore: record …{number[-4:]} kept changing; gave up after contention"
            outcomes[index] = (False, StoreError(msg, out_trade_no=number))
        return [outcome for outcome in outcomes if outcome is not None]

    def _decide(self, index: int, number: str, update: Update[object]) -> _Step:
        expected, old = self._known.get(number, ("", None))
        new, value = update(old)
        text = "" if new is None or new == old else new.to_json()
        return _Step(index, number, self._key(number), expected, text, new if text else old, value)

    async def _send(self, steps: list[_Step]) -> list[object]:
        """The compare-and-sets of one round: on one node, one script call for them all (one
        round trip); on a cluster, one call per record (its slot), all in flight at once."""
        try:
            if self._cluster:
                calls = (self._one(step) for step in steps)
                return list(await asyncio.gather(*calls, return_exceptions=True))
            keys = [step.key for step in steps]
            keys.append(self._keys.open_index(""))
            args = [arg for step in steps for arg in self._cas_args(step)]
            reply: list[object] = await self._client.evalsha(_CAS_SHA, len(keys), *keys, *args)
            return reply
        except self._no_script as exc:
            # Redis restarted or flushed its scripts: load it (on every node); nothing was
            # applied, so every transition of the round goes again.
            async with self._gate:
                await self._client.script_load(_CAS)
            return [exc] * len(steps)

    async def _one(self, step: _Step) -> object:
        keys = (step.key, self._keys.open_index(step.number))
        async with self._gate:
            try:
                replies = await self._client.evalsha(_CAS_SHA, 2, *keys, *self._cas_args(step))
            except self._no_script:
                await self._client.script_load(_CAS)
                raise
        return replies[0]

    @staticmethod
    def _cas_args(step: _Step) -> tuple[str, str, str, str]:
        record = step.record
        is_open = "1" if record is not None and record.state in OPEN_STATES else "0"
        return (step.expected, step.new, is_open, step.number)

    def _settle(self, step: _Step, reply: object) -> Outcome | None:
        """The outcome of one compare-and-set, or None to decide it again."""
        if isinstance(reply, self._no_script):
            return None
        if isinstance(reply, BaseException):
            return (False, _store_error(reply))
        done = isinstance(reply, int)
        current = "" if done else _text(reply)
        if done or (step.new and current == step.new):
            # Applied (the second case: a resend by the client after a lost reply found its own
            # write already there).
            self._remember(step.number, step.new or step.expected, step.record)
            return (True, step.value)
        try:
            old = PayoutRecord.from_json(current) if current else None
        except StoreError as exc:
            self._known.pop(step.number, None)
            return (False, exc)  # an unreadable record fails alone
        self._remember(step.number, current, old)
        return None

    def _remember(self, number: str, text: str, record: PayoutRecord | None) -> None:
        self._known.pop(number, None)
        if len(self._known) >= _REMEMBERED:
            del self._known[next(iter(self._known))]  # the least recently written
        self._known[number] = (text, record)

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
        # Transitions already requested are written first: they were promised.
        await self._batches.drain()
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        kind = ", cluster" if self._cluster else ""
        return f"RedisStore(prefix={self._prefix!r}{kind})"


def _store_error(exc: BaseException) -> StoreError:
    return StoreError(f"Redis journal failed: {type(exc).__name__}: {exc}")

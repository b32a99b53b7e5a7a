"""``RedisStore``: one journal shared by every process and host that talks to one Redis.

``redis`` is an optional dependency (``pip install 'payermax-async[redis]'``); it is imported only when a
``RedisStore`` is created, so the package works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError, StoreError
from ..protocol.rules import check_out_trade_no
from ._journal import Clock, JournalStore, T, Update
from .base import OPEN_STATES, OpenRecords, PayoutRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

_MAX_CAS_ROUNDS = 200
_MGET_CHUNK = 500

# Compare-and-set of one record, plus the index of open records, in one atomic step. The new value
# is computed in Python by the shared transition rules; the script only applies it if nobody wrote
# the record in between (otherwise the caller re-reads and decides again). For a new key this is
# exactly SET NX; for an existing one it is a CAS on the whole record, lease included.
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
    """A journal in Redis: atomic claims with a lease, results shared across hosts.

    Each record is one JSON string at ``<prefix>payout:<outTradeNo>``; ``<prefix>open`` indexes the
    records ``reconcile()`` must look at. Every transition is an atomic compare-and-set (a Lua script),
    so two processes can never both own one ``outTradeNo``; the loser waits for the winner's recorded
    outcome. Records do not expire: a journal entry must outlive every retry of its payout. Use Redis
    persistence (AOF) if the journal must survive a Redis restart.

    Args:
        url: a Redis URL, e.g. ``redis://127.0.0.1:6379/0`` (the store owns and closes that client).
        client: a ``redis.asyncio.Redis`` to borrow instead (never closed by the store).
        prefix: the key prefix, to share one Redis between applications.
        clock: seconds since the epoch (tests inject their own).

    Raises:
        ConfigurationError: the ``redis`` package is missing, or neither ``url`` nor ``client`` given.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "payermax:",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        try:
            import redis.asyncio as redis_asyncio  # optional dependency: imported on use
            from redis.exceptions import RedisError
        except ImportError:
            msg = "RedisStore needs the redis package: pip install 'payermax-async[redis]'"
            raise ConfigurationError(msg) from None
        if (url is None) == (client is None):
            msg = "RedisStore needs exactly one of url= or client="
            raise ConfigurationError(msg)
        if client is None:
            try:
                client = redis_asyncio.Redis.from_url(str(url))
            except ValueError as exc:
                msg = f"RedisStore: bad Redis URL ({exc})"
                raise ConfigurationError(msg) from None
            self._owns_client = True
        else:
            self._owns_client = False
        self._client: Redis = client
        # What a Redis outage raises; turned into StoreError so callers only ever see PayerMaxError.
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._prefix = prefix
        self._open_key = f"{prefix}open"
        self._cas = client.register_script(_CAS)
        self._closed = False

    def _key(self, out_trade_no: str) -> str:
        return f"{self._prefix}payout:{out_trade_no}"

    async def _update(self, out_trade_no: str, update: Update[T]) -> T:
        try:
            return await self._compare_and_set(out_trade_no, update)
        except self._errors as exc:
            raise _store_error(exc) from exc

    async def _compare_and_set(self, out_trade_no: str, update: Update[T]) -> T:
        check_out_trade_no(out_trade_no)
        key = self._key(out_trade_no)
        for _ in range(_MAX_CAS_ROUNDS):
            raw = await self._client.get(key)
            current = _text(raw) if raw is not None else ""
            old = PayoutRecord.from_json(current) if current else None
            new, value = update(old)
            if new is None or new == old:
                return value
            is_open = "1" if new.state in OPEN_STATES else "0"
            args = [current, new.to_json(), is_open, out_trade_no]
            if int(await self._cas(keys=[key, self._open_key], args=args)):
                return value
        msg = f"RedisStore: record …{out_trade_no[-4:]} kept changing; gave up after contention"
        raise StoreError(msg, out_trade_no=out_trade_no)

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""
        try:
            raw = await self._client.get(self._key(out_trade_no))
        except self._errors as exc:
            raise _store_error(exc) from exc
        return PayoutRecord.from_json(_text(raw)) if raw is not None else None

    async def scan_open(self) -> OpenRecords:
        """Every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record, and the numbers of indexed
        records that cannot be read (skipped, never guessed at)."""
        try:
            return await self._scan_open()
        except self._errors as exc:
            raise _store_error(exc) from exc

    async def _scan_open(self) -> OpenRecords:
        members = sorted(_text(m) for m in await self._client.smembers(self._open_key))
        scan = OpenRecords([])
        for start in range(0, len(members), _MGET_CHUNK):
            chunk = members[start : start + _MGET_CHUNK]
            values = await self._client.mget([self._key(m) for m in chunk])
            for number, raw in zip(chunk, values, strict=True):
                if raw is None:
                    continue
                try:
                    record = PayoutRecord.from_json(_text(raw))
                except StoreError:
                    scan.unreadable.append(number)
                    continue
                if record.state in OPEN_STATES:
                    scan.records.append(record)
        return scan

    async def aclose(self) -> None:
        """Close an owned client (a borrowed one stays open). Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"


def _store_error(exc: BaseException) -> StoreError:
    return StoreError(f"Redis journal failed: {type(exc).__name__}: {exc}")

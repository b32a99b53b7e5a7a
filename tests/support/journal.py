"""Journals with history: every kind of store, records driven into a state at a chosen moment,
gateway orders to match.

Everything goes through public APIs: the store's own transitions (so the records are exactly what a
client would have written) and the sandbox ledger's ``add_order``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import attrs
import pytest

from payermax_async import MemoryStore, RedisStore, SQLiteStore
from payermax_async.models.payouts import PayoutStatus
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import JournalStore, RecordState
from payermax_async.testing import FakeClock
from tests.support.redis import (
    REDIS_CLUSTER_URL,
    REDIS_URL,
    redis_cleanup,
    redis_cluster_cleanup,
    redis_cluster_or_skip,
    redis_or_skip,
)

FP = "e" * 64


def at(text: str) -> datetime:
    """``"2026-11-30 10:00:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


async def journal_record(
    store: JournalStore,
    clock: FakeClock,
    number: str,
    state: RecordState,
    *,
    when: datetime,
    amount: str = "10",
    currency: str = "USD",
    status: PayoutStatus | None = None,
) -> None:
    """Write ``number``'s record as a client would have, created at ``when``, ending in ``state``
    (``status`` for ``ACCEPTED``/``FINAL``; the clock is left at ``when``)."""
    clock.advance(when.timestamp() - clock())
    await store.claim(number, FP, owner="w", lease_seconds=60, amount=amount, currency=currency)
    if state is RecordState.CLAIMED:
        return
    await store.mark_sent(number, owner="w")
    if state is RecordState.SENT:
        return
    if state is RecordState.REJECTED:
        await store.record_rejected(number, owner="w", code="PARAMS_INVALID", error="refused")
    elif state is RecordState.IN_DOUBT:
        await store.record_in_doubt(number, owner="w", error="RequestTimeoutError")
    else:
        fact = {"outTradeNo": number, "status": (status or PayoutStatus.PENDING).value}
        await store.record_result(
            number, {**fact, "trade": {"amount": amount, "currency": currency}}
        )


def gateway_order(
    gw: SandboxGateway,
    number: str,
    *,
    when: datetime,
    status: PayoutStatus = PayoutStatus.SUCCESS,
    amount: str = "10",
    currency: str = "USD",
) -> None:
    """Put an order straight into the sandbox's books, created at ``when``."""
    data = {
        "outTradeNo": number,
        "country": "US",
        "trade": {"amount": amount, "currency": currency},
    }
    gw.ledger.add_order(data, status=status, created_at=when)


@pytest.fixture
def clock() -> FakeClock:
    """Epoch seconds that only move when a test says so."""
    return FakeClock(start=at("2026-11-29 00:00:00").timestamp())


@pytest.fixture(params=["memory", "sqlite", "redis", "redis-cluster"])
async def journal_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[JournalStore]:
    """One journal of each kind on the fake clock, closed (and its Redis keys deleted) afterwards."""
    kind = request.param
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store: JournalStore
    if kind == "memory":
        store = MemoryStore(clock=clock)
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "journal.db", clock=clock)
    elif kind == "redis":
        await redis_or_skip()
        store = RedisStore(REDIS_URL, prefix=prefix, clock=clock)
    else:
        await redis_cluster_or_skip()
        store = RedisStore.from_url(REDIS_CLUSTER_URL, prefix=prefix, clock=clock)
    yield store
    await store.aclose()
    if kind == "redis":
        await redis_cleanup(prefix)
    elif kind == "redis-cluster":
        await redis_cluster_cleanup(prefix)


@attrs.frozen
class JournalTarget:
    """One journal two ways: ``url`` for the commands, ``store`` (on the fake clock) to seed it."""

    url: str
    store: JournalStore


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
async def journal_target(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[JournalTarget]:
    """A durable journal of each kind, by URL and as a store; closed and deleted afterwards."""
    kind = request.param
    prefix = f"payermax-test:{uuid.uuid4().hex}:"
    store: JournalStore
    if kind == "sqlite":
        path = tmp_path / "journal.db"
        store, url = SQLiteStore(path, clock=clock), f"sqlite:///{path}"
    elif kind == "redis":
        await redis_or_skip()
        store, url = (
            RedisStore(REDIS_URL, prefix=prefix, clock=clock),
            f"{REDIS_URL}?prefix={prefix}",
        )
    else:
        await redis_cluster_or_skip()
        store = RedisStore.from_url(REDIS_CLUSTER_URL, prefix=prefix, clock=clock)
        url = f"{REDIS_CLUSTER_URL}?prefix={prefix}"
    # The first write creates the SQLite file, so the commands find a journal there.
    await store.get("INIT")
    yield JournalTarget(url, store)
    await store.aclose()
    if kind == "redis":
        await redis_cleanup(prefix)
    elif kind == "redis-cluster":
        await redis_cluster_cleanup(prefix)

"""Edges of the error contract: plug-in signers failing, one unreadable record during reconcile(),
a corrupted journal and bad arguments all surface as PayerMaxError, and nothing is lost."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from payermax_async import (
    MemoryStore,
    PayerMaxClient,
    PayerMaxError,
    RsaSigner,
    SQLiteStore,
    TransportError,
    ValidationError,
)
from payermax_async.errors import StoreError
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores.base import RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout


class FlakySigner:
    """A remote signer (KMS-like) that fails its first ``failures`` calls with a driver error."""

    def __init__(self, private_key: str, failures: int) -> None:
        self._inner = RsaSigner(private_key)
        self.failures = failures

    async def sign(self, payload: bytes) -> str:
        if self.failures > 0:
            self.failures -= 1
            msg = "KMS endpoint unreachable"
            raise OSError(msg)
        return await self._inner.sign(payload)


async def test_a_failing_signer_is_a_not_sent_transport_error(gw: SandboxGateway) -> None:
    """A signer raising its own error is a TransportError(maybe_sent=False): a read raises it, a
    payout is retried (nothing was sent) and paid once, and the journal never saw it in doubt."""
    signer = FlakySigner(gw.merchant_private_key, failures=1)
    retry = fast_retry_policy(max_attempts=1)
    async with PayerMaxClient(gw.config(), signer=signer, retry=retry) as client:
        with pytest.raises(TransportError) as caught:
            await client.payouts.retrieve("sig_0")
    assert caught.value.maybe_sent is False
    assert isinstance(caught.value.__cause__, OSError)

    signer.failures = 2
    store = MemoryStore()
    async with PayerMaxClient(
        gw.config(), signer=signer, store=store, retry=fast_retry_policy()
    ) as client:
        result = await client.payouts.create(payout("sig_1"))
    assert result.trade_no == gw.ledger.orders["sig_1"].trade_no
    assert gw.ledger.post_count(api="paymentOrderPay", out_trade_no="sig_1") == 1
    assert gw.ledger.post_count(api="paymentOrderQry", out_trade_no="sig_1") == 0


class OneBadClaim(MemoryStore):
    """A journal whose claim of one number fails as a locked database would."""

    async def claim(self, out_trade_no: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if out_trade_no == "rec_bad":
            msg = "journal database is locked"
            raise StoreError(msg)
        return await super().claim(out_trade_no, *args, **kwargs)  # type: ignore[arg-type]


async def test_reconcile_settles_the_others_when_one_record_cannot_be_claimed(
    gw: SandboxGateway,
) -> None:
    """A store error on one record is logged and skipped; every other in-doubt payout settles."""
    store = OneBadClaim()
    gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay"))
    gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api="paymentOrderQry"))
    async with PayerMaxClient(
        gw.config(), store=store, retry=fast_retry_policy(max_attempts=2)
    ) as client:
        for number in ("rec_a", "rec_b"):
            with pytest.raises(PayerMaxError):
                await client.payouts.create(payout(number))
        gw.faults.clear()
        # A record the store will refuse to claim during reconcile.
        await MemoryStore.claim(
            store, "rec_bad", "f" * 64, owner="x", lease_seconds=0, amount="10", currency="USD"
        )
        settled = await client.payouts.reconcile()
    assert sorted(order.out_trade_no for order in settled) == ["rec_a", "rec_b"]
    for number in ("rec_a", "rec_b"):
        record = await store.get(number)
        assert record is not None
        assert record.state in (RecordState.ACCEPTED, RecordState.FINAL)


async def test_a_corrupted_journal_record_is_a_store_error(tmp_path: Path) -> None:
    """A record the SQLite journal cannot parse raises StoreError (a PayerMaxError)."""
    path = tmp_path / "journal.db"
    async with SQLiteStore(path) as store:
        await store.claim(
            "bad_rec_1", "f" * 64, owner="o", lease_seconds=1, amount="10", currency="USD"
        )
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        table = next(name for name in tables if "sqlite" not in name)
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        text_column = next(c for c in columns if c not in ("out_trade_no", "state"))
        conn.execute(f"UPDATE {table} SET {text_column} = '{{not json'")  # noqa: S608
    async with SQLiteStore(path) as store:
        with pytest.raises(StoreError):
            await store.get("bad_rec_1")


async def test_create_many_refuses_a_non_iterable(gw: SandboxGateway) -> None:
    """create_many(None) or a single mapping is a ValidationError, before any request."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        for bad in (None, payout("cm_1")):
            with pytest.raises(ValidationError):
                await client.payouts.create_many(bad)  # type: ignore[arg-type]
    assert gw.ledger.post_count() == 0

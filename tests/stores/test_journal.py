"""The journal's rules, identical on every store: claim, conflict, forward-only, leases, dedupe."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from payermax_async import IdempotencyStore, PayoutOrder, PayoutStatus
from payermax_async._testing_retry import FakeClock
from payermax_async.models.payouts import Money
from payermax_async.stores import ClaimOutcome, RecordState
from payermax_async.stores._journal import JournalStore

KEY = "PAYOUT_0001"
FP = "a" * 64


async def claim(store: JournalStore, owner: str = "A", fp: str = FP, lease: float = 60.0):  # type: ignore[no-untyped-def]
    return await store.claim(
        KEY, fp, owner=owner, lease_seconds=lease, amount="10.50", currency="USD"
    )


async def test_store_implements_the_protocol(store: JournalStore) -> None:
    """Every store satisfies IdempotencyStore, including the webhook dedupe methods."""
    assert isinstance(store, IdempotencyStore)


async def test_first_claim_records_the_intent_before_sending(store: JournalStore) -> None:
    """A new number is claimed as CLAIMED with owner, lease, amount and currency, and may be sent."""
    result = await claim(store)
    assert result.outcome is ClaimOutcome.SEND
    record = await store.get(KEY)
    assert record is not None
    assert (record.state, record.owner, record.amount, record.currency) == (
        RecordState.CLAIMED,
        "A",
        "10.50",
        "USD",
    )
    assert await store.expected_trade(KEY) == (Decimal("10.50"), "USD")


async def test_other_fingerprint_is_a_conflict(store: JournalStore) -> None:
    """The same number with other data is a conflict, whatever state the record is in."""
    await claim(store)
    assert (await claim(store, owner="B", fp="b" * 64)).outcome is ClaimOutcome.CONFLICT
    await store.record_result(KEY, {"outTradeNo": KEY, "tradeNo": "T1", "status": "PENDING"})
    assert (await claim(store, owner="B", fp="b" * 64)).outcome is ClaimOutcome.CONFLICT


async def test_live_lease_makes_others_wait_and_expiry_lets_them_query(
    store: JournalStore, clock: FakeClock
) -> None:
    """Another owner is BUSY while the lease lives; after it lapses a SENT record needs a query."""
    await claim(store, lease=30.0)
    assert await store.mark_sent(KEY, owner="A") is not None
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.BUSY
    clock.advance(31.0)
    taken = await claim(store, owner="B")
    assert taken.outcome is ClaimOutcome.QUERY_FIRST
    assert taken.record.owner == "B"
    # The crashed owner A can no longer move the record.
    assert await store.mark_sent(KEY, owner="A") is None
    assert await store.record_in_doubt(KEY, owner="A", error="late") is None
    record = await store.get(KEY)
    assert record is not None
    assert record.owner == "B"


async def test_abandoned_claim_before_send_is_resent_without_query(
    store: JournalStore, clock: FakeClock
) -> None:
    """A CLAIMED record whose owner died before marking SENT provably never left: send directly."""
    await claim(store, lease=5.0)
    clock.advance(6.0)
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.SEND


async def test_accepted_is_returned_and_never_rewound(store: JournalStore) -> None:
    """After acceptance, claims are DONE; a late PENDING never overwrites SUCCESS; BOUNCEBACK advances."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    await store.record_result(KEY, {"outTradeNo": KEY, "tradeNo": "T1", "status": "PENDING"})
    done = await claim(store, owner="B")
    assert done.outcome is ClaimOutcome.DONE
    assert done.record.result_data()["tradeNo"] == "T1"
    await store.record_result(KEY, {"outTradeNo": KEY, "tradeNo": "T1", "status": "SUCCESS"})
    await store.record_result(KEY, {"outTradeNo": KEY, "tradeNo": "T1", "status": "PENDING"})
    record = await store.get(KEY)
    assert record is not None
    assert (record.state, record.status) == (RecordState.FINAL, PayoutStatus.SUCCESS)
    # Neither an in-doubt write nor a release can take a known order back.
    assert await store.record_in_doubt(KEY, owner=None, error="x") is None
    assert await store.release(KEY, owner=None) is None
    await store.record_result(KEY, {"outTradeNo": KEY, "status": "BOUNCEBACK"})
    record = await store.get(KEY)
    assert record is not None
    assert record.status is PayoutStatus.BOUNCEBACK
    assert await store.open_records() == []


async def test_rejected_record_may_be_resent_with_the_same_data(store: JournalStore) -> None:
    """A definitive rejection means no order: the same data may be claimed and sent again."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    assert await store.record_rejected(KEY, owner="A", code="PARAMS_INVALID", error="x")
    again = await claim(store, owner="B")
    assert again.outcome is ClaimOutcome.SEND
    assert (await claim(store, owner="C", fp="c" * 64)).outcome is ClaimOutcome.CONFLICT


async def test_in_doubt_records_are_open_and_taken_over_by_querying(store: JournalStore) -> None:
    """IN_DOUBT is listed for reconcile and the next claim must query before any resend."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    await store.record_in_doubt(KEY, owner="A", error="RequestTimeoutError")
    assert [r.out_trade_no for r in await store.open_records()] == [KEY]
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.QUERY_FIRST
    # Reconcile saw ORDER_NOT_EXIST: re-sendable, and the next claim sends without a query.
    await store.release(KEY, owner=None, error="ORDER_NOT_EXIST")
    assert (await claim(store, owner="C")).outcome is ClaimOutcome.SEND


async def test_notification_for_unknown_number_blocks_a_resend(store: JournalStore) -> None:
    """A notification creates a FINAL record with an unknown fingerprint; create() then gets DONE."""
    order = PayoutOrder(
        out_trade_no=KEY,
        status=PayoutStatus.SUCCESS,
        trade_no="T9",
        trade=Money(Decimal("1"), "USD"),
    )
    assert await store.last_notified(KEY) is None
    await store.mark_notified(KEY, order)
    assert await store.last_notified(KEY) is PayoutStatus.SUCCESS
    record = await store.get(KEY)
    assert record is not None
    assert (record.fingerprint, record.state) == ("", RecordState.FINAL)
    assert await store.expected_trade(KEY) is None  # never learned from the notification itself
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.DONE


async def test_notifications_only_move_forward(store: JournalStore) -> None:
    """A stale PENDING notification after SUCCESS changes neither the dedupe mark nor the record."""
    await claim(store)
    pending = PayoutOrder(out_trade_no=KEY, status=PayoutStatus.PENDING, trade_no="T1")
    success = PayoutOrder(out_trade_no=KEY, status=PayoutStatus.SUCCESS, trade_no="T1")
    await store.mark_notified(KEY, success)
    await store.mark_notified(KEY, pending)
    assert await store.last_notified(KEY) is PayoutStatus.SUCCESS
    record = await store.get(KEY)
    assert record is not None
    assert (record.status, record.amount) == (PayoutStatus.SUCCESS, "10.50")


async def test_concurrent_claims_have_one_winner(store: JournalStore) -> None:
    """Twenty owners claiming one number at once: exactly one may send."""
    results = await asyncio.gather(*(claim(store, owner=f"O{i}") for i in range(20)))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(ClaimOutcome.SEND) == 1
    assert outcomes.count(ClaimOutcome.BUSY) == 19

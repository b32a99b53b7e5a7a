"""The journal's rules, identical on every store: claim, conflict, forward-only, leases, dedupe."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from payermax_async import IdempotencyStore, PayoutOrder, PayoutStatus
from payermax_async.models.payouts import Money
from payermax_async.stores import ClaimOutcome, JournalStore, RecordState
from payermax_async.testing import FakeClock

KEY = "PAYOUT_0001"
FP = "a" * 64


async def claim(  # type: ignore[no-untyped-def]
    store: JournalStore,
    owner: str = "A",
    fp: str = FP,
    lease: float = 60.0,
    amount: str = "10.50",
    currency: str = "USD",
):
    return await store.claim(
        KEY, fp, owner=owner, lease_seconds=lease, amount=amount, currency=currency
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
    taken = await claim(store, owner="B")
    assert taken.outcome is ClaimOutcome.QUERY_FIRST
    assert taken.record.maybe_sent
    # ORDER_NOT_EXIST before the absence window proves nothing: a release keeps it in doubt.
    kept = await store.release(KEY, owner="B", error="ORDER_NOT_EXIST")
    assert kept is not None
    assert kept.state is RecordState.IN_DOUBT
    assert (await claim(store, owner="C")).outcome is ClaimOutcome.QUERY_FIRST
    # Absence proven (after the window): re-sendable, and the next claim sends without a query.
    freed = await store.release(KEY, owner="C", error="ORDER_NOT_EXIST", proven_absent=True)
    assert freed is not None
    assert (freed.state, freed.maybe_sent) == (RecordState.CLAIMED, False)
    assert (await claim(store, owner="D")).outcome is ClaimOutcome.SEND


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
    # Another amount under the number is another payout; the same amount, however written, is it.
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.CONFLICT
    done = await claim(store, owner="B", amount="1.00")
    assert done.outcome is ClaimOutcome.DONE
    assert done.record.fingerprint == FP  # from now on the record stands for that request
    assert (await claim(store, owner="C", fp="c" * 64, amount="1")).outcome is ClaimOutcome.CONFLICT


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


async def test_maybe_sent_is_sticky_across_refusals_and_releases(store: JournalStore) -> None:
    """Once in doubt, neither a signed refusal of a resend nor a "not sent" release proves absence:
    both leave the record IN_DOUBT; only a proven absence makes it re-sendable, and a signed refusal
    after that is definitive."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    await store.record_in_doubt(KEY, owner="A", error="RequestTimeoutError")
    for owner, step in (
        (
            "B",
            lambda: store.record_rejected(KEY, owner="B", code="BALANCE_INSUFFICIENT", error="x"),
        ),
        ("C", lambda: store.release(KEY, owner="C", error="ConnectError")),
    ):
        assert (await claim(store, owner=owner)).outcome is ClaimOutcome.QUERY_FIRST
        await store.mark_sent(KEY, owner=owner)
        record = await step()
        assert record is not None
        assert (record.state, record.maybe_sent) == (RecordState.IN_DOUBT, True)
    assert (await claim(store, owner="D")).outcome is ClaimOutcome.QUERY_FIRST
    await store.mark_sent(KEY, owner="D", proven_absent=True)
    refused = await store.record_rejected(KEY, owner="D", code="PARAMS_INVALID", error="x")
    assert refused is not None
    assert refused.state is RecordState.REJECTED
    assert refused.is_known_absent()


async def test_an_unsigned_refusal_never_settles(store: JournalStore) -> None:
    """A refusal the gateway did not sign leaves the record IN_DOUBT even on a first send."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    record = await store.record_rejected(
        KEY, owner="A", code="PARAMS_INVALID", error="x", verified=False
    )
    assert record is not None
    assert (record.state, record.maybe_sent, record.error_code) == (
        RecordState.IN_DOUBT,
        True,
        "PARAMS_INVALID",
    )


async def test_sent_until_marks_when_sending_stopped(store: JournalStore, clock: FakeClock) -> None:
    """The absence window counts from the last moment a request may have left: the owner's own
    give-up time, or the lease end of an owner that vanished."""
    await claim(store, lease=100.0)
    await store.mark_sent(KEY, owner="A", lease_seconds=100.0)
    clock.advance(10)
    record = await store.record_in_doubt(KEY, owner="A", error="RequestTimeoutError")
    assert record is not None
    assert record.sent_until == clock()
    await claim(store, owner="B", lease=100.0)
    await store.mark_sent(KEY, owner="B", lease_seconds=100.0)
    lease_end = clock() + 100.0
    clock.advance(101)  # B vanished while sending
    taken = await claim(store, owner="C")
    assert taken.outcome is ClaimOutcome.QUERY_FIRST
    assert taken.record.sent_until == lease_end


async def test_conflict_is_never_adopted_and_always_refused(store: JournalStore) -> None:
    """A CONFLICT record ignores later facts about the number's order and refuses every claim."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    record = await store.record_conflict(KEY, owner="A", error="another amount")
    assert record is not None
    assert record.state is RecordState.CONFLICT
    await store.record_result(KEY, {"outTradeNo": KEY, "tradeNo": "T1", "status": "SUCCESS"})
    record = await store.get(KEY)
    assert record is not None
    assert record.state is RecordState.CONFLICT
    assert (await claim(store, owner="B")).outcome is ClaimOutcome.CONFLICT
    assert await store.open_records() == []


async def test_a_delivery_slot_is_exclusive_across_connections(
    store: JournalStore, clock: FakeClock
) -> None:
    """begin_delivery is one atomic check-and-hold: while one receiver delivers, another gets BUSY;
    after it ends, an older status is a DUPLICATE and a newer one is delivered."""
    success = PayoutOrder(out_trade_no=KEY, status=PayoutStatus.SUCCESS, trade_no="T1")
    bounced = PayoutOrder(out_trade_no=KEY, status=PayoutStatus.BOUNCEBACK, trade_no="T1")
    assert await store.begin_delivery(KEY, bounced, owner="h1", lease_seconds=60) == "DELIVER"
    assert await store.begin_delivery(KEY, success, owner="h2", lease_seconds=60) == "BUSY"
    await store.end_delivery(KEY, bounced, owner="h1", delivered=True)
    assert await store.begin_delivery(KEY, success, owner="h2", lease_seconds=60) == "DUPLICATE"
    assert await store.last_notified(KEY) is PayoutStatus.BOUNCEBACK
    # A receiver that died holding the slot blocks others only until its lease lapses.
    later = PayoutOrder(out_trade_no="OTHER_1", status=PayoutStatus.SUCCESS, trade_no="T2")
    assert await store.begin_delivery("OTHER_1", later, owner="h1", lease_seconds=60) == "DELIVER"
    clock.advance(61)
    assert await store.begin_delivery("OTHER_1", later, owner="h2", lease_seconds=60) == "DELIVER"


async def test_a_waiting_claim_adopts_a_signed_refusal_atomically(store: JournalStore) -> None:
    """A claim made after waiting on another call's attempt (adopt_refusal) gets REFUSED for a
    record that attempt left REJECTED, in the same step, instead of taking it over to resend; a
    fresh claim of the same request may still resend it."""
    await claim(store)
    await store.mark_sent(KEY, owner="A")
    await store.record_rejected(KEY, owner="A", code="BALANCE_INSUFFICIENT", error="x")
    waited = await store.claim(
        KEY, FP, owner="B", lease_seconds=60, amount="10.50", currency="USD", adopt_refusal=True
    )
    assert (waited.outcome, waited.record.error_code) == (
        ClaimOutcome.REFUSED,
        "BALANCE_INSUFFICIENT",
    )
    assert (await claim(store, owner="C")).outcome is ClaimOutcome.SEND


async def test_the_plain_claim_call_decides_as_the_claim_coroutine(clock: FakeClock) -> None:
    """MemoryStore.claim_now (the journal layer's call for a store that never suspends) records and
    decides exactly what claim() does, for a new number and for one it has seen; a subclass with
    its own _update_now sees every claim, the first included."""
    from payermax_async.stores.memory import MemoryStore

    seen: list[str] = []

    class Watched(MemoryStore):
        def _update_now(self, out_trade_no, update):  # type: ignore[no-untyped-def]
            seen.append(out_trade_no)
            return super()._update_now(out_trade_no, update)

    plain, awaited, watched = (
        MemoryStore(clock=clock),
        MemoryStore(clock=clock),
        Watched(clock=clock),
    )
    options = {"owner": "A", "lease_seconds": 60.0, "amount": "10.50", "currency": "USD"}
    for fp in (FP, FP, "b" * 64):
        for sending in (True, False):
            now = plain.claim_now(KEY, fp, sending=sending, **options)  # type: ignore[arg-type]
            later = await awaited.claim(KEY, fp, sending=sending, **options)  # type: ignore[arg-type]
            assert now == later
            assert await plain.get(KEY) == await awaited.get(KEY)
    watched.claim_now(KEY, FP, **options)  # type: ignore[arg-type]
    assert seen == [KEY]

    # An instance whose _update_now was patched, and a subclass deciding claims its own way, are
    # not bypassed on a number's first claim either.
    patched = MemoryStore(clock=clock)
    original = patched._update_now
    patched._update_now = lambda key, update: seen.append(key) or original(key, update)  # type: ignore[method-assign]
    patched.claim_now("OTHER_0001", FP, **options)  # type: ignore[arg-type]
    assert seen == [KEY, "OTHER_0001"]

    class Strict(MemoryStore):
        def _claim_rule(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append("rule")
            return super()._claim_rule(*args, **kwargs)

    Strict(clock=clock).claim_now(KEY, FP, **options)  # type: ignore[arg-type]
    assert seen[-1] == "rule"

"""``client.payouts.reconcile_day()`` against the sandbox: every mismatch kind on one day, the day's
edges, the absence window, and a day of 10,000 orders (every page)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from payermax_async import PayerMaxClient, PayoutStatus, ValidationError
from payermax_async.resources.day_report import MismatchKind, Totals
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import JournalStore, MemoryStore, RecordState
from payermax_async.testing import FakeClock, fast_retry_policy
from tests.support.journal import at, gateway_order, journal_record

DAY = date(2026, 11, 30)
BATCH = "paymentOrderBatchQry"
WINDOW = 600.0
S, P, F, B = (
    PayoutStatus.SUCCESS,
    PayoutStatus.PENDING,
    PayoutStatus.FAILED,
    PayoutStatus.BOUNCEBACK,
)


def _client(gw: SandboxGateway, store: JournalStore, clock: FakeClock) -> PayerMaxClient:
    return PayerMaxClient(
        gw.config(),
        store=store,
        retry=fast_retry_policy(max_attempts=1, clock=clock),
        absence_window=WINDOW,
    )


async def _seed_every_kind(gw: SandboxGateway, store: JournalStore, clock: FakeClock) -> None:
    noon = at("2026-11-30 12:00:00")
    cases: list[tuple[str, RecordState | None, PayoutStatus | None, PayoutStatus | None]] = [
        # number, journal state (None: no record), journal status, gateway status (None: none)
        ("same_1", RecordState.FINAL, S, S),
        ("unknown_1", None, None, S),
        ("missing_1", RecordState.ACCEPTED, P, None),
        ("behind_1", RecordState.ACCEPTED, P, S),
        ("doubt_1", RecordState.IN_DOUBT, None, F),
        ("refused_1", RecordState.REJECTED, None, S),
        ("ahead_1", RecordState.FINAL, B, S),
        ("never_sent_1", RecordState.CLAIMED, None, None),
    ]
    for number, state, status, at_gateway in cases:
        if state is not None:
            await journal_record(store, clock, number, state, when=noon, status=status)
        if at_gateway is not None:
            gateway_order(gw, number, when=noon, status=at_gateway)
    await journal_record(store, clock, "amount_1", RecordState.SENT, when=noon, amount="10")
    gateway_order(gw, "amount_1", when=noon, amount="12")
    await journal_record(store, clock, "currency_1", RecordState.FINAL, when=noon, status=S)
    gateway_order(gw, "currency_1", when=noon, currency="EUR")
    # Sent a second before midnight, stamped a second after it by the gateway: not a mismatch.
    late = at("2026-11-30 23:59:59")
    await journal_record(store, clock, "late_1", RecordState.FINAL, when=late, status=S)
    gateway_order(gw, "late_1", when=at("2026-12-01 00:00:01"))
    # Other days' orders, one at exactly the next midnight: not this day's business.
    gateway_order(gw, "before_1", when=at("2026-11-29 23:59:59"))
    gateway_order(gw, "after_1", when=at("2026-12-01 00:00:00"))


async def test_a_day_with_every_mismatch_kind(
    gw: SandboxGateway, journal_store: JournalStore, clock: FakeClock
) -> None:
    """Each kind is found and named, the journal is advanced forward only where it was behind, and
    nothing else is written."""
    await _seed_every_kind(gw, journal_store, clock)
    clock.advance(86_400)  # the next day: every absence window has passed
    async with _client(gw, journal_store, clock) as client:
        report = await client.payouts.reconcile_day(DAY)
    assert report.numbers(MismatchKind.UNKNOWN_ORDER) == ["unknown_1"]
    assert report.numbers(MismatchKind.MISSING_ORDER) == ["missing_1"]
    assert sorted(report.numbers(MismatchKind.JOURNAL_BEHIND)) == [
        "behind_1",
        "doubt_1",
        "refused_1",
    ]
    assert report.numbers(MismatchKind.JOURNAL_AHEAD) == ["ahead_1"]
    assert sorted(report.numbers(MismatchKind.AMOUNT_MISMATCH)) == ["amount_1", "currency_1"]
    assert report.numbers(MismatchKind.UNCHECKED) == []
    urgent = sorted(m.out_trade_no for m in report.mismatches if m.needs_action)
    # Behind is routine, except for a payout the journal held as refused: it was paid after all.
    assert urgent == ["ahead_1", "amount_1", "currency_1", "missing_1", "refused_1", "unknown_1"]
    assert not report.ok
    for number in [*urgent, "behind_1", "doubt_1"]:
        assert number in repr(report)
    for number in ("same_1", "late_1", "never_sent_1", "before_1", "after_1"):
        assert number not in repr(report)
    for number, status in (("behind_1", S), ("doubt_1", F), ("refused_1", S)):
        record = await journal_store.get(number)
        assert record is not None
        assert (record.state, record.status) == (RecordState.FINAL, status)
    ahead, mismatched = await journal_store.get("ahead_1"), await journal_store.get("amount_1")
    assert ahead is not None
    assert ahead.status is B
    assert mismatched is not None
    assert mismatched.state is RecordState.SENT
    assert await journal_store.get("unknown_1") is None
    assert gw.ledger.post_count(api="paymentOrderPay") == 0


async def test_the_summary_counts_and_totals_per_currency_and_status(
    gw: SandboxGateway, journal_store: JournalStore, clock: FakeClock
) -> None:
    """The gateway's orders of the day and the journal's records, by currency and status."""
    await _seed_every_kind(gw, journal_store, clock)
    clock.advance(86_400)
    async with _client(gw, journal_store, clock) as client:
        report = await client.payouts.reconcile_day(DAY)
    # same, unknown, behind, refused, ahead, amount(12) at 10 each except amount_1.
    assert report.gateway_totals[("USD", "SUCCESS")] == Totals(6, Decimal("62"))
    assert report.gateway_totals[("USD", "FAILED")] == Totals(1, Decimal("10"))
    assert report.gateway_totals[("EUR", "SUCCESS")] == Totals(1, Decimal("10"))
    assert report.gateway_orders == 8
    assert report.journal_records == 10
    assert report.journal_totals[("USD", "SENT")] == Totals(1, Decimal("10"))
    assert report.journal_totals[("USD", "SUCCESS")] == Totals(3, Decimal("30"))
    lines = report.summary()
    assert "ACTION NEEDED" in lines[0]
    assert any(line.startswith("  gateway EUR SUCCESS: 1 payout(s), 10") for line in lines)


async def test_absence_inside_the_window_is_not_yet_a_mismatch(
    gw: SandboxGateway, journal_store: JournalStore, clock: FakeClock
) -> None:
    """A record sent minutes ago that the gateway does not show is NOT_YET_PROVABLE (no action);
    once the absence window has passed since its last possible send it is MISSING_ORDER."""
    sent = at("2026-11-30 10:00:00")
    await journal_record(journal_store, clock, "recent_1", RecordState.SENT, when=sent)
    clock.advance(120)
    async with _client(gw, journal_store, clock) as client:
        early = await client.payouts.reconcile_day(DAY)
        assert early.numbers(MismatchKind.NOT_YET_PROVABLE) == ["recent_1"]
        assert early.ok
        clock.advance(3_600)
        later = await client.payouts.reconcile_day(DAY)
    assert later.numbers(MismatchKind.MISSING_ORDER) == ["recent_1"]
    assert not later.ok
    record = await journal_store.get("recent_1")
    assert record is not None
    assert record.state is RecordState.SENT  # reported, never released by this report


async def test_a_day_is_taken_in_the_given_time_zone(gw: SandboxGateway, clock: FakeClock) -> None:
    """With tz=Asia/Jakarta (UTC+7) the day starts at 17:00 UTC the day before."""
    store = MemoryStore(clock=clock)
    jakarta = ZoneInfo("Asia/Jakarta")
    gateway_order(gw, "jkt_in", when=at("2026-11-29 17:00:00"))
    gateway_order(gw, "jkt_out", when=at("2026-11-30 17:00:00"))
    async with _client(gw, store, clock) as client:
        report = await client.payouts.reconcile_day(DAY, tz=jakarta)
    assert report.numbers(MismatchKind.UNKNOWN_ORDER) == ["jkt_in"]
    assert report.start == datetime(2026, 11, 30, tzinfo=jakarta)


@pytest.mark.parametrize(
    ("day", "tz", "field"),
    [
        (datetime(2026, 11, 30, tzinfo=timezone.utc), timezone.utc, "date"),
        ("2026-11-30", timezone.utc, "date"),
        (DAY, "UTC", "tz"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    gw: SandboxGateway, clock: FakeClock, day: object, tz: object, field: str
) -> None:
    """A datetime or a string for the day, or a string for the zone: ValidationError naming it."""
    async with _client(gw, MemoryStore(clock=clock), clock) as client:
        with pytest.raises(ValidationError) as caught:
            await client.payouts.reconcile_day(day, tz=tz)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert gw.ledger.post_count() == 0


async def test_a_day_of_ten_thousand_orders_is_read_page_by_page(
    gw: SandboxGateway, clock: FakeClock
) -> None:
    """10,000 orders on one day: 100 pages of 100, every order compared, the one the journal lacks
    named, and the totals add up."""
    store = MemoryStore(clock=clock)
    start = at("2026-11-30 00:00:00")
    clock.advance(start.timestamp() - clock())
    for index in range(10_000):
        number = f"bulk_{index:05d}"
        status = (S, F, P)[index % 3]
        amount = str(1 + index % 7)
        when = start + timedelta(seconds=8 * index)
        gateway_order(gw, number, when=when, status=status, amount=amount)
        if index != 4_242:
            fact = {"outTradeNo": number, "status": status.value}
            await store.record_result(
                number, {**fact, "trade": {"amount": amount, "currency": "USD"}}
            )
    clock.advance(86_400)
    async with _client(gw, store, clock) as client:
        report = await client.payouts.reconcile_day(DAY)
    assert gw.ledger.post_count(api=BATCH) == 100
    assert report.gateway_orders == 10_000
    assert report.journal_records == 9_999
    assert [m.out_trade_no for m in report.mismatches] == ["bulk_04242"]
    assert report.mismatches[0].kind is MismatchKind.UNKNOWN_ORDER
    total = sum((Decimal(1 + i % 7) for i in range(10_000)), Decimal(0))
    assert sum((t.amount for t in report.gateway_totals.values()), Decimal(0)) == total
    assert report.gateway_totals[("USD", "SUCCESS")].count == 3_334

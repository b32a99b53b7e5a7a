"""Reading the journal back, identical on every store: open records, and records by creation time."""

from __future__ import annotations

from payermax_async.stores import JournalStore, RecordState
from payermax_async.testing import FakeClock

FP = "c" * 64


async def _record_in(store: JournalStore, number: str, state: RecordState) -> None:
    """Drive ``number`` into ``state`` through the store's own transitions."""
    await store.claim(number, FP, owner="A", lease_seconds=60, amount="5", currency="USD")
    if state is RecordState.CLAIMED:
        return
    if state is RecordState.REJECTED:
        await store.mark_sent(number, owner="A")
        await store.record_rejected(number, owner="A", code="PARAMS_INVALID", error="x")
        return
    await store.mark_sent(number, owner="A")
    if state is RecordState.IN_DOUBT:
        await store.record_in_doubt(number, owner="A", error="RequestTimeoutError")
    elif state is RecordState.CONFLICT:
        await store.record_conflict(number, owner="A", error="conflict")
    elif state in (RecordState.ACCEPTED, RecordState.FINAL):
        status = "SUCCESS" if state is RecordState.FINAL else "PENDING"
        await store.record_result(number, {"outTradeNo": number, "status": status})


async def test_scan_open_lists_exactly_the_open_records(store: JournalStore) -> None:
    """One record in each state: scan_open() and open_records() list CLAIMED, SENT and IN_DOUBT."""
    for state in RecordState:
        await _record_in(store, f"S_{state.value}", state)
    scan = await store.scan_open()
    found = {record.out_trade_no: record.state for record in scan.records}
    assert found == {
        "S_CLAIMED": RecordState.CLAIMED,
        "S_SENT": RecordState.SENT,
        "S_IN_DOUBT": RecordState.IN_DOUBT,
    }
    assert scan.unreadable == []
    assert {r.out_trade_no for r in await store.open_records()} == set(found)


async def test_records_between_is_half_open_by_creation_time(
    store: JournalStore, clock: FakeClock
) -> None:
    """records_between(start, end) lists the records created in [start, end), in any state; with no
    bounds, every record."""
    start = clock()
    for index, state in enumerate((RecordState.FINAL, RecordState.IN_DOUBT, RecordState.REJECTED)):
        await _record_in(store, f"T_{index}", state)
        clock.advance(10)
    # A later transition does not move a record in time: creation is what counts.
    await store.record_result("T_1", {"outTradeNo": "T_1", "status": "SUCCESS"})
    window = await store.records_between(start, start + 20)
    assert sorted(r.out_trade_no for r in window.records) == ["T_0", "T_1"]
    assert [r.out_trade_no for r in (await store.records_between(start + 20)).records] == ["T_2"]
    everything = await store.records_between()
    assert sorted(r.out_trade_no for r in everything.records) == ["T_0", "T_1", "T_2"]
    assert everything.unreadable == []
    assert (await store.records_between(start + 30, start + 40)).records == []

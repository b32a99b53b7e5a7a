"""MemoryStore's record shelf: packed records come back equal, and a long journal keeps only its open
records as objects the garbage collector tracks."""

from __future__ import annotations

import gc
import random
from decimal import Decimal

import attrs

from payermax_async.models.payouts import PayoutStatus
from payermax_async.stores import RecordState
from payermax_async.stores._shelf import RecordShelf, pack, unpack
from payermax_async.stores.base import PayoutRecord
from payermax_async.stores.memory import MemoryStore


def _full_record(number: str) -> PayoutRecord:
    return PayoutRecord(
        out_trade_no=number,
        fingerprint="v2:" + "f" * 64,
        state=RecordState.ACCEPTED,
        status=PayoutStatus.PENDING,
        trade_no="TN" + number,
        result={"outTradeNo": number, "status": "PENDING", "nested": {"a": [1, 2.5, None, True]}},
        amount="10.50",
        currency="USD",
        attempts=2,
        last_error="ConnectError",
        error_code="X",
        notified_status=PayoutStatus.SUCCESS,
        owner="o" * 32,
        lease_expires=1.5,
        created_at=1_800_000_000.125,
        updated_at=1_800_000_001.0,
        maybe_sent=True,
        sent_until=2.0,
        order_amount="10.5",
        order_currency="USD",
        delivering=PayoutStatus.FAILED,
        delivering_owner="d",
        delivering_until=3.0,
    )


def test_a_packed_record_comes_back_equal_with_every_field_set() -> None:
    record = _full_record("N1")
    assert all(getattr(record, f.name) is not None for f in attrs.fields(PayoutRecord))
    packed = pack(record)
    assert isinstance(packed, bytes)
    back = unpack(packed)
    assert back == record
    assert back.state is RecordState.ACCEPTED
    assert back.delivering is PayoutStatus.FAILED
    assert back.result == record.result


def test_a_record_marshal_cannot_hold_exactly_stays_an_object() -> None:
    record = attrs.evolve(_full_record("N1"), result={"amount": Decimal("1.50")})
    assert pack(record) is None
    shelf = RecordShelf()
    shelf.put("N1", record)  # settled (ACCEPTED): packed if it could be
    found = shelf.get("N1")
    assert found is record
    assert found.result == {"amount": Decimal("1.50")}


def test_a_record_built_by_hand_with_plain_strings_stays_an_object() -> None:
    for status in ("SUCCESS", ""):
        record = attrs.evolve(_full_record("N1"), status=status)
        assert pack(record) is None
        shelf = RecordShelf()
        shelf.put("N1", record)
        assert shelf.get("N1") is record


def test_the_shelf_behaves_as_a_dict_whatever_is_packed() -> None:
    rng = random.Random(7)
    shelf, model = RecordShelf(), {}
    states = list(RecordState)
    for step in range(2_000):
        number = f"N{rng.randrange(12)}"
        if rng.random() < 0.6:  # open states stay objects, the others are packed
            state = rng.choice(states)
            record = attrs.evolve(_full_record(number), attempts=step, state=state)
            shelf.put(number, record)
            model[number] = record
        assert shelf.get(number) == model.get(number)
        assert (number in shelf) == (number in model)
        assert len(shelf) == len(model)
    assert sorted(shelf.values(), key=lambda r: r.out_trade_no) == sorted(
        model.values(), key=lambda r: r.out_trade_no
    )


def _tracked_records() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is PayoutRecord)


def test_a_long_memory_journal_keeps_a_bounded_number_of_tracked_records() -> None:
    before = _tracked_records()
    store = MemoryStore()
    for index in range(5_000):
        number = f"P{index}"
        store.claim_now(
            number, "v2:x", owner="t", lease_seconds=30.0, amount="1", currency="USD", sending=True
        )
        store.record_result_now(number, {"outTradeNo": number, "tradeNo": "T", "status": "PENDING"})
    assert _tracked_records() - before == 0  # every payout settled: all packed
    assert len(store._records) == 5_000
    first = store._records.get("P0")
    assert first is not None
    assert first.state is RecordState.ACCEPTED

"""Journal records written by to_json() read back equal; earlier layouts and missing optional fields read
as the record's defaults; anything else is an unreadable record (StoreError), never a guess."""

from __future__ import annotations

import json

import attrs
import pytest

from payermax_async.errors import StoreError
from payermax_async.models.payouts import PayoutStatus
from payermax_async.stores import RecordState
from payermax_async.stores.base import PayoutRecord

FULL = PayoutRecord(
    out_trade_no="N1",
    fingerprint="v2:" + "f" * 64,
    state=RecordState.ACCEPTED,
    status=PayoutStatus.SUCCESS,
    trade_no="T1",
    result={"outTradeNo": "N1", "status": "SUCCESS", "trade": {"amount": "1", "currency": "USD"}},
    amount="1",
    currency="USD",
    attempts=1,
    notified_status=PayoutStatus.SUCCESS,
    created_at=1.5,
    updated_at=2.5,
    sent_until=2.0,
    delivering=PayoutStatus.PENDING,
    delivering_owner="d",
    delivering_until=3.0,
)


def test_a_record_reads_back_equal() -> None:
    assert PayoutRecord.from_json(FULL.to_json()) == FULL
    assert PayoutRecord.from_json(FULL.to_json().encode()) == FULL


def test_missing_optional_fields_take_their_defaults_and_unknown_keys_are_ignored() -> None:
    doc = {"out_trade_no": "N2", "fingerprint": "", "state": "CLAIMED", "maybe_sent": False}
    doc["from_a_newer_version"] = [1, 2]
    assert PayoutRecord.from_json(json.dumps(doc)) == PayoutRecord("N2", "", RecordState.CLAIMED)


def test_a_record_from_before_maybe_sent_counts_as_maybe_sent_if_it_was_sending() -> None:
    doc = {"out_trade_no": "N3", "fingerprint": "x", "state": "SENT", "updated_at": 5.0}
    doc["lease_expires"] = 9.0
    record = PayoutRecord.from_json(json.dumps(doc))
    assert record.maybe_sent is True
    assert record.sent_until == 9.0


def test_a_subclass_reads_through_its_own_init() -> None:
    @attrs.frozen
    class Annotated(PayoutRecord):
        note: str = "read"

    record = Annotated.from_json(FULL.to_json())
    assert type(record) is Annotated
    assert record.note == "read"
    for field in attrs.fields(PayoutRecord):
        assert getattr(record, field.name) == getattr(FULL, field.name)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '"SENT"',
        "{not json",
        '{"out_trade_no": "N4", "fingerprint": "x", "state": "LOST"}',
        '{"out_trade_no": "N4", "fingerprint": "x", "state": ["SENT"]}',
        '{"out_trade_no": "N4", "fingerprint": "x", "state": "SENT", "status": "PAID"}',
        '{"fingerprint": "x", "state": "SENT"}',
        '{"out_trade_no": 4, "fingerprint": "x", "state": "SENT"}',
        '{"out_trade_no": "N4", "state": "SENT"}',
    ],
)
def test_anything_else_is_an_unreadable_record(text: str) -> None:
    with pytest.raises(StoreError, match="cannot be read"):
        PayoutRecord.from_json(text)

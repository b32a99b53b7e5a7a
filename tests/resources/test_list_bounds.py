"""list() bounds (issue 12): out-of-range datetimes and over-long spans are refused before any I/O,
years are written with four digits, and begin == end lists that one second."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from payermax_async import PayerMaxClient, PayoutOrder, ValidationError
from payermax_async.pipeline.chain import Call, Handler, Reply
from payermax_async.protocol.apis import API_BATCH_QUERY
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout

UTC = timezone.utc
PLUS_5 = timezone(timedelta(hours=5))
MINUS_5 = timezone(timedelta(hours=-5))


class Sent:
    """A per-attempt middleware keeping the data of every batch query sent."""

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        if call.api == API_BATCH_QUERY:
            self.queries.append(dict(call.data))
        return await next_handler(call)


async def _list(client: PayerMaxClient, **kwargs: Any) -> list[PayoutOrder]:
    return [order async for order in client.payouts.list(**kwargs)]


@pytest.mark.parametrize(
    ("begin", "end", "field"),
    [
        (datetime(2026, 1, 1), datetime.max, "end"),
        (datetime.min, datetime(2026, 1, 1), "end"),
        (datetime.min.replace(tzinfo=PLUS_5), datetime(1, 1, 2, tzinfo=UTC), "begin"),
        (datetime(9999, 12, 30, tzinfo=UTC), datetime.max.replace(tzinfo=MINUS_5), "end"),
        (datetime(2026, 1, 2), datetime(2026, 1, 1), "end"),
        (datetime(2025, 1, 1), datetime(2026, 1, 2, 0, 0, 1), "end"),
        ("2026-01-01", datetime(2026, 1, 2), "begin"),
    ],
)
async def test_bad_windows_are_refused_before_any_request(
    gw: SandboxGateway, begin: Any, end: Any, field: str
) -> None:
    """Out-of-range, reversed and over-long windows: ValidationError for begin/end, no request."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        with pytest.raises(ValidationError) as info:
            await _list(client, begin=begin, end=end)
    assert info.value.field == field
    assert gw.ledger.post_count() == 0


async def test_a_year_and_a_day_is_the_longest_span(gw: SandboxGateway) -> None:
    """Exactly 366 days is listed, in 366 one-day queries made one after the other."""
    sent = Sent()
    begin = datetime(2024, 1, 1, tzinfo=UTC)
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy(), middlewares=[sent]) as client:
        assert await _list(client, begin=begin, end=begin + timedelta(days=366)) == []
    assert len(sent.queries) == 366
    assert sent.queries[-1]["queryEndTime"] == "2025-01-01 00:00:00"


async def test_years_are_written_with_four_digits(gw: SandboxGateway) -> None:
    """A window in year 1 is sent as 0001-01-01 (strftime wrote "1-01-01")."""
    sent = Sent()
    begin = datetime(1, 1, 1, tzinfo=UTC)
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy(), middlewares=[sent]) as client:
        await _list(client, begin=begin, end=begin + timedelta(hours=1))
    assert [(q["queryBeginTime"], q["queryEndTime"]) for q in sent.queries] == [
        ("0001-01-01 00:00:00", "0001-01-01 01:00:00")
    ]


async def test_begin_equal_to_end_lists_that_second(gw: SandboxGateway) -> None:
    """begin == end is a one-second inclusive window, as the gateway takes it."""
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    gw.ledger.add_order(payout("same_second"), created_at=moment.replace(microsecond=500_000))
    gw.ledger.add_order(payout("next_second"), created_at=moment + timedelta(seconds=1))
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        orders = await _list(client, begin=moment, end=moment)
    assert [order.out_trade_no for order in orders] == ["same_second"]


async def test_offsets_are_converted_before_writing(gw: SandboxGateway) -> None:
    """An aware window is sent in UTC."""
    sent = Sent()
    begin = datetime(2026, 3, 1, 5, 0, 0, tzinfo=PLUS_5)
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy(), middlewares=[sent]) as client:
        await _list(client, begin=begin, end=begin)
    assert sent.queries[0]["queryBeginTime"] == "2026-03-01 00:00:00"

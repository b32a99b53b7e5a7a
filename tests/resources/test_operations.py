"""``client.payouts``: list (windows, pages, dedupe), wait_until_final, create's outTradeNo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from payermax_async import PayerMaxClient, PayerMaxConfig, PayoutStatus, RsaSigner
from payermax_async.errors import OrderNotFoundError, ValidationError, WaitTimeoutError
from payermax_async.models import AccountInfo, PayeeInfo, PayoutOrder, PayoutRequest, Trade
from payermax_async.pipeline import Call, Handler, Reply
from tests.support.mock_gateway import GATEWAY, reply_with, request_count, sent_bodies, valid_payout

BATCH_URL = f"{GATEWAY}/paymentOrderBatchQry"
QUERY_URL = f"{GATEWAY}/paymentOrderQry"
UTC = timezone.utc


def _order(number: str, status: str = "SUCCESS") -> dict[str, Any]:
    return {"outTradeNo": number, "tradeNo": f"T{number}", "status": status}


class FakeBatchGateway:
    """Answers paymentOrderBatchQry from ``pages[(queryBeginTime, pageIndex)]``, signed."""

    def __init__(self, signer: RsaSigner, pages: dict[tuple[str, int], dict[str, Any]]) -> None:
        self.signer = signer
        self.pages = pages
        self.queries: list[dict[str, Any]] = []

    def __call__(self, _url: object, **kwargs: Any) -> CallbackResult:
        data = json.loads(kwargs["data"])["data"]
        self.queries.append(data)
        page = self.pages.get((data["queryBeginTime"], data["currentPageIndex"]), {"orderList": []})
        body = json.dumps({"code": "APPLY_SUCCESS", "msg": "", "data": page}).encode()
        return CallbackResult(body=body, headers={"sign": self.signer.sign_sync(body)})


async def _collect(client: PayerMaxClient, **kwargs: Any) -> list[PayoutOrder]:
    return [order async for order in client.payouts.list(**kwargs)]


async def test_list_splits_a_long_window_into_days(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """A 3.5-day window becomes 4 queries of at most one day, in UTC yyyy-MM-dd HH:mm:ss."""
    fake = FakeBatchGateway(platform_signer, {})
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20, 8, 0, tzinfo=timezone(timedelta(hours=8)))  # 00:00 UTC
    orders = await _collect(client, begin=begin, end=begin + timedelta(days=3, hours=12))
    assert orders == []
    windows = [(q["queryBeginTime"], q["queryEndTime"]) for q in fake.queries]
    assert windows == [
        ("2026-11-20 00:00:00", "2026-11-21 00:00:00"),
        ("2026-11-21 00:00:00", "2026-11-22 00:00:00"),
        ("2026-11-22 00:00:00", "2026-11-23 00:00:00"),
        ("2026-11-23 00:00:00", "2026-11-23 12:00:00"),
    ]
    assert all(q["pageSize"] == 100 and q["currentPageIndex"] == 1 for q in fake.queries)
    for start, stop in windows:
        span = datetime.fromisoformat(stop) - datetime.fromisoformat(start)
        assert timedelta(0) < span <= timedelta(days=1)


async def test_list_pages_until_a_short_page(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """Without totalCount, pages are fetched until one holds fewer than page_size orders."""
    day = "2026-11-20 00:00:00"
    fake = FakeBatchGateway(
        platform_signer,
        {
            (day, 1): {"orderList": [_order("A"), _order("B")]},
            (day, 2): {"orderList": [_order("C"), _order("D")]},
            (day, 3): {"orderList": [_order("E")]},
            (day, 4): {"orderList": [_order("NEVER")]},
        },
    )
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20, tzinfo=UTC)
    orders = await _collect(client, begin=begin, end=begin + timedelta(hours=6), page_size=2)
    assert [o.out_trade_no for o in orders] == ["A", "B", "C", "D", "E"]
    assert [q["currentPageIndex"] for q in fake.queries] == [1, 2, 3]


async def test_list_stops_at_total_count(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """With totalCount, a full last page ends the listing without asking for an empty one."""
    day = "2026-11-20 00:00:00"
    fake = FakeBatchGateway(
        platform_signer,
        {
            (day, 1): {"totalCount": 4, "orderList": [_order("A"), _order("B")]},
            (day, 2): {"totalCount": "4", "orderList": [_order("C"), _order("D")]},
            (day, 3): {"totalCount": 4, "orderList": [_order("NEVER")]},
        },
    )
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20, tzinfo=UTC)
    orders = await _collect(client, begin=begin, end=begin + timedelta(hours=1), page_size=2)
    assert [o.out_trade_no for o in orders] == ["A", "B", "C", "D"]
    assert len(fake.queries) == 2


async def test_list_tolerates_a_missing_total_and_an_empty_last_page(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """No totalCount and an exactly full page: the next (empty) page ends the listing."""
    day = "2026-11-20 00:00:00"
    fake = FakeBatchGateway(platform_signer, {(day, 1): {"orderList": [_order("A"), _order("B")]}})
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20)  # naive: taken as UTC
    orders = await _collect(client, begin=begin, end=begin + timedelta(hours=1), page_size=2)
    assert [o.out_trade_no for o in orders] == ["A", "B"]
    assert [q["currentPageIndex"] for q in fake.queries] == [1, 2]
    assert fake.queries[0]["queryBeginTime"] == day


async def test_list_yields_a_boundary_order_once(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """An order stamped on the boundary second, listed by both windows, is yielded once."""
    fake = FakeBatchGateway(
        platform_signer,
        {
            ("2026-11-20 00:00:00", 1): {"orderList": [_order("A"), _order("EDGE")]},
            ("2026-11-21 00:00:00", 1): {"orderList": [_order("EDGE"), _order("B")]},
        },
    )
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20, tzinfo=UTC)
    orders = await _collect(client, begin=begin, end=begin + timedelta(days=2))
    assert [o.out_trade_no for o in orders] == ["A", "EDGE", "B"]


async def test_list_sends_filters(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """status and country filters go into each query."""
    fake = FakeBatchGateway(platform_signer, {})
    gateway_mock.post(BATCH_URL, callback=fake, repeat=True)
    begin = datetime(2026, 11, 20, tzinfo=UTC)
    await _collect(
        client,
        begin=begin,
        end=begin + timedelta(hours=1),
        status=PayoutStatus.FAILED,
        country="ID",
    )
    assert fake.queries[0]["status"] == "FAILED"
    assert fake.queries[0]["country"] == "ID"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "pageSize"),
        ({"page_size": 101}, "pageSize"),
        ({"page_size": True}, "pageSize"),
        ({"page_size": "10"}, "pageSize"),
        ({"status": "DONE"}, "status"),
        ({"country": "id"}, "country"),
        ({"country": "IDN"}, "country"),
        ({"end": datetime(2026, 11, 19, tzinfo=UTC)}, "end"),
        ({"begin": "2026-11-20"}, "begin"),
    ],
)
async def test_list_validates_before_io(
    client: PayerMaxClient, gateway_mock: aioresponses, kwargs: dict[str, Any], field: str
) -> None:
    """Bad page size, status, country or window raise ValidationError before any request."""
    arguments: dict[str, Any] = {
        "begin": datetime(2026, 11, 20, tzinfo=UTC),
        "end": datetime(2026, 11, 21, tzinfo=UTC),
    } | kwargs
    with pytest.raises(ValidationError) as info:
        await _collect(client, **arguments)
    assert info.value.field == field
    assert request_count(gateway_mock) == 0


# ---------------------------------------------------------------------------- wait_until_final


def _query_reply(signer: RsaSigner, status: str) -> Callable[..., CallbackResult]:
    return reply_with(signer, {"code": "APPLY_SUCCESS", "data": _order("PO1", status)})


@pytest.mark.parametrize("final", ["SUCCESS", "FAILED", "BOUNCEBACK"])
async def test_wait_returns_on_a_final_status(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner, final: str
) -> None:
    """wait_until_final polls through PENDING and returns the first final status."""
    gateway_mock.post(QUERY_URL, callback=_query_reply(platform_signer, "PENDING"))
    gateway_mock.post(QUERY_URL, callback=_query_reply(platform_signer, "PENDING"))
    gateway_mock.post(QUERY_URL, callback=_query_reply(platform_signer, final))
    order = await client.payouts.wait_until_final("PO1", timeout=30, poll_interval=0.001)
    assert order.status == final
    assert request_count(gateway_mock) == 3


async def test_wait_rides_out_transient_errors(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """A 502 page, a SYSTEM_ERROR and an unsigned answer in between do not end the wait."""
    gateway_mock.post(QUERY_URL, status=502, body=b"<html>bad gateway</html>")
    gateway_mock.post(QUERY_URL, body=b'{"code":"SYSTEM_ERROR","msg":"busy"}')
    gateway_mock.post(QUERY_URL, body=b'{"code":"TOO_MANY_REQUEST","msg":"slow"}')
    gateway_mock.post(QUERY_URL, callback=_query_reply(platform_signer, "SUCCESS"))
    order = await client.payouts.wait_until_final("PO1", timeout=30, poll_interval=0.001)
    assert order.status is PayoutStatus.SUCCESS
    assert request_count(gateway_mock) == 4


async def test_wait_times_out_with_the_last_order(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """Still PENDING at the deadline: WaitTimeoutError carrying the last order seen."""
    gateway_mock.post(QUERY_URL, callback=_query_reply(platform_signer, "PENDING"), repeat=True)
    with pytest.raises(WaitTimeoutError) as info:
        await client.payouts.wait_until_final("PO1", timeout=0.2, poll_interval=0.001)
    last = info.value.last_order
    assert isinstance(last, PayoutOrder)
    assert last.status is PayoutStatus.PENDING
    assert info.value.out_trade_no == "PO1"
    assert isinstance(info.value, TimeoutError)


async def test_wait_stops_on_order_not_found(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """ORDER_NOT_EXIST is not transient: it ends the wait at once."""
    gateway_mock.post(QUERY_URL, body=b'{"code":"ORDER_NOT_EXIST","msg":"no"}', repeat=True)
    with pytest.raises(OrderNotFoundError) as caught:
        await client.payouts.wait_until_final("PO1", timeout=30, poll_interval=0.001)
    assert request_count(gateway_mock) == 1
    assert caught.value.verified is False  # this answer carried no sign header


async def test_wait_and_retrieve_validate_the_number(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """A malformed outTradeNo or a non-positive timeout is refused before any request."""
    with pytest.raises(ValidationError):
        await client.payouts.retrieve("PO-1")
    with pytest.raises(ValidationError):
        await client.payouts.wait_until_final("PO 1", timeout=1)
    with pytest.raises(ValidationError):
        await client.payouts.wait_until_final("PO1", timeout=0)
    assert request_count(gateway_mock) == 0


# ------------------------------------------------------------------------------------- create


async def test_create_never_changes_out_trade_no(
    config: PayerMaxConfig, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """The outTradeNo sent, and the call's idempotency key, are the caller's, on every create."""
    calls: list[Call] = []

    async def capture(call: Call, next_handler: Handler) -> Reply:
        calls.append(call)
        return await next_handler(call)

    model = PayoutRequest(
        out_trade_no="W_2026_0001",
        country="ID",
        trade=Trade(amount="150000", currency="IDR"),
        payee_info=PayeeInfo("WALLET", AccountInfo("0812"), target_org="DANA"),
    )
    answer = {"code": "APPLY_SUCCESS", "data": {"outTradeNo": "W_2026_0001", "tradeNo": "T"}}
    gateway_mock.post(
        f"{GATEWAY}/paymentOrderPay", callback=reply_with(platform_signer, answer), repeat=True
    )
    async with PayerMaxClient(config, middlewares=[capture]) as client:
        first = await client.payouts.create(model)
        assert await client.payouts.create(model) == first  # recorded: not sent again
    # A fresh client (and journal) per create: within one journal, other data under the same number
    # is refused as a conflict, which the reliability tests cover.
    async with PayerMaxClient(config, middlewares=[capture]) as client:
        await client.payouts.create(valid_payout() | {"outTradeNo": "W_2026_0001"})
    assert first.out_trade_no == "W_2026_0001"
    assert first.status is PayoutStatus.PENDING
    assert [body["data"]["outTradeNo"] for body in sent_bodies(gateway_mock)] == ["W_2026_0001"] * 2
    assert [call.idempotency_key for call in calls] == ["W_2026_0001"] * 2


async def test_create_refuses_an_unparseable_success(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """A signed APPLY_SUCCESS whose data lacks outTradeNo is an unknown outcome: the client asks
    the gateway, and when that query fails too the payout is reported in doubt, never failed."""
    from payermax_async import PayoutOutcomeUnknown

    gateway_mock.post(
        f"{GATEWAY}/paymentOrderPay",
        callback=reply_with(platform_signer, {"code": "APPLY_SUCCESS", "data": {"x": 1}}),
    )
    gateway_mock.post(f"{GATEWAY}/paymentOrderQry", status=503, body=b"<html>down</html>")
    with pytest.raises(PayoutOutcomeUnknown) as info:
        await client.payouts.create(valid_payout())
    assert info.value.out_trade_no == valid_payout()["outTradeNo"]
    assert [url.path for (_method, url) in gateway_mock.requests] == [
        "/aggregate-pay/api/gateway/paymentOrderPay",
        "/aggregate-pay/api/gateway/paymentOrderQry",
    ]


async def test_wait_until_final_refuses_a_zero_or_negative_interval(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """poll_interval and timeout must be positive (a zero interval would poll in a tight loop);
    the refusal comes before any request."""
    for kwargs in ({"timeout": 5, "poll_interval": 0}, {"timeout": 0, "poll_interval": 1}):
        with pytest.raises(ValidationError):
            await client.payouts.wait_until_final("PO1", **kwargs)
    assert request_count(gateway_mock) == 0


async def test_wait_until_final_checks_every_interval_argument(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """max_poll_interval=0 (a tight loop in disguise) and non-numbers are refused before I/O."""
    for kwargs in (
        {"timeout": 5, "poll_interval": 1, "max_poll_interval": 0},
        {"timeout": "1", "poll_interval": 1},
        {"timeout": 5, "poll_interval": float("nan")},
    ):
        with pytest.raises(ValidationError):
            await client.payouts.wait_until_final("PO1", **kwargs)  # type: ignore[arg-type]
    assert request_count(gateway_mock) == 0

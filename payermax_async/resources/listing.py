"""``client.payouts.list()``: the batch query, window by window and page by page."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone

from ..errors import InvalidResponseError, ValidationError
from ..middleware.settle import Send
from ..models.payouts import PayoutOrder, PayoutStatus
from ..pipeline.chain import Call, Reply
from ..protocol.apis import BATCH_TIME_FORMAT, MAX_BATCH_WINDOW
from ..protocol.rules import check_country
from .parsing import parse_data

__all__ = ["day_windows", "list_filters", "list_orders"]

_MAX_PAGES_PER_WINDOW = 10_000


def utc(moment: object, field: str) -> datetime:
    """``moment`` as an aware datetime (naive ones are UTC)."""
    if not isinstance(moment, datetime):
        msg = f"{field} must be a datetime"
        raise ValidationError(msg, field=field)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def day_windows(begin: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Split ``[begin, end]`` into consecutive windows of at most one day (the gateway's limit)."""
    count = math.ceil((end - begin) / MAX_BATCH_WINDOW) if end > begin else 0
    return [
        (begin + index * MAX_BATCH_WINDOW, min(begin + (index + 1) * MAX_BATCH_WINDOW, end))
        for index in range(count)
    ]


def list_filters(
    status: PayoutStatus | str | None, country: str | None, page_size: int
) -> dict[str, object]:
    """The batch query's optional filters, checked (before any I/O)."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        msg = "page_size must be an integer from 1 to 100"
        raise ValidationError(msg, field="pageSize")
    filters: dict[str, object] = {}
    if status is not None:
        try:
            filters["status"] = PayoutStatus(status).value
        except ValueError:
            msg = "status must be one of PENDING, SUCCESS, FAILED, BOUNCEBACK"
            raise ValidationError(msg, field="status") from None
    if country is not None:
        check_country(country)
        filters["country"] = country
    return filters


async def list_orders(
    send: Send,
    api: str,
    windows: list[tuple[datetime, datetime]],
    filters: Mapping[str, object],
    page_size: int,
) -> AsyncIterator[PayoutOrder]:
    """Every order of every window, oldest first, each once."""
    # Adjacent windows share their boundary second, so an order stamped on it may be listed by
    # both; remember the previous window's numbers to yield each order once.
    previous: set[str] = set()
    for window_start, window_end in windows:
        current: set[str] = set()
        async for order in _window(send, api, window_start, window_end, filters, page_size):
            if order.out_trade_no in previous or order.out_trade_no in current:
                continue
            current.add(order.out_trade_no)
            yield order
        previous = current


async def _window(
    send: Send,
    api: str,
    begin: datetime,
    end: datetime,
    filters: Mapping[str, object],
    page_size: int,
) -> AsyncIterator[PayoutOrder]:
    seen = 0
    for page in range(1, _MAX_PAGES_PER_WINDOW + 1):
        data = {
            "queryBeginTime": begin.astimezone(timezone.utc).strftime(BATCH_TIME_FORMAT),
            "queryEndTime": end.astimezone(timezone.utc).strftime(BATCH_TIME_FORMAT),
            "pageSize": page_size,
            "currentPageIndex": page,
            **filters,
        }
        orders, total = parse_page(await send(Call.build(api, data)))
        for order in orders:
            yield order
        seen += len(orders)
        if len(orders) < page_size or (total is not None and seen >= total):
            return


def parse_page(reply: Reply) -> tuple[list[PayoutOrder], int | None]:
    """One batch-query page: its orders and the total the gateway claims, if it states one."""
    data = reply.data or {}
    raw_orders = data.get("orderList") or []
    if not isinstance(raw_orders, list):
        msg = f"{reply.api} data.orderList is not a list"
        raise InvalidResponseError(msg, http_status=reply.http_status)
    orders = [
        parse_data(item, PayoutOrder, api=reply.api, http_status=reply.http_status)
        for item in raw_orders
    ]
    total = data.get("totalCount")
    try:
        total_count = int(total) if total is not None and total != "" else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        total_count = None
    return orders, total_count

"""``client.payouts.list()``: the batch query, window by window and page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone

import aiohttp

from ..errors import InvalidResponseError, ValidationError
from ..middleware.settle import Send
from ..models.payouts import PayoutOrder, PayoutStatus
from ..pipeline.chain import Call, Reply
from ..pipeline.deadline import deadline_at
from ..protocol.apis import MAX_BATCH_WINDOW
from ..protocol.rules import check_country
from .parsing import parse_data

__all__ = [
    "MAX_LIST_SPAN",
    "batch_time",
    "day_windows",
    "list_filters",
    "list_orders",
    "list_span",
    "utc",
]

#: The longest ``[begin, end]`` one ``list()`` call covers [decided]: a year and a day, at most 367
#: one-day queries (each one or more requests); list a longer history year by year.
MAX_LIST_SPAN = timedelta(days=366)
_MAX_PAGES_PER_WINDOW = 10_000
#: A page request's per-attempt timeout and its deadline in seconds (each checked already).
Limits = tuple[aiohttp.ClientTimeout | None, float | None]


def utc(moment: object, field: str) -> datetime:
    """``moment`` in UTC (naive datetimes are taken as UTC).

    Raises:
        ValidationError: not a datetime, or one that has no UTC equivalent (``datetime.min`` with a
            positive offset, ``datetime.max`` with a negative one).
    """
    if not isinstance(moment, datetime):
        msg = f"{field} must be a datetime"
        raise ValidationError(msg, field=field)
    aware = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
    try:
        return aware.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        msg = f"{field} is out of range: it has no UTC equivalent"
        raise ValidationError(msg, field=field) from None


def list_span(begin: object, end: object) -> tuple[datetime, datetime]:
    """``[begin, end]`` in UTC, checked: in order and at most ``MAX_LIST_SPAN`` long.

    Raises:
        ValidationError: naming ``begin`` or ``end``.
    """
    start, stop = utc(begin, "begin"), utc(end, "end")
    if stop < start:
        msg = "end must not be earlier than begin"
        raise ValidationError(msg, field="end")
    if stop - start > MAX_LIST_SPAN:
        msg = f"end is more than {MAX_LIST_SPAN.days} days after begin; list year by year"
        raise ValidationError(msg, field="end")
    return start, stop


def batch_time(moment: datetime) -> str:
    """A UTC moment as the batch query writes it, ``yyyy-MM-dd HH:mm:ss``, the year always four
    digits (``strftime("%Y")`` writes year 1 as ``1`` on Linux). An aware moment in another zone
    is converted first: the gateway reads these times as UTC."""
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def day_windows(begin: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive windows of at most one day (the gateway's limit) covering ``[begin, end]``, made
    one at a time; ``begin == end`` gives one window of that second. Never steps past ``end``, so it
    cannot overflow near ``datetime.max``."""
    start = begin
    for _ in range(MAX_LIST_SPAN // MAX_BATCH_WINDOW + 2):  # bounded: list() caps the span
        stop = end if end - start <= MAX_BATCH_WINDOW else start + MAX_BATCH_WINDOW
        yield start, stop
        if stop >= end:
            return
        start = stop


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
    windows: Iterable[tuple[datetime, datetime]],
    filters: Mapping[str, object],
    page_size: int,
    limits: Limits = (None, None),
) -> AsyncIterator[PayoutOrder]:
    """Every order of every window, oldest first, each once. ``limits`` is each page request's
    per-attempt timeout and its deadline in seconds."""
    # Adjacent windows share their boundary second, so an order stamped on it may be listed by
    # both; remember the previous window's numbers to yield each order once.
    previous: set[str] = set()
    for window_start, window_end in windows:
        current: set[str] = set()
        pages = _window(send, api, (window_start, window_end), filters, page_size, limits)
        async for order in pages:
            if order.out_trade_no in previous or order.out_trade_no in current:
                continue
            current.add(order.out_trade_no)
            yield order
        previous = current


async def _window(
    send: Send,
    api: str,
    window: tuple[datetime, datetime],
    filters: Mapping[str, object],
    page_size: int,
    limits: Limits,
) -> AsyncIterator[PayoutOrder]:
    begin, end = window
    timeout, deadline = limits
    seen = 0
    for page in range(1, _MAX_PAGES_PER_WINDOW + 1):
        data = {
            "queryBeginTime": batch_time(begin),
            "queryEndTime": batch_time(end),
            "pageSize": page_size,
            "currentPageIndex": page,
            **filters,
        }
        # Each page is one call: the deadline starts when its request is built, so the time the
        # caller spends between pages is never charged to the next page.
        call = Call.build(api, data, timeout=timeout, deadline=deadline_at(deadline))
        orders, total = parse_page(await send(call))
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

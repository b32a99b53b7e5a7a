"""``client.payouts``: the payout operations, each building a ``Call`` and parsing its ``Reply``."""

from __future__ import annotations

import asyncio
import builtins
import math
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

import aiohttp

from .._chain import Call, Reply
from .._rules import check_country, check_out_trade_no, check_payout_data, check_validation_data
from ..errors import (
    InvalidResponseError,
    PayerMaxError,
    ValidationError,
    WaitTimeoutError,
)
from ..middleware.outcomes import is_transient_read_failure
from ..models._converter import structure, unstructure
from ..models.payouts import (
    FieldValidationRequest,
    PayoutOrder,
    PayoutRequest,
    PayoutResult,
    PayoutStatus,
)
from ..models.validation import FieldValidationResult
from ..protocol.apis import (
    API_BATCH_QUERY,
    API_PAY,
    API_QUERY,
    API_VALIDATE,
    BATCH_TIME_FORMAT,
    MAX_BATCH_WINDOW,
)
from .reconcile import Reconciler, ReconcileReport

if TYPE_CHECKING:
    from .._client import PayerMaxClient

__all__ = ["API_BATCH_QUERY", "API_PAY", "API_QUERY", "API_VALIDATE", "Payouts"]


#: Fields of a payout's data that field validation does not take (PROTOCOL.md §5).
_NOT_VALIDATED = ("outTradeNo", "trade", "notifyUrl", "reference", "userId", "riskParams")
_MAX_WINDOW = MAX_BATCH_WINDOW
_MAX_PAGES_PER_WINDOW = 10_000
_BATCH_TIME_FORMAT = BATCH_TIME_FORMAT

PayoutInput = PayoutRequest | Mapping[str, object]
ValidationInput = FieldValidationRequest | PayoutRequest | Mapping[str, object]
TimeoutInput = float | aiohttp.ClientTimeout | None
T = TypeVar("T")


def as_client_timeout(timeout: TimeoutInput) -> aiohttp.ClientTimeout | None:
    """Accept seconds (total) or an ``aiohttp.ClientTimeout``."""
    if timeout is None or isinstance(timeout, aiohttp.ClientTimeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        msg = "timeout must be a positive number of seconds or an aiohttp.ClientTimeout"
        raise ValidationError(msg, field="timeout")
    return aiohttp.ClientTimeout(total=float(timeout))


def payout_data(request: PayoutInput) -> tuple[Mapping[str, object], str]:
    """Turn a payout request (model or wire mapping) into checked wire data and its outTradeNo."""
    data = unstructure(request) if isinstance(request, PayoutRequest) else request
    out_trade_no = check_payout_data(data)
    return data, out_trade_no


def _validation_data(request: ValidationInput) -> Mapping[str, object]:
    if isinstance(request, PayoutRequest):
        wire = unstructure(request)
        data: Mapping[str, object] = {k: v for k, v in wire.items() if k not in _NOT_VALIDATED}
    elif isinstance(request, FieldValidationRequest):
        data = unstructure(request)
    else:
        data = request
    check_validation_data(data)
    return data


def _utc(moment: object, field: str) -> datetime:
    if not isinstance(moment, datetime):
        msg = f"{field} must be a datetime"
        raise ValidationError(msg, field=field)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def day_windows(begin: datetime, end: datetime) -> builtins.list[tuple[datetime, datetime]]:
    """Split ``[begin, end]`` into consecutive windows of at most one day (the gateway's limit)."""
    count = math.ceil((end - begin) / _MAX_WINDOW) if end > begin else 0
    return [
        (begin + index * _MAX_WINDOW, min(begin + (index + 1) * _MAX_WINDOW, end))
        for index in range(count)
    ]


class Payouts:
    """The payout operations of a :class:`~payermax_async.PayerMaxClient` (``client.payouts``).

    Every request may be an attrs model or a plain mapping in wire form (camelCase ``data``); a mapping
    is checked and then sent as given.
    """

    def __init__(self, client: PayerMaxClient, *, batch_query_api: str = API_BATCH_QUERY) -> None:
        self._client = client
        self._batch_query_api = batch_query_api

    async def _data(self, call: Call, cls: type[T]) -> T:
        reply = await self._client._dispatch(call)
        return _parse(reply, cls)

    async def validate(
        self, request: ValidationInput, *, timeout: TimeoutInput = None
    ) -> FieldValidationResult:
        """Check payee fields with the gateway before paying (``paymentFieldValidation``).

        Returns the verdict per field; a failed field is not an exception (``result.ok`` is false).

        Raises:
            ValidationError: the request is malformed (before any I/O).
        """
        call = Call.build(
            API_VALIDATE, _validation_data(request), timeout=as_client_timeout(timeout)
        )
        return await self._data(call, FieldValidationResult)

    async def create(self, request: PayoutInput, *, timeout: TimeoutInput = None) -> PayoutResult:
        """Initiate one payout (``paymentOrderPay``). Payouts are irrevocable.

        The request's ``outTradeNo`` is used as given on every attempt; it is never invented or changed.

        Raises:
            ValidationError: the request is malformed (before any I/O).
            InvalidRequestError: the gateway refused the payout; no order exists.
            PayoutOutcomeUnknown: the payout may exist; settle it with ``reconcile()``.
        """
        data, out_trade_no = payout_data(request)
        call = Call.build(
            API_PAY, data, idempotency_key=out_trade_no, timeout=as_client_timeout(timeout)
        )
        # Inlined _data(): one coroutine frame fewer per payout in flight.
        reply = await self._client._dispatch(call)
        return _parse(reply, PayoutResult)

    async def create_many(
        self,
        requests: Iterable[PayoutInput],
        *,
        concurrency: int = 16,
        timeout: TimeoutInput = None,
    ) -> builtins.list[PayoutResult | PayerMaxError]:
        """Create many payouts, at most ``concurrency`` at a time.

        Returns one entry per request, in input order: the :class:`PayoutResult`, or the
        :class:`~payermax_async.PayerMaxError` that request raised (a ``ValidationError``, an
        ``InvalidRequestError``, a ``PayoutOutcomeUnknown``, ...), so one bad payout never hides the
        others' results. Requests repeating an ``outTradeNo`` share one attempt. Anything that is not
        a ``PayerMaxError`` (a bug, a cancellation) propagates.

        Raises:
            ValidationError: ``concurrency`` is not a positive integer.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            msg = "concurrency must be a positive integer"
            raise ValidationError(msg, field="concurrency")
        if isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Iterable):
            msg = "requests must be an iterable of payout requests (models or mappings)"
            raise ValidationError(msg, field="requests")
        pending = builtins.list(requests)
        results: builtins.list[PayoutResult | PayerMaxError | None] = [None] * len(pending)
        queue = iter(range(len(pending)))

        async def worker() -> None:
            # Each worker takes the next index until none is left: at most `concurrency` in flight.
            for index in queue:
                try:
                    results[index] = await self.create(pending[index], timeout=timeout)
                except PayerMaxError as exc:
                    results[index] = exc

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
        return [result for result in results if result is not None]

    async def reconcile(
        self, *, include_leased: bool = False, concurrency: int = 8
    ) -> ReconcileReport:
        """Settle every payout the idempotency store holds as open (``CLAIMED``, ``SENT``,
        ``IN_DOUBT``) by querying the gateway.

        Found, with the amount and currency that were sent: the journal adopts the order's state
        (forward only) and the order is returned. Found with another amount or currency: reported
        as a conflict, never adopted. ``ORDER_NOT_EXIST`` proves that no order exists only once the
        client's ``absence_window`` has passed since the last moment a request may have left (an
        order can become visible late); then the record becomes re-sendable (``report.absent``) and
        the next ``create()`` of that ``outTradeNo`` sends it, under the same number. Before that,
        and when a query fails or an answer is unsigned, the record stays in doubt for the next run
        (``report.in_doubt``). Unreadable records are skipped and reported, never fatal. Records
        another live process is working on are skipped unless ``include_leased`` is true: use that
        at start-up after a crash, when no other process shares the journal.

        Returns:
            A :class:`~payermax_async.resources.reconcile.ReconcileReport`: the list of orders found,
            with ``absent``, ``in_doubt``, ``conflicts``, ``unreadable`` and ``skipped`` numbers.
        """
        client = self._client
        reconciler = Reconciler(client._idempotency, client.send)
        return await reconciler.run(include_leased=include_leased, concurrency=concurrency)

    async def retrieve(self, out_trade_no: str, *, timeout: TimeoutInput = None) -> PayoutOrder:
        """Query one payout by its ``outTradeNo`` (``paymentOrderQry``).

        Raises:
            OrderNotFoundError: the gateway holds no such payout.
        """
        check_out_trade_no(out_trade_no)
        call = Call.build(
            API_QUERY, {"outTradeNo": out_trade_no}, timeout=as_client_timeout(timeout)
        )
        return await self._data(call, PayoutOrder)

    async def list(
        self,
        *,
        begin: datetime,
        end: datetime,
        status: PayoutStatus | str | None = None,
        country: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[PayoutOrder]:
        """Iterate over the payouts created in ``[begin, end]``, oldest first, across all pages.

        Windows longer than a day are split into one-day queries (the gateway's limit); naive datetimes
        are taken as UTC.

        Raises:
            ValidationError: bad window, status, country or page size (before any I/O).
        """
        start, stop = _utc(begin, "begin"), _utc(end, "end")
        if stop <= start:
            msg = "end must be later than begin"
            raise ValidationError(msg, field="end")
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= 100
        ):
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
        # Adjacent windows share their boundary second, so an order stamped on it may be listed by
        # both; remember the previous window's numbers to yield each order once.
        previous: set[str] = set()
        for window_start, window_end in day_windows(start, stop):
            current: set[str] = set()
            async for order in self._window(window_start, window_end, filters, page_size):
                if order.out_trade_no in previous or order.out_trade_no in current:
                    continue
                current.add(order.out_trade_no)
                yield order
            previous = current

    async def _window(
        self, begin: datetime, end: datetime, filters: Mapping[str, object], page_size: int
    ) -> AsyncIterator[PayoutOrder]:
        seen = 0
        for page in range(1, _MAX_PAGES_PER_WINDOW + 1):
            data = {
                "queryBeginTime": begin.astimezone(timezone.utc).strftime(_BATCH_TIME_FORMAT),
                "queryEndTime": end.astimezone(timezone.utc).strftime(_BATCH_TIME_FORMAT),
                "pageSize": page_size,
                "currentPageIndex": page,
                **filters,
            }
            reply = await self._client.send(Call.build(self._batch_query_api, data))
            orders, total = _parse_page(reply)
            for order in orders:
                yield order
            seen += len(orders)
            if len(orders) < page_size or (total is not None and seen >= total):
                return

    async def wait_until_final(
        self,
        out_trade_no: str,
        *,
        timeout: float,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
    ) -> PayoutOrder:
        """Poll a payout until it is ``SUCCESS``, ``FAILED`` or ``BOUNCEBACK``.

        Polls start ``poll_interval`` seconds apart and back off by half each time, up to
        ``max_poll_interval``. Transient query failures are ridden out until ``timeout``.

        Raises:
            WaitTimeoutError: still not final after ``timeout`` seconds (``.last_order`` has the latest
                state seen).
            OrderNotFoundError: the gateway holds no such payout.
        """
        check_out_trade_no(out_trade_no)
        # A zero interval would poll the gateway in a tight loop until the timeout.
        for name, value in (
            ("timeout", timeout),
            ("poll_interval", poll_interval),
            ("max_poll_interval", max_poll_interval),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value < math.inf
            ):
                msg = f"{name} must be a positive number of seconds"
                raise ValidationError(msg, field=name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        interval = poll_interval
        last: PayoutOrder | None = None
        for _ in range(1_000_000):  # bounded by the deadline long before this count
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                last = await _within(self.retrieve(out_trade_no), remaining)
            except asyncio.TimeoutError:
                pass  # this poll ran out of time: try again at the next one
            except PayerMaxError as exc:
                if not is_transient_read_failure(exc):
                    raise
                # transient: try again at the next poll
            else:
                if last.is_final:
                    return last
            pause = min(interval, deadline - loop.time())
            if pause > 0:
                await asyncio.sleep(pause)
            interval = min(max_poll_interval, interval * 1.5)
        msg = f"payout …{out_trade_no[-4:]} is not final after {timeout:g} s"
        raise WaitTimeoutError(msg, out_trade_no=out_trade_no, last_order=last)


async def _within(awaitable: Awaitable[T], seconds: float) -> T:
    return await asyncio.wait_for(awaitable, seconds)


def _parse(reply: Reply, cls: type[T]) -> T:
    return _parse_data(reply.data, cls, api=reply.api, http_status=reply.http_status)


def _parse_data(data: object, cls: type[T], *, api: str, http_status: int) -> T:
    try:
        return structure(data, cls, what=f"{api} data")
    except ValidationError as exc:
        # The gateway accepted the call but its data is not what the protocol says: for a payout
        # that is an unknown outcome, never a definite failure.
        raise InvalidResponseError(str(exc), http_status=http_status) from None


def _parse_page(reply: Reply) -> tuple[builtins.list[PayoutOrder], int | None]:
    data = reply.data or {}
    raw_orders = data.get("orderList") or []
    if not isinstance(raw_orders, builtins.list):
        msg = f"{reply.api} data.orderList is not a list"
        raise InvalidResponseError(msg, http_status=reply.http_status)
    orders = [
        _parse_data(item, PayoutOrder, api=reply.api, http_status=reply.http_status)
        for item in raw_orders
    ]
    total = data.get("totalCount")
    try:
        total_count = int(total) if total is not None and total != "" else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        total_count = None
    return orders, total_count

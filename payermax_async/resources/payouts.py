"""``client.payouts``: the payout operations, each building a ``Call`` and parsing its ``Reply``."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import date, datetime, timezone, tzinfo
from typing import TypeVar

from .._redact import last4
from ..errors import PayerMaxError, ValidationError, WaitTimeoutError
from ..middleware.backoff import Backoff
from ..middleware.idempotency import IdempotencyMiddleware
from ..middleware.outcomes import is_transient_read_failure
from ..middleware.settle import Send
from ..models.payouts import PayoutOrder, PayoutResult, PayoutStatus
from ..models.validation import FieldValidationResult
from ..pipeline.chain import Call
from ..pipeline.deadline import check_deadline
from ..protocol.apis import API_BATCH_QUERY, API_PAY, API_QUERY, API_VALIDATE
from ..protocol.rules import check_out_trade_no
from .day_report import DayReport
from .inputs import (
    PayoutInput,
    TimeoutInput,
    ValidationInput,
    as_client_timeout,
    call_limits,
    check_concurrency,
    payout_data,
    validation_data,
    wait_arguments,
)
from .listing import day_windows, list_filters, list_orders, list_span
from .lookup import query_payout
from .outbox import RelayReport, check_relay_arguments, outbox_store, relay_forever, send_reserved
from .parsing import parse_reply
from .reconcile import Reconciler, ReconcileReport
from .reconcile_day import reconcile_day
from .tasks import run_all

__all__ = ["Payouts"]

T = TypeVar("T")


class Payouts:
    """The payout operations of a :class:`~payermax_async.PayerMaxClient` (``client.payouts``).

    Every request may be an attrs model or a plain mapping in wire form (camelCase ``data``); a mapping
    is checked and then sent as given.

    ``timeout=`` bounds **each HTTP attempt** (seconds or an ``aiohttp.ClientTimeout``; a retry gets
    it whole again); ``deadline=`` (seconds) bounds **the whole call**: every attempt, pause and
    settling query. A passed deadline raises :class:`~payermax_async.errors.DeadlineExceededError`,
    except for a payout that may have been sent: :class:`~payermax_async.PayoutOutcomeUnknown`, in
    doubt for ``reconcile()``. ``client.with_options()`` sets both for every call of a view.
    """

    def __init__(
        self,
        send: Send,
        journal: IdempotencyMiddleware,
        *,
        batch_query_api: str = API_BATCH_QUERY,
    ) -> None:
        self._send = send
        self._journal = journal
        self._batch_query_api = batch_query_api

    async def _data(self, call: Call, cls: type[T]) -> T:
        return parse_reply(await self._send(call), cls)

    async def validate(
        self,
        request: ValidationInput,
        *,
        timeout: TimeoutInput = None,
        deadline: float | None = None,
    ) -> FieldValidationResult:
        """Check payee fields with the gateway before paying (``paymentFieldValidation``).

        Returns the verdict per field; a failed field is not an exception (``result.ok`` is false).

        Raises:
            ValidationError: the request, ``timeout`` or ``deadline`` is malformed (before any I/O).
            DeadlineExceededError: ``deadline`` passed.
        """
        data = validation_data(request)
        attempt_timeout, at = call_limits(timeout, deadline)
        call = Call.build(API_VALIDATE, data, timeout=attempt_timeout, deadline=at)
        return await self._data(call, FieldValidationResult)

    async def create(
        self, request: PayoutInput, *, timeout: TimeoutInput = None, deadline: float | None = None
    ) -> PayoutResult:
        """Initiate one payout (``paymentOrderPay``). Payouts are irrevocable.

        The request's ``outTradeNo`` is used as given on every attempt; it is never invented or changed.

        Raises:
            ValidationError: the request, ``timeout`` or ``deadline`` is malformed (before any I/O).
            InvalidRequestError: the gateway refused the payout; no order exists.
            PayoutOutcomeUnknown: the payout may exist (also when ``deadline`` passed after a
                request may have left); settle it with ``reconcile()``.
            DeadlineExceededError: ``deadline`` passed before anything was sent; nothing is in doubt.
        """
        data, out_trade_no = payout_data(request)
        attempt_timeout, at = call_limits(timeout, deadline)
        call = Call.build(
            API_PAY, data, idempotency_key=out_trade_no, timeout=attempt_timeout, deadline=at
        )
        # Inlined _data(): one coroutine frame fewer per payout in flight.
        return parse_reply(await self._send(call), PayoutResult)

    async def create_many(
        self,
        requests: Iterable[PayoutInput],
        *,
        concurrency: int = 16,
        timeout: TimeoutInput = None,
        deadline: float | None = None,
    ) -> builtins.list[PayoutResult | PayerMaxError]:
        """Create many payouts, at most ``concurrency`` at a time.

        Returns one entry per request, in input order: the :class:`PayoutResult`, or the
        :class:`~payermax_async.PayerMaxError` that request raised (a ``ValidationError``, an
        ``InvalidRequestError``, a ``PayoutOutcomeUnknown``, ...), so one bad payout never hides the
        others' results. Requests repeating an ``outTradeNo`` share one attempt.

        Nothing keeps running after this returns or raises. If something that is not a
        ``PayerMaxError`` escapes a payout (a bug, say in a middleware) or the caller is cancelled,
        the payouts still in flight are cancelled and awaited, each settling its journal record (one
        that may have been sent stays ``IN_DOUBT`` for ``reconcile()``), and then that exception or
        the cancellation propagates.

        ``timeout`` and ``deadline`` apply to each payout as in :meth:`create`.

        Raises:
            ValidationError: ``concurrency`` is not a positive integer, ``timeout`` or ``deadline``
                is not usable, or ``requests`` is not an iterable of requests.
        """
        check_concurrency(concurrency)
        if isinstance(requests, str | bytes | Mapping) or not isinstance(requests, Iterable):
            msg = "requests must be an iterable of payout requests (models or mappings)"
            raise ValidationError(msg, field="requests")
        call_limits(timeout, deadline)  # a bad timeout is one error now, not one per request
        pending = builtins.list(requests)
        results: builtins.list[PayoutResult | PayerMaxError | None] = [None] * len(pending)
        queue = iter(range(len(pending)))

        async def worker() -> None:
            # Each worker takes the next index until none is left: at most `concurrency` in flight.
            for index in queue:
                try:
                    results[index] = await self.create(
                        pending[index], timeout=timeout, deadline=deadline
                    )
                except PayerMaxError as exc:
                    results[index] = exc

        workers = min(concurrency, len(pending))
        await run_all((worker() for _ in range(workers)), name="payermax-create-many")
        # Every worker returned, so every index holds its request's result or error.
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

        Raises:
            ValidationError: ``concurrency`` is not a positive integer.
        """
        check_concurrency(concurrency)
        reconciler = Reconciler(self._journal, self._send, query_payout)
        return await reconciler.run(include_leased=include_leased, concurrency=concurrency)

    async def send_reserved(
        self, *, limit: int = 100, concurrency: int = 16, retry_after: float = 60.0
    ) -> RelayReport:
        """Send the payouts reserved with ``PostgresStore.reserve()`` whose transactions committed,
        each exactly once, through ``create()`` (every journal rule applies). Safe to run from many
        processes and hosts at once: each takes different rows, and a row two relays took anyway
        (a relay that stalled past its lease) is still one payout.

        Args:
            limit: at most this many reserved payouts in this pass.
            concurrency: at most this many in flight at a time.
            retry_after: seconds before a payout left in doubt (or failed by the network or the
                database) is taken again; ``create()`` then queries before any resend.

        Returns:
            A :class:`~payermax_async.resources.outbox.RelayReport`: the results sent (or found
            sent), with ``rejected``, ``conflicts``, ``invalid`` and ``in_doubt`` numbers.

        Raises:
            ConfigurationError: the client's store is not a ``PostgresStore``, or its schema was not
                migrated.
            ValidationError: a non-positive ``limit``, ``concurrency`` or ``retry_after``.
            StoreError: the database could not be reached.
        """
        return await send_reserved(
            self._journal,
            self.create,
            limit=limit,
            concurrency=concurrency,
            retry_after=retry_after,
        )

    async def relay_reserved(
        self,
        *,
        stop: asyncio.Event | None = None,
        poll_interval: float = 1.0,
        limit: int = 100,
        concurrency: int = 16,
        retry_after: float = 60.0,
        on_report: Callable[[RelayReport], object] | None = None,
    ) -> RelayReport:
        """The long-running form of :meth:`send_reserved` for a worker: pass after pass until
        ``stop`` is set (or the task is cancelled), pausing ``poll_interval`` seconds whenever a
        pass found fewer than ``limit`` reserved payouts. A database outage is logged and ridden
        out. ``on_report`` is called with each pass's report that took anything.

        Returns:
            Every pass's results together, once ``stop`` is set.

        Raises:
            ConfigurationError: the client's store is not a ``PostgresStore``.
            ValidationError: a non-positive argument.
        """
        outbox_store(self._journal)
        check_relay_arguments(limit, concurrency, retry_after)
        return await relay_forever(
            lambda: self.send_reserved(
                limit=limit, concurrency=concurrency, retry_after=retry_after
            ),
            stop=stop,
            poll_interval=poll_interval,
            on_report=on_report,
            limit=limit,
        )

    async def reconcile_day(
        self, date: date, *, tz: tzinfo = timezone.utc, concurrency: int = 8
    ) -> DayReport:
        """Compare the gateway's payouts of one calendar day with the journal.

        Lists the day's orders at the gateway (``paymentOrderBatchQry``, every page) and the journal
        records created that day, and reports (``docs/operating.md``): orders the journal does not
        know (``UNKNOWN_ORDER``), records sent or accepted that the gateway does not know once the
        absence window has passed (``MISSING_ORDER``), statuses that differ (the journal behind is
        advanced, forward only: ``JOURNAL_BEHIND``; ahead or contradicting: ``JOURNAL_AHEAD``), and
        other amounts or currencies (``AMOUNT_MISMATCH``, never adopted). Nothing else is written.

        Args:
            date: the calendar day (a ``datetime.date``).
            tz: the time zone the day is taken in (default UTC; DST days have 23 or 25 hours).
            concurrency: journal lookups and single-payout queries in flight.

        Returns:
            A :class:`~payermax_async.resources.day_report.DayReport`: ``report.ok``,
            ``report.mismatches``, ``report.summary()`` with counts and totals per currency and
            status; its ``repr`` names every mismatched ``outTradeNo``.

        Raises:
            ValidationError: ``date`` is not a date or ``tz`` not a tzinfo (before any I/O).
            ConfigurationError: the store cannot list its records by day (``records_between``).
        """
        return await reconcile_day(
            self._journal.journal,
            self._send,
            self._batch_query_api,
            date,
            tz,
            concurrency=concurrency,
        )

    async def retrieve(
        self, out_trade_no: str, *, timeout: TimeoutInput = None, deadline: float | None = None
    ) -> PayoutOrder:
        """Query one payout by its ``outTradeNo`` (``paymentOrderQry``).

        Raises:
            ValidationError: a bad number, ``timeout`` or ``deadline`` (before any I/O).
            OrderNotFoundError: the gateway holds no such payout.
            DeadlineExceededError: ``deadline`` passed.
        """
        check_out_trade_no(out_trade_no)
        attempt_timeout, at = call_limits(timeout, deadline)
        call = Call.build(
            API_QUERY, {"outTradeNo": out_trade_no}, timeout=attempt_timeout, deadline=at
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
        timeout: TimeoutInput = None,
        deadline: float | None = None,
    ) -> AsyncIterator[PayoutOrder]:
        """Iterate over the payouts created in ``[begin, end]``, oldest first, across all pages.

        Both ends are included, to the second (``begin == end`` lists that one second). Windows
        longer than a day are split into one-day queries (the gateway's limit), made as iteration
        reaches them. One call covers at most 366 days (``MAX_LIST_SPAN``); list longer histories
        year by year. Naive datetimes are taken as UTC.

        ``timeout`` bounds each attempt and ``deadline`` each page's request (with its retries); the
        time your loop spends between pages is not counted. To bound the whole iteration, wrap it in
        ``asyncio.timeout()``.

        Raises:
            ValidationError: a bad or out-of-range window, a span over 366 days, a bad status,
                country, page size, ``timeout`` or ``deadline`` (before any I/O).
            DeadlineExceededError: a page's ``deadline`` passed.
        """
        limits = (as_client_timeout(timeout), check_deadline(deadline))
        windows = day_windows(*list_span(begin, end))
        filters = list_filters(status, country, page_size)
        async for order in list_orders(
            self._send, self._batch_query_api, windows, filters, page_size, limits
        ):
            yield order

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
        ``max_poll_interval``. Transient query failures are ridden out until ``timeout``. Each of
        the three must be more than 0 and at most 30 days.

        Raises:
            ValidationError: a bad number or interval (before any I/O).
            WaitTimeoutError: still not final after ``timeout`` seconds (``.last_order`` has the latest
                state seen).
            OrderNotFoundError: the gateway holds no such payout.
        """
        check_out_trade_no(out_trade_no)
        timeout, poll_interval, max_poll_interval = wait_arguments(
            timeout, poll_interval, max_poll_interval
        )
        polls = Backoff(first=poll_interval, cap=max_poll_interval, factor=1.5)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: PayoutOrder | None = None
        for poll in range(1, 1_000_000):  # bounded by the deadline long before this count
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                last = await asyncio.wait_for(self.retrieve(out_trade_no), remaining)
            except asyncio.TimeoutError:
                pass  # this poll ran out of time: try again at the next one
            except PayerMaxError as exc:
                if not is_transient_read_failure(exc):
                    raise
                # transient: try again at the next poll
            else:
                if last.is_final:
                    return last
            pause = min(polls.pause(poll), deadline - loop.time())
            if pause > 0:
                await asyncio.sleep(pause)
        msg = f"payout {last4(out_trade_no)} is not final after {timeout:g} s"
        raise WaitTimeoutError(msg, out_trade_no=out_trade_no, last_order=last)

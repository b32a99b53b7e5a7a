"""Bulk payouts from a CSV file: read the rows, validate them all, pay them, write the results.

This is the engine of ``payermax payouts bulk FILE.csv --out results.csv``; it can also be used from
Python::

    rows = read_rows("payouts.csv")              # every row checked; nothing sent
    if any(row.errors for row in rows): ...
    async with SQLiteStore("results.csv.journal.sqlite") as store, \\
            PayerMaxClient(config, store=store) as client:
        results = await BulkRun(client, rows, concurrency=8).run()
    write_results("results.csv", results)

**The file.** UTF-8 (a byte-order mark is fine), comma-separated, a header row naming the columns in
any order. One payout per row; cells are trimmed, an empty cell is left out of the request. Every
column maps to one field of the ``paymentOrderPay`` data.

Required columns (the header must have them; ``targetOrg`` and ``fullName`` cells may be empty when
the payment method does not need them, every other cell here must be filled):

- ``outTradeNo`` → ``outTradeNo``: your unique number for the payout (letters, digits, ``_``)
- ``country`` → ``country`` (``ID``, ``PH``, ...)
- ``amount`` → ``trade.amount``: sent as the cell's exact decimal text (``150000``, ``12.50``)
- ``currency`` → ``trade.currency`` (``IDR``, ``PHP``, ...)
- ``paymentMethodType`` → ``payeeInfo.paymentMethodType`` (``WALLET``, ``BANK_TRANSFER``, ...)
- ``targetOrg`` → ``payeeInfo.targetOrg`` (``DANA``, ``GCASH``, ...)
- ``accountNo`` → ``payeeInfo.accountInfo.accountNo``
- ``fullName`` → ``payeeInfo.name.fullName``

Optional columns: ``firstName`` → ``payeeInfo.name.firstName``, ``lastName`` →
``payeeInfo.name.lastName``, ``accountType`` → ``payeeInfo.accountInfo.accountType``, ``bankCode`` →
``payeeInfo.bankInfo.bankCode``, ``bankName`` → ``payeeInfo.bankInfo.bankName``, ``email`` →
``payeeInfo.email``, ``phone`` → ``payeeInfo.payeePhone``, ``remark``, ``reference``, ``notifyUrl``,
``purpose`` and ``destinationCurrency`` (same names on the wire).

A column not listed here is an error naming it (a file without a header row is reported as such,
without echoing its first row). Each row is checked with the same local rules as
``client.payouts.create()``; a repeated ``outTradeNo`` is an error on the later rows. Error messages
name the line, the column and the rule, never a cell's value.

**Resuming.** :meth:`BulkRun.run` first settles every open record of the client's journal by
querying the gateway (``reconcile(include_leased=True)``: a run killed mid-flight leaves its payouts
``SENT``), then sends each row through ``create()``: rows the journal holds as accepted come back
without a request, rows that provably never reached the gateway are sent under the same
``outTradeNo``. Only one run may use a journal at a time (the command holds a lock on it).

**The results.** ``outTradeNo,status,tradeNo,error`` in input order. ``status`` is the payout's
status when the gateway accepted it (``PENDING``, ``SUCCESS``, ``FAILED``, ``BOUNCEBACK``), else one
of ``INVALID`` (refused by the local checks, not sent), ``REJECTED`` (refused by the gateway: no order
exists), ``IN_DOUBT`` (it may exist: run again, or reconcile), ``ERROR`` (not paid for another reason,
e.g. an ``outTradeNo`` already used with other data) or ``NOT_SENT`` (the run was stopped first).
The file is mode ``0600``, and a cell a spreadsheet would run as a formula (``=``, ``+``, ``-``,
``@``, tab, CR first) is written with a leading ``'``.
"""

from __future__ import annotations

import asyncio
import csv
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

import attrs

from .._files import csv_row, write_replacing
from .._redact import redact_message, redact_text
from ..errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    PayerMaxError,
    PayoutOutcomeUnknown,
    ValidationError,
)
from ..stores.base import KNOWN_STATES, OPEN_STATES
from .pacing import Progress, TokenBucket
from .rows import (
    COLUMNS,
    MAX_ROWS,
    REQUIRED_CELLS,
    REQUIRED_COLUMNS,
    BulkRow,
    RowError,
    check_row,
    parse_rows,
    read_rows,
    row_data,
)

if TYPE_CHECKING:
    from .._client import PayerMaxClient

__all__ = [
    "COLUMNS",
    "IN_DOUBT_HINT",
    "MAX_ROWS",
    "REQUIRED_CELLS",
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "BulkRow",
    "BulkRun",
    "RowError",
    "RowResult",
    "RowStatus",
    "check_row",
    "describe",
    "invalid_result",
    "parse_rows",
    "read_rows",
    "row_data",
    "write_results",
]

#: The results file's header.
RESULT_COLUMNS = ("outTradeNo", "status", "tradeNo", "error")
#: What an in-doubt row's error says.
IN_DOUBT_HINT = "in doubt: run again or reconcile"


class RowStatus:
    """The ``status`` values of a row that the gateway did not accept (see the module docstring)."""

    INVALID = "INVALID"
    REJECTED = "REJECTED"
    IN_DOUBT = "IN_DOUBT"
    ERROR = "ERROR"
    NOT_SENT = "NOT_SENT"


@attrs.frozen
class RowResult:
    """One line of the results file.

    Attributes:
        out_trade_no: the row's ``outTradeNo``.
        status: a payout status or a :class:`RowStatus` value.
        trade_no: PayerMax's number, once known.
        error: error class and code or rule, without payee data.
        from_journal: the outcome was already in the journal from an earlier run (nothing sent).
    """

    out_trade_no: str
    status: str
    trade_no: str = ""
    error: str = ""
    from_journal: bool = False

    @property
    def accepted(self) -> bool:
        """Whether the gateway holds the payout (an order exists)."""
        return self.status not in vars(RowStatus).values()


# ----------------------------------------------------------------------------------- results


def describe(error: BaseException) -> str:
    """An error for the results file: its class and code or rule, never payee data."""
    name = type(error).__name__
    if isinstance(error, PayoutOutcomeUnknown):
        return f"{name}: {IN_DOUBT_HINT}"
    if isinstance(error, APIError):
        # The gateway's text may echo the payee's name or number back: masked like str(error).
        text = f"{name}: {error.code}" + (f": {redact_message(error.msg)}" if error.msg else "")
    else:
        text = f"{name}: {error}"
    return " ".join(redact_text(text).split())[:300]


def write_results(path: str | os.PathLike[str], results: Iterable[RowResult]) -> None:
    """Write the results CSV (``outTradeNo,status,tradeNo,error``), replacing the file atomically.

    The file is mode ``0600``, written through ``<path>.tmp`` (never through a symlink planted
    there), and every cell that a spreadsheet would run as a formula (``=HYPERLINK(...)`` as an
    invalid row's ``outTradeNo``) is written with a leading ``'``.
    """

    def write(handle: TextIO) -> None:
        writer = csv.writer(handle)
        writer.writerow(csv_row(RESULT_COLUMNS))
        for result in results:
            writer.writerow(
                csv_row((result.out_trade_no, result.status, result.trade_no, result.error))
            )

    write_replacing(path, write)


def invalid_result(row: BulkRow) -> RowResult:
    """The results line of a row that failed the local checks."""
    return RowResult(row.out_trade_no, RowStatus.INVALID, error="; ".join(map(str, row.errors)))


# ----------------------------------------------------------------------------------- running


class BulkRun:
    """Pays the valid rows through one client, at most ``concurrency`` at a time.

    Every row goes through ``client.payouts.create()``, so the client's idempotency store makes the
    run exactly-once: with a durable store, running the same rows again returns the payouts already
    accepted from the journal (nothing sent) and sends only the others, under the same numbers.

    Args:
        client: the client (its ``store`` is the journal).
        rows: the rows, valid and invalid (invalid ones become ``INVALID`` results, unsent).
        concurrency: payouts in flight at most.
        limiter: a rate limit on starting payouts.
        progress: where to show progress.
        stop: once set, no new payout starts; those in flight finish.

    Raises:
        ValidationError: ``concurrency`` is not a positive integer.
    """

    def __init__(
        self,
        client: PayerMaxClient,
        rows: Sequence[BulkRow],
        *,
        concurrency: int = 8,
        limiter: TokenBucket | None = None,
        progress: Progress | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            msg = "concurrency must be a positive integer"
            raise ValidationError(msg, field="concurrency")
        self._client = client
        self._rows = list(rows)
        self._concurrency = concurrency
        self._limiter = limiter
        self._progress = progress
        self._stop = stop or asyncio.Event()
        self._results: list[RowResult | None] = [
            None if row.valid else invalid_result(row) for row in self._rows
        ]
        self._in_flight: set[int] = set()
        self._journalled: set[int] = set()
        self._done = 0
        self._counts: Counter[str] = Counter()
        self.settled_first = 0
        #: Rows an earlier run already got accepted (answered from the journal, nothing sent).
        self.already_done = 0

    @property
    def counts(self) -> Mapping[str, int]:
        """Rows finished so far, by status."""
        return dict(self._counts)

    def results(self) -> list[RowResult]:
        """One result per row, in input order. Rows in flight when the run was cancelled are
        ``IN_DOUBT``; rows never started are ``NOT_SENT``."""
        final: list[RowResult] = []
        for index, (row, result) in enumerate(zip(self._rows, self._results, strict=True)):
            if result is not None:
                final.append(result)
            elif index in self._in_flight:
                error = f"interrupted while in flight: {IN_DOUBT_HINT}"
                final.append(RowResult(row.out_trade_no, RowStatus.IN_DOUBT, error=error))
            else:
                final.append(RowResult(row.out_trade_no, RowStatus.NOT_SENT, error="not started"))
        return final

    async def run(self) -> list[RowResult]:
        """Settle what an earlier run left open, then pay every row not yet done.

        Returns:
            :meth:`results`.
        """
        pending = await self._prepare()
        if self._progress is not None and self.already_done:
            self._progress.resume(self.already_done, self._done, self._counts)
        queue = iter(pending)

        async def worker() -> None:
            # Each worker takes the next row until none is left: at most `concurrency` in flight.
            for index in queue:
                if self._stop.is_set():
                    return
                if self._limiter is not None:
                    await self._limiter.acquire()
                    if self._stop.is_set():
                        return
                self._in_flight.add(index)
                result = await self._pay(self._rows[index], index)
                self._results[index] = result
                self._in_flight.discard(index)
                self._finished(result)

        workers = min(self._concurrency, len(pending))
        await asyncio.gather(*(worker() for _ in range(workers)))
        if self._progress is not None:
            self._progress.finish(self._done, self._counts)
        return self.results()

    async def _prepare(self) -> list[int]:
        """Settle open journal records by querying (an earlier run may have crashed mid-flight),
        then pick the rows to work on."""
        store = self._client.store
        valid = [index for index, row in enumerate(self._rows) if row.valid]
        # This process is the journal's only user (the bulk command holds a lock on it), so a
        # lease still held is a dead run's: settle those too.
        self.settled_first = len(
            await self._client.payouts.reconcile(include_leased=True, concurrency=self._concurrency)
        )
        pending: list[int] = []
        now = None
        for index in valid:
            record = await store.get(self._rows[index].out_trade_no)
            if record is None:
                pending.append(index)
                continue
            if record.state in KNOWN_STATES:
                # Accepted by an earlier run: answered from the journal now, without a request,
                # so that progress starts from the rows already done.
                self._journalled.add(index)
                result = await self._pay(self._rows[index], index)
                self._results[index] = result
                self.already_done += 1
                self._finished(result, show=False)
                continue
            if record.state in OPEN_STATES and record.owner is not None:
                # The query that would settle it failed: sending now could only wait on the dead
                # lease. Leave it in doubt for the next run.
                now = now if now is not None else time.time()
                if record.leased_by_other(None, now):
                    error = f"PayoutOutcomeUnknown: {IN_DOUBT_HINT}"
                    self._results[index] = RowResult(
                        record.out_trade_no, RowStatus.IN_DOUBT, error=error
                    )
                    self._finished(self._results[index])  # type: ignore[arg-type]
                    continue
            pending.append(index)
        return pending

    async def _pay(self, row: BulkRow, index: int) -> RowResult:
        assert row.data is not None
        try:
            result = await self._client.payouts.create(row.data)
        except PayoutOutcomeUnknown as exc:
            return RowResult(row.out_trade_no, RowStatus.IN_DOUBT, error=describe(exc))
        except (InvalidRequestError, AuthenticationError, ValidationError) as exc:
            return RowResult(row.out_trade_no, RowStatus.REJECTED, error=describe(exc))
        except PayerMaxError as exc:
            return RowResult(row.out_trade_no, RowStatus.ERROR, error=describe(exc))
        return RowResult(
            result.out_trade_no,
            result.status.value,
            result.trade_no or "",
            from_journal=index in self._journalled,
        )

    def _finished(self, result: RowResult, *, show: bool = True) -> None:
        self._done += 1
        self._counts[result.status] += 1
        if show and self._progress is not None:
            self._progress.update(self._done, self._counts)

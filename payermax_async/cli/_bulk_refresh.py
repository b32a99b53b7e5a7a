"""``payermax payouts bulk --refresh --out RESULTS.csv``: bring a results file up to date.

Rows the gateway accepted as ``PENDING`` (and rows left ``IN_DOUBT``) are queried again and their
lines rewritten with what PayerMax says now (``SUCCESS``, ``FAILED``, ...). Nothing is paid: the
journal's open records are settled by query, then each such row is looked up with
``paymentOrderQry``; a row with no order at the gateway stays as it was (run without ``--refresh``
to send it).
"""

from __future__ import annotations

import asyncio
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..bulk import RESULT_COLUMNS, RowResult, RowStatus, write_results
from ..errors import ConfigurationError, OrderNotFoundError, PayerMaxError

__all__ = ["NOT_FINAL", "read_results", "refresh"]

#: Results statuses worth asking about again.
NOT_FINAL = frozenset({"PENDING", RowStatus.IN_DOUBT})
EXIT_OK = 0
EXIT_UNSETTLED = 3


def read_results(path: Path) -> list[RowResult]:
    """The lines of a results file written by ``payouts bulk``.

    Raises:
        ConfigurationError: the file is missing or is not a results file.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(header) != RESULT_COLUMNS:
                msg = f"{path}: not a results file of payouts bulk (header {','.join(RESULT_COLUMNS)})"
                raise ConfigurationError(msg)
            results = []
            for cells in reader:
                if len(cells) != len(RESULT_COLUMNS):
                    # Rewriting without this line would lose a row: refuse instead.
                    msg = f"{path}: line {reader.line_num} is not outTradeNo,status,tradeNo,error"
                    raise ConfigurationError(msg)
                results.append(RowResult(cells[0], cells[1], cells[2], cells[3]))
            return results
    except FileNotFoundError:
        msg = f"{path}: no results file to refresh (run payouts bulk without --refresh first)"
        raise ConfigurationError(msg) from None


async def refresh(out: Path, journal: Path, concurrency: int) -> int:
    """Re-query the rows of ``out`` that are not final and rewrite it; return the exit status."""
    from .._config import PayerMaxConfig
    from ..stores.sqlite import SQLiteStore
    from ._gateway import cli_client

    results = read_results(out)
    wanted = [index for index, result in enumerate(results) if result.status in NOT_FINAL]
    config = PayerMaxConfig.from_env()
    failed: list[int] = []
    async with SQLiteStore(journal) as store, cli_client(config, store=store, retry=None) as client:
        # Queries only: a run that died mid-flight left records open; settle them first.
        await client.payouts.reconcile(include_leased=True, concurrency=concurrency)
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            old = results[index]
            async with gate:
                try:
                    order = await client.payouts.retrieve(old.out_trade_no)
                except OrderNotFoundError:
                    failed.append(index)  # no order: nothing to refresh, nothing paid
                    return
                except PayerMaxError:
                    failed.append(index)
                    return
            results[index] = RowResult(
                old.out_trade_no, order.status.value, order.trade_no or old.trade_no
            )

        await asyncio.gather(*(one(index) for index in wanted))
    now = [results[index] for index in wanted]
    write_results(out, results)
    _summary(sys.stdout, out, len(results), now, failed)
    unsettled = failed or any(results[i].status == RowStatus.IN_DOUBT for i in wanted)
    return EXIT_UNSETTLED if unsettled else EXIT_OK


def _summary(
    stream: TextIO, out: Path, rows: int, refreshed: Sequence[RowResult], failed: Sequence[int]
) -> None:
    now = Counter(result.status for result in refreshed)
    detail = ", ".join(f"{status} {n}" for status, n in sorted(now.items()))
    lines = [
        f"payouts bulk --refresh: {rows} rows, {len(refreshed)} not final were queried"
        + (f"; now {detail}" if detail else ""),
    ]
    if failed:
        lines.append(
            f"  {len(failed)} could not be refreshed (no order at the gateway, or the query "
            "failed); their lines are unchanged"
        )
    lines.append("nothing was paid; run --refresh again later for rows still PENDING")
    lines.append(f"results  {out}")
    stream.write("\n".join(lines) + "\n")
    stream.flush()

"""Reading a payouts CSV and checking every row (the format is documented in :mod:`payermax_async.bulk`)."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

import attrs

from ..errors import ValidationError
from ..resources.inputs import payout_data

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "REQUIRED_CELLS",
    "REQUIRED_COLUMNS",
    "BulkRow",
    "RowError",
    "check_row",
    "parse_rows",
    "read_rows",
    "row_data",
]

#: Every column the file may have, and the wire field it fills.
COLUMNS: Mapping[str, str] = {
    "outTradeNo": "outTradeNo",
    "country": "country",
    "amount": "trade.amount",
    "currency": "trade.currency",
    "paymentMethodType": "payeeInfo.paymentMethodType",
    "targetOrg": "payeeInfo.targetOrg",
    "accountNo": "payeeInfo.accountInfo.accountNo",
    "fullName": "payeeInfo.name.fullName",
    "firstName": "payeeInfo.name.firstName",
    "lastName": "payeeInfo.name.lastName",
    "accountType": "payeeInfo.accountInfo.accountType",
    "bankCode": "payeeInfo.bankInfo.bankCode",
    "bankName": "payeeInfo.bankInfo.bankName",
    "email": "payeeInfo.email",
    "phone": "payeeInfo.payeePhone",
    "remark": "remark",
    "reference": "reference",
    "notifyUrl": "notifyUrl",
    "purpose": "purpose",
    "destinationCurrency": "destinationCurrency",
}
#: Columns the header must have.
REQUIRED_COLUMNS = (
    "outTradeNo",
    "country",
    "amount",
    "currency",
    "paymentMethodType",
    "targetOrg",
    "accountNo",
    "fullName",
)
#: Cells that must not be empty.
REQUIRED_CELLS = ("outTradeNo", "country", "amount", "currency", "paymentMethodType", "accountNo")
#: The most rows one file may hold (a salary run is thousands; this only stops a runaway file).
MAX_ROWS = 1_000_000
_FIELD_TO_COLUMN = {field: column for column, field in COLUMNS.items()}


class _Reader(Protocol):
    """What ``csv.reader`` returns (its class is private to the csv module)."""

    @property
    def line_num(self) -> int: ...

    def __iter__(self) -> Iterator[list[str]]: ...

    def __next__(self) -> list[str]: ...


@attrs.frozen
class RowError:
    """One problem with one row. Never holds the cell's value.

    Attributes:
        line: the row's line in the file (the header is line 1).
        column: the CSV column, when the problem belongs to one.
        field: the dotted wire path the SDK's rules named, if any.
        message: what is wrong.
    """

    line: int
    column: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column is not None:
            where += f", column {self.column}"
        elif self.field is not None:
            where += f", field {self.field}"
        return f"{where}: {self.message}"


@attrs.frozen
class BulkRow:
    """One row of the file.

    Attributes:
        line: its line in the file.
        out_trade_no: its ``outTradeNo`` cell (may be empty or malformed in an invalid row).
        data: the wire ``data`` of the payout (``None`` when the row is invalid).
        errors: what is wrong with it; empty for a valid row.
    """

    line: int
    out_trade_no: str
    data: Mapping[str, object] | None
    errors: tuple[RowError, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the row can be sent."""
        return not self.errors and self.data is not None


def _nest(data: dict[str, object], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        assert isinstance(child, dict)
        node = child
    node[leaf] = value


def row_data(cells: Mapping[str, str]) -> dict[str, object]:
    """The wire ``data`` for one row's cells (column → trimmed text); empty cells are left out."""
    data: dict[str, object] = {}
    for column, field in COLUMNS.items():
        value = cells.get(column, "")
        if value:
            _nest(data, field, value)
    return data


#: What a column name typed into a header looks like. Anything else in an unknown column is shown
#: by position only: in a file without a header row it is a payee's account number or name.
_COLUMN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def _unknown_column(position: int, name: str) -> str:
    return repr(name) if _COLUMN_NAME.fullmatch(name) else f"#{position} (its text is not shown)"


def _check_header(header: Sequence[str] | None, source: str) -> list[str]:
    if not header:
        msg = f"{source}: the file is empty; it needs a header row naming the columns"
        raise ValidationError(msg)
    names = [name.strip() for name in header]
    if not any(name in COLUMNS for name in names):
        # Most likely the header row is missing and this is the first payout: say so without
        # echoing its cells (account number, name).
        msg = (
            f"{source}: line 1 is not a header row (it names none of the columns); the file "
            f"needs a header row naming its columns: {', '.join(COLUMNS)}"
        )
        raise ValidationError(msg)
    unknown = [(index, name) for index, name in enumerate(names, 1) if name not in COLUMNS]
    if unknown:
        listed = ", ".join(_unknown_column(index, name) for index, name in unknown)
        msg = f"{source}: unknown column(s) {listed}; the columns are: {', '.join(COLUMNS)}"
        shown = [name for _, name in unknown if _COLUMN_NAME.fullmatch(name)]
        raise ValidationError(msg, field=shown[0] if shown else None)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        msg = f"{source}: column {repeated[0]!r} appears more than once in the header"
        raise ValidationError(msg, field=repeated[0])
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        msg = f"{source}: the header lacks the required column(s) {', '.join(missing)}"
        raise ValidationError(msg, field=missing[0])
    return names


def _rule_error(line: int, exc: ValidationError) -> RowError:
    field = exc.field
    text = str(exc)
    if field and text.startswith(field + " "):
        text = text[len(field) + 1 :]
    column = _FIELD_TO_COLUMN.get(field) if field else None
    shown_field = field if column is None or column != field else None
    if column is not None and shown_field is not None:
        return RowError(line, column, field, f"{text} ({shown_field})")
    return RowError(line, column, field, text)


def check_row(line: int, cells: Mapping[str, str]) -> BulkRow:
    """Build and check one row: every empty required cell, then the SDK's payout rules."""
    out_trade_no = cells.get("outTradeNo", "")
    errors = [
        RowError(line, column, COLUMNS[column], "is required")
        for column in REQUIRED_CELLS
        if not cells.get(column)
    ]
    if errors:
        return BulkRow(line, out_trade_no, None, tuple(errors))
    data = row_data(cells)
    try:
        # The very function create() runs first: the same verdicts, before anything is sent.
        payout_data(data)
    except ValidationError as exc:
        return BulkRow(line, out_trade_no, None, (_rule_error(line, exc),))
    return BulkRow(line, out_trade_no, data)


def parse_rows(lines: Iterable[str], source: str = "the file") -> list[BulkRow]:
    """Read and check every row of CSV text (see :func:`read_rows`).

    Raises:
        ValidationError: as :func:`read_rows`.
    """
    reader = csv.reader(lines)
    try:
        return _parse(reader, source)
    except csv.Error as exc:  # a NUL byte, an oversized cell, a broken quote: never a traceback
        msg = f"{source}: line {reader.line_num} is not valid CSV: {exc}"
        raise ValidationError(msg) from None


def _parse(reader: _Reader, source: str) -> list[BulkRow]:
    header = _check_header(next(reader, None), source)
    rows: list[BulkRow] = []
    first_line: dict[str, int] = {}
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # a blank or all-empty line (spreadsheets leave them) holds no payout
        if len(rows) >= MAX_ROWS:
            msg = f"{source}: more than {MAX_ROWS} rows; split the file"
            raise ValidationError(msg)
        cells = {name: value.strip() for name, value in zip(header, record, strict=False)}
        row = check_row(start, cells)
        if len(record) > len(header):
            extra = RowError(
                start, None, None, f"has {len(record)} cells, the header {len(header)}"
            )
            row = attrs.evolve(row, data=None, errors=(*row.errors, extra))
        previous = first_line.get(row.out_trade_no) if row.out_trade_no else None
        if previous is not None:
            duplicate = RowError(
                start, "outTradeNo", "outTradeNo", f"repeats the outTradeNo of line {previous}"
            )
            row = attrs.evolve(row, data=None, errors=(*row.errors, duplicate))
        elif row.out_trade_no:
            first_line[row.out_trade_no] = start
        rows.append(row)
    return rows


def read_rows(path: str | os.PathLike[str]) -> list[BulkRow]:
    """Read and check every row of a payouts CSV file. Nothing is sent.

    Returns:
        Every non-blank row in file order, each with all its errors (a valid row has none).

    Raises:
        ValidationError: the header is missing, names an unknown or repeated column, or lacks a
            required one; the file is not UTF-8 or not valid CSV; or it has more than
            ``MAX_ROWS`` rows. Messages never hold a cell's text.
        OSError: the file cannot be read.
    """
    with open(path, encoding="utf-8-sig", newline="") as handle:
        try:
            return parse_rows(handle, str(path))
        except UnicodeDecodeError:
            msg = f'{path} is not UTF-8 text; save it as UTF-8 ("CSV UTF-8" in spreadsheets)'
            raise ValidationError(msg) from None

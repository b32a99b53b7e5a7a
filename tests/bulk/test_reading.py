"""Reading and checking the CSV: every row error reported, file errors named, no payee values."""

from __future__ import annotations

from pathlib import Path

import pytest

from payermax_async.bulk import COLUMNS, parse_rows, read_rows, row_data
from payermax_async.errors import ValidationError
from tests.support.bulk import ACCOUNT, HEADER, NAME, row, write_csv


def test_a_row_maps_to_wire_data_with_the_exact_amount_text():
    """Columns land in their wire fields; the amount is the cell's exact text; empty cells are left out."""
    data = row_data(row("a_1", amount="1250.50", email="", phone="0812", bankCode="014"))
    assert data == {
        "outTradeNo": "a_1",
        "country": "ID",
        "trade": {"amount": "1250.50", "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": ACCOUNT},
            "name": {"fullName": NAME},
            "payeePhone": "0812",
            "bankInfo": {"bankCode": "014"},
        },
    }


def test_every_bad_row_is_reported_with_line_and_column_never_the_value(tmp_path):
    """Five bad rows among good ones: all five reported, each naming its line and column."""
    path = write_csv(
        tmp_path / "in.csv",
        [
            row("ok_1"),
            row("bad_1", amount="12.5"),  # IDR has no decimals
            row("bad_2", currency="idr"),
            row("bad_3", accountNo=""),
            row("ok_1"),  # a repeated outTradeNo
            row("bad 5", email="siti@example"),  # two problems: only the first rule is named
            row("ok_2"),
        ],
    )
    rows = read_rows(path)
    assert [r.valid for r in rows] == [True, False, False, False, False, False, True]
    messages = [str(e) for r in rows for e in r.errors]
    assert messages == [
        "line 3, column amount: has 1 decimals; IDR allows 0 (trade.amount)",
        "line 4, column currency: must be three uppercase letters (ISO 4217) (trade.currency)",
        "line 5, column accountNo: is required",
        "line 6, column outTradeNo: repeats the outTradeNo of line 2",
        "line 7, column outTradeNo: must be 1 to 63 letters, digits or underscores",
    ]
    text = "\n".join(messages)
    assert ACCOUNT not in text
    assert NAME not in text
    assert "siti@" not in text


def test_all_empty_required_cells_of_a_row_are_reported_together():
    """A row missing several required cells gets one error per cell."""
    rows = parse_rows([",".join(HEADER), "x_1,,,IDR,,,,"])
    assert [e.column for e in rows[0].errors] == [
        "country",
        "amount",
        "paymentMethodType",
        "accountNo",
    ]


def test_unknown_columns_are_an_error_naming_them():
    """A column the format does not know is refused, by name, before any row is read."""
    with pytest.raises(ValidationError, match=r"unknown column\(s\) 'iban', 'amout'") as caught:
        parse_rows([",".join([*HEADER, "iban", "amout"]), ""])
    assert caught.value.field == "iban"


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ([], "the file is empty"),
        ([c for c in HEADER if c != "currency"], "lacks the required column(s) currency"),
        ([*HEADER, "amount"], "column 'amount' appears more than once"),
    ],
)
def test_header_problems(header, problem):
    """An empty file, a missing required column and a repeated column are file errors."""
    lines = [",".join(header)] if header else []
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_rows(lines)


def test_extra_cells_and_blank_lines(tmp_path: Path):
    """A row longer than the header is an error; blank and all-empty lines are skipped."""
    lines = [",".join(HEADER), "", ",,,,,,,", ",".join(row("x_1").values()) + ",surplus"]
    rows = parse_rows(lines)
    assert len(rows) == 1
    assert [str(e) for e in rows[0].errors] == ["line 4: has 9 cells, the header 8"]


def test_a_byte_order_mark_and_padded_cells_are_accepted(tmp_path):
    """Spreadsheet exports: a UTF-8 BOM before the header and spaces around cells."""
    path = tmp_path / "excel.csv"
    cells = ",".join(f" {value} " for value in row("bom_1").values())
    path.write_bytes(("\ufeff" + ",".join(HEADER) + "\r\n" + cells + "\r\n").encode())
    (only,) = read_rows(path)
    assert only.valid
    assert only.data is not None
    assert only.data["outTradeNo"] == "bom_1"


def test_the_documented_columns_are_the_example_files_superset():
    """examples/payouts.csv uses documented columns only and is valid."""
    example = Path(__file__).resolve().parents[2] / "examples" / "payouts.csv"
    rows = read_rows(example)
    assert rows
    assert all(r.valid for r in rows)
    header = example.read_text().splitlines()[0].split(",")
    assert set(header) <= set(COLUMNS)

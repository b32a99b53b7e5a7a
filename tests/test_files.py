"""The file helpers every writer of the SDK goes through: CSV cells and replaced files."""

from __future__ import annotations

import csv
import io
import sys

import pytest

from payermax_async._files import csv_cell, csv_row, write_replacing


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "＝1+1", '=HYPERLINK("http://x","y")'],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(cell: str) -> None:
    """Each OWASP trigger character (and the full-width =) at the start is defused with a '."""
    assert csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["PO_1", "150000", "", "a=b", "INVALID", "line 3: x"])
def test_ordinary_cells_are_unchanged(cell: str) -> None:
    """Only the first character matters; ordinary text is written as it is."""
    assert csv_cell(cell) == cell


def test_a_written_row_reads_back_as_text() -> None:
    """Through the csv module, an escaped row reads back with the quote kept (shown as text)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(csv_row(["=1+1", None, 7, "ok"]))
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["'=1+1", "", "7", "ok"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_a_leftover_temporary_file_is_replaced_not_appended_to(tmp_path) -> None:
    """A <file>.tmp left by a crashed run is removed and the file written afresh, 0600."""
    target = tmp_path / "results.csv"
    (tmp_path / "results.csv.tmp").write_text("stale\n")
    write_replacing(target, lambda handle: handle.write("fresh\n"))
    assert target.read_text() == "fresh\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "results.csv.tmp").exists()


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    """If writing fails midway, the previous file is intact and the temporary file is gone."""
    target = tmp_path / "results.csv"
    target.write_text("previous\n")

    def broken(handle: io.TextIOBase) -> None:
        handle.write("half")
        raise RuntimeError

    with pytest.raises(RuntimeError):
        write_replacing(target, broken)
    assert target.read_text() == "previous\n"
    assert not (tmp_path / "results.csv.tmp").exists()

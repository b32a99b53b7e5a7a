"""``PostgresStore``'s group commit: the transitions of one batch in one transaction, in a few
statements whatever the size of the batch.

The rows of the batch are locked first, in the order of their numbers (``SELECT ... FOR UPDATE``), so
two processes' batches wait for each other instead of interleaving; the shared transition rules are
applied in the order the transitions were requested (several of one number chain); then every
changed row is written by one ``UPDATE`` and every new one by one ``INSERT ... ON CONFLICT DO
NOTHING``. A number another transaction inserted first is locked as it committed it and its
transitions are decided again, in the same transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ..errors import StoreError
from ._batch import Batch, Outcome
from .base import PayoutRecord

if TYPE_CHECKING:
    from ._pg_schema import PgConnection

__all__ = ["Parsed", "Statements", "apply", "statements"]

#: A batch whose new rows keep meeting concurrent first inserts re-reads them at most this often.
_MAX_INSERT_ROUNDS = 8


class Statements(NamedTuple):
    """The SQL of a batch on one journal table."""

    lock: str
    update: str
    insert: str


def statements(table: str) -> Statements:
    """The batch statements for ``table`` (an already quoted ``"schema".journal``)."""
    rows = "unnest($1::text[], $2::text[], $3::float8[], $4::text[]) AS v(o, s, u, r)"
    return Statements(
        lock=f"SELECT out_trade_no, record FROM {table} "  # noqa: S608 (quoted identifier)
        "WHERE out_trade_no = ANY($1::text[]) ORDER BY out_trade_no FOR UPDATE",
        update=f"UPDATE {table} AS j SET state = v.s, updated_at = v.u, record = v.r "  # noqa: S608
        f"FROM {rows} WHERE j.out_trade_no = v.o",
        insert=f"INSERT INTO {table} (out_trade_no, state, updated_at, record) "  # noqa: S608
        f"SELECT o, s, u, r FROM {rows} ORDER BY o "
        "ON CONFLICT (out_trade_no) DO NOTHING RETURNING out_trade_no",
    )


class Parsed:
    """The records this store last wrote, by number, with their exact text: a row that still
    holds that text needs no parsing (it is the same record); any other text is parsed."""

    def __init__(self, size: int = 4_096) -> None:
        self._size = size
        self._records: dict[str, tuple[str, PayoutRecord]] = {}

    def read(self, number: str, text: str) -> PayoutRecord:
        """The record in ``text`` (raises StoreError if it cannot be read)."""
        known = self._records.get(number)
        if known is not None and known[0] == text:
            return known[1]
        return PayoutRecord.from_json(text)

    def wrote(self, number: str, record: PayoutRecord) -> str:
        """``record`` as text, remembered for the next read of ``number``."""
        text = record.to_json()
        self._records.pop(number, None)
        if len(self._records) >= self._size:
            del self._records[next(iter(self._records))]  # the least recently written
        self._records[number] = (text, record)
        return text


async def apply(conn: PgConnection, sql: Statements, batch: Batch, parsed: Parsed) -> list[Outcome]:
    """Apply ``batch`` inside the caller's transaction; one outcome per transition, in order."""
    outcomes: list[Outcome | None] = [None] * len(batch)
    numbers = sorted({number for number, _ in batch})
    stored = await _lock(conn, sql, numbers)
    for _ in range(_MAX_INSERT_ROUNDS):
        todo = [index for index, (number, _) in enumerate(batch) if number in numbers]
        writes = _decide(batch, todo, stored, outcomes, parsed)
        updates = [(number, record) for number, record in writes.items() if number in stored]
        inserts = [(number, record) for number, record in writes.items() if number not in stored]
        if updates:
            await conn.execute(sql.update, *_columns(updates, parsed))
        if not inserts:
            return [outcome for outcome in outcomes if outcome is not None]
        inserted = {row[0] for row in await conn.fetch(sql.insert, *_columns(inserts, parsed))}
        # Another transaction inserted these numbers first: take them as it committed them and
        # decide their transitions again.
        numbers = sorted(number for number, _ in inserts if number not in inserted)
        if not numbers:
            return [outcome for outcome in outcomes if outcome is not None]
        stored.update(await _lock(conn, sql, numbers))
    for index, (number, _) in enumerate(batch):
        if number in numbers:
            msg = f"PostgresStore: record …{number[-4:]} kept changing; gave up"
            outcomes[index] = (False, StoreError(msg, out_trade_no=number))
    return [outcome for outcome in outcomes if outcome is not None]


async def _lock(conn: PgConnection, sql: Statements, numbers: list[str]) -> dict[str, str]:
    return {row[0]: row[1] for row in await conn.fetch(sql.lock, numbers)}


def _decide(
    batch: Batch,
    todo: list[int],
    stored: dict[str, str],
    outcomes: list[Outcome | None],
    parsed: Parsed,
) -> dict[str, PayoutRecord]:
    """Apply the transitions ``todo`` in order, each on the record as the ones before it left it;
    the records to write, by number. An unreadable record fails its transitions alone."""
    current: dict[str, PayoutRecord | StoreError | None] = {}
    writes: dict[str, PayoutRecord] = {}
    for index in todo:
        number, update = batch[index]
        if number not in current:
            text = stored.get(number)
            try:
                current[number] = parsed.read(number, text) if text is not None else None
            except StoreError as exc:
                current[number] = exc
        old = current[number]
        if isinstance(old, StoreError):
            outcomes[index] = (False, old)
            continue
        try:
            new, value = update(old)
        except (StoreError, ValueError, TypeError) as exc:
            outcomes[index] = (False, exc)
            continue
        if new is not None and new != old:
            current[number] = writes[number] = new
        outcomes[index] = (True, value)
    return writes


def _columns(
    rows: list[tuple[str, PayoutRecord]], parsed: Parsed
) -> tuple[list[str], list[str], list[float], list[str]]:
    return (
        [number for number, _ in rows],
        [record.state.value for _, record in rows],
        [record.updated_at for _, record in rows],
        [parsed.wrote(number, record) for number, record in rows],
    )

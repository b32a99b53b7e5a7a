"""The PostgreSQL outbox: payouts reserved inside a merchant's transaction, then sent by a relay.

``reserve`` writes two rows in the caller's transaction: the journal record (``CLAIMED``, no owner:
re-sendable, nothing sent) and the outbox row with the wire ``data`` the relay will send. Relays take
rows with ``FOR UPDATE SKIP LOCKED`` and a lease, send each through ``create()`` (so every journal
rule applies: a row taken twice is still paid once) and mark it done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

import attrs

from .._redact import last4
from ..errors import IdempotencyConflictError, StoreError
from ..models.payouts import PayoutRequest
from ..models.wire import unstructure
from ..protocol.envelope import encode_data
from ..protocol.rules import check_payout_data
from .base import ClaimOutcome, PayoutRecord, RecordState
from .intent import PayoutIntent
from .rules import decide_claim

if TYPE_CHECKING:
    from asyncpg import Record

    from ._pg_schema import PgConnection

__all__ = ["Reserved", "claim", "finish", "prepare", "reserve", "rows"]

_MAX_INSERT_ROUNDS = 8


@attrs.frozen
class Reserved:
    """One outbox row: a payout reserved with ``PostgresStore.reserve``.

    Attributes:
        out_trade_no: the payout's number.
        data: the wire ``data`` to send (payee data included: never logged, not in the ``repr``).
        attempts: how many times a relay took it.
        created_at: when it was reserved (epoch seconds, the store's clock).
        done_at: when a relay finished with it for good, if it has.
        outcome: what the last relay saw (``ACCEPTED``, ``REJECTED BALANCE_INSUFFICIENT``, ...).
    """

    out_trade_no: str
    data: Mapping[str, object] = attrs.field(repr=False)
    attempts: int = 0
    created_at: float = 0.0
    done_at: float | None = None
    outcome: str | None = None


def prepare(request: PayoutRequest | Mapping[str, object]) -> tuple[str, PayoutIntent]:
    """Validate a payout as ``create()`` would; return its wire data as JSON text and its intent.

    The intent is fingerprinted from the text read back, i.e. from exactly what the relay will send.

    Raises:
        ValidationError: the request is malformed, naming the field's wire path.
    """
    data = unstructure(request) if isinstance(request, PayoutRequest) else request
    out_trade_no = check_payout_data(data)
    text = encode_data(data).decode("utf-8")
    wire = cast("dict[str, object]", json.loads(text))
    return text, PayoutIntent.of(out_trade_no, wire)


def _conflict(intent: PayoutIntent, old: PayoutRecord) -> bool:
    claim = decide_claim(
        old,
        intent.out_trade_no,
        intent.fingerprint,
        owner="reserve",
        lease_seconds=0.0,
        amount=intent.amount,
        currency=intent.currency,
        now=old.updated_at,
    )[1]
    if claim.outcome is not ClaimOutcome.CONFLICT:
        return False
    # A fingerprint written by an earlier version may still be this very request.
    return old.state is RecordState.CONFLICT or not intent.matches(old.fingerprint)


async def reserve(
    conn: PgConnection, schema: str, intent: PayoutIntent, text: str, now: float, sql_lock: str
) -> PayoutRecord:
    """Write the journal record (if new) and the outbox row, in the caller's transaction."""
    key = intent.out_trade_no
    s = f'"{schema}"'
    for _ in range(_MAX_INSERT_ROUNDS):
        existing = await conn.fetchval(sql_lock, key)
        if existing is not None:
            record = PayoutRecord.from_json(existing)
            if _conflict(intent, record):
                msg = (
                    f"outTradeNo {last4(key)} is recorded for a payout with different data; "
                    "nothing was reserved"
                )
                raise IdempotencyConflictError(msg, out_trade_no=key)
        else:
            record = PayoutRecord(
                out_trade_no=key,
                fingerprint=intent.fingerprint,
                state=RecordState.CLAIMED,
                amount=intent.amount,
                currency=intent.currency,
                created_at=now,
                updated_at=now,
            )
            status = await conn.execute(
                f"INSERT INTO {s}.journal (out_trade_no, state, updated_at, record) "  # noqa: S608
                "VALUES ($1, $2, $3, $4) ON CONFLICT (out_trade_no) DO NOTHING",
                key,
                record.state.value,
                now,
                record.to_json(),
            )
            if status != "INSERT 0 1":
                continue  # a concurrent transaction recorded it first: decide on its record
        await conn.execute(
            f"INSERT INTO {s}.outbox (out_trade_no, data, created_at) VALUES ($1, $2, $3) "  # noqa: S608
            "ON CONFLICT (out_trade_no) DO NOTHING",
            key,
            text,
            now,
        )
        return record
    msg = f"PostgresStore: record {last4(key)} kept changing while being reserved"
    raise StoreError(msg, out_trade_no=key)


def _reserved(row: Record) -> Reserved:
    return Reserved(
        out_trade_no=str(row["out_trade_no"]),
        data=cast("dict[str, object]", json.loads(str(row["data"]))),
        attempts=int(cast("int", row["relay_attempts"])),
        created_at=float(cast("float", row["created_at"])),
        done_at=cast("float | None", row["done_at"]),
        outcome=cast("str | None", row["outcome"]),
    )


_COLUMNS = "out_trade_no, data, relay_attempts, created_at, done_at, outcome"


async def claim(
    conn: PgConnection, schema: str, owner: str, limit: int, now: float, until: float
) -> list[Reserved]:
    """Lease up to ``limit`` pending rows no live relay holds to ``owner``, oldest first."""
    s = f'"{schema}"'
    found = await conn.fetch(
        f"UPDATE {s}.outbox SET relay_owner = $1, relay_until = $2,"  # noqa: S608
        " relay_attempts = relay_attempts + 1"
        f" WHERE out_trade_no IN (SELECT out_trade_no FROM {s}.outbox"
        "  WHERE done_at IS NULL AND (relay_until IS NULL OR relay_until <= $3)"
        "  ORDER BY created_at, out_trade_no LIMIT $4 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {_COLUMNS}",
        owner,
        until,
        now,
        limit,
    )
    return sorted((_reserved(row) for row in found), key=lambda r: (r.created_at, r.out_trade_no))


async def finish(
    conn: PgConnection,
    schema: str,
    out_trade_no: str,
    owner: str,
    outcome: str,
    done: bool,
    now: float,
    retry_at: float | None,
) -> None:
    """Release ``owner``'s lease on a row: done for good, or to be taken again after ``retry_at``."""
    await conn.execute(
        f'UPDATE "{schema}".outbox SET relay_owner = NULL, outcome = $3,'  # noqa: S608
        " done_at = CASE WHEN $4 THEN $5::double precision ELSE NULL END,"
        " relay_until = CASE WHEN $4 THEN NULL ELSE $6::double precision END"
        " WHERE out_trade_no = $1 AND relay_owner = $2 AND done_at IS NULL",
        out_trade_no,
        owner,
        outcome,
        done,
        now,
        retry_at,
    )


async def rows(
    conn: PgConnection, schema: str, out_trade_nos: Sequence[str] | None
) -> list[Reserved]:
    """Outbox rows, oldest first (all of them, or those of ``out_trade_nos``)."""
    query = f'SELECT {_COLUMNS} FROM "{schema}".outbox'  # noqa: S608
    order = " ORDER BY created_at, out_trade_no"
    if out_trade_nos is None:
        found = await conn.fetch(query + order)
    else:
        found = await conn.fetch(
            query + " WHERE out_trade_no = ANY($1::text[])" + order, list(out_trade_nos)
        )
    return [_reserved(row) for row in found]

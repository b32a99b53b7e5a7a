"""The idempotency journal: one record per ``outTradeNo``, its states, and the store protocol.

A record is written **before** the first byte of a payout leaves the process and only ever moves
towards more knowledge::

    CLAIMED ──► SENT ──► ACCEPTED ──► FINAL(status)      the order exists: never forgotten, never rewound
       ▲          │  ├──► REJECTED                        the gateway refused it: no order exists
       │          │  └──► IN_DOUBT                        it may exist: settled by paymentOrderQry
       └──────────┴─────────┘  (only after proof that nothing exists: ORDER_NOT_EXIST or never sent)

``ACCEPTED``/``FINAL`` absorb everything: a later event may advance the payout status (``PENDING`` →
``SUCCESS`` → ``BOUNCEBACK``), never move it back. The only way back to ``CLAIMED`` is proof that no
order exists, and that only ever re-sends the **same** ``outTradeNo``, which the gateway deduplicates.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from ..errors import StoreError
from ..models.payouts import PayoutOrder, PayoutStatus

__all__ = [
    "OPEN_STATES",
    "Claim",
    "ClaimOutcome",
    "IdempotencyStore",
    "PayoutRecord",
    "RecordState",
]


class RecordState(str, enum.Enum):
    """Where a payout intent stands in the journal."""

    #: The intent is recorded and owned (or re-sendable when unowned); nothing has been sent.
    CLAIMED = "CLAIMED"
    #: A request may have left the process; the owner is waiting for the answer.
    SENT = "SENT"
    #: The gateway accepted the payout (an order exists, status not final yet).
    ACCEPTED = "ACCEPTED"
    #: The gateway refused the payout for good; no order exists.
    REJECTED = "REJECTED"
    #: It may or may not exist; ``reconcile()`` or the next ``create()`` asks the gateway.
    IN_DOUBT = "IN_DOUBT"
    #: The order exists with a final status (``SUCCESS``, ``FAILED``, ``BOUNCEBACK``).
    FINAL = "FINAL"


#: Records ``reconcile()`` looks at: an order may exist that the journal does not know about.
OPEN_STATES = frozenset({RecordState.CLAIMED, RecordState.SENT, RecordState.IN_DOUBT})
#: States that mean the order exists at the gateway.
KNOWN_STATES = frozenset({RecordState.ACCEPTED, RecordState.FINAL})


@attrs.frozen
class PayoutRecord:
    """One journal entry. Holds no payee data: only numbers, amounts, states and error codes.

    Attributes:
        out_trade_no: the idempotency key.
        fingerprint: sha256 of the canonical request ``data``; ``""`` when the record was learned
            from a notification and the request is unknown.
        state: see :class:`RecordState`.
        status: the payout status once known.
        trade_no: PayerMax's number once known.
        result: the gateway's answer to the payout (``outTradeNo``, ``tradeNo``, ``status``, ...).
        amount: the amount sent (decimal string), for checking notifications.
        currency: the currency sent.
        attempts: how many times the payout was handed to the network.
        last_error: class and code of the last failure, redacted.
        error_code: the gateway code of a rejection.
        notified_status: the last status processed from a notification (webhook dedupe).
        owner: the process holding the lease, if any.
        lease_expires: when the owner's lease ends (epoch seconds).
        created_at: epoch seconds.
        updated_at: epoch seconds.
    """

    out_trade_no: str
    fingerprint: str
    state: RecordState
    status: PayoutStatus | None = None
    trade_no: str | None = None
    result: Mapping[str, object] | None = None
    amount: str | None = None
    currency: str | None = None
    attempts: int = 0
    last_error: str | None = None
    error_code: str | None = None
    notified_status: PayoutStatus | None = None
    owner: str | None = None
    lease_expires: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def leased_by_other(self, owner: str | None, now: float) -> bool:
        """Whether another live owner holds this record."""
        return (
            self.owner is not None
            and self.owner != owner
            and self.lease_expires is not None
            and self.lease_expires > now
        )

    def result_data(self) -> dict[str, object]:
        """The recorded answer in wire form, with the latest known number and status."""
        data: dict[str, object] = dict(self.result or {})
        data["outTradeNo"] = self.out_trade_no
        if self.trade_no is not None:
            data["tradeNo"] = self.trade_no
        if self.status is not None:
            data["status"] = self.status.value
        return data

    def to_json(self) -> str:
        """Serialise for a durable store."""
        doc = attrs.asdict(self, recurse=False)
        doc["state"] = self.state.value
        doc["status"] = self.status.value if self.status else None
        doc["notified_status"] = self.notified_status.value if self.notified_status else None
        doc["result"] = dict(self.result) if self.result is not None else None
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> PayoutRecord:
        """Load a record written by :meth:`to_json`.

        Raises:
            StoreError: the stored text is not a journal record (corrupted or foreign data).
        """
        try:
            doc = json.loads(text)
            doc["state"] = RecordState(doc["state"])
            doc["status"] = PayoutStatus(doc["status"]) if doc.get("status") else None
            notified = doc.get("notified_status")
            doc["notified_status"] = PayoutStatus(notified) if notified else None
            names = {a.name for a in attrs.fields(cls)}
            return cls(**{k: v for k, v in doc.items() if k in names})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            msg = f"the journal holds a record that cannot be read ({type(exc).__name__})"
            raise StoreError(msg) from exc


class ClaimOutcome(str, enum.Enum):
    """What :meth:`IdempotencyStore.claim` decided."""

    #: The caller owns the record and may send now (nothing was sent before).
    SEND = "SEND"
    #: The caller owns the record but a request may have left earlier: query before sending.
    QUERY_FIRST = "QUERY_FIRST"
    #: The order exists: return the recorded result, send nothing.
    DONE = "DONE"
    #: The same ``outTradeNo`` is recorded with other payout data.
    CONFLICT = "CONFLICT"
    #: Another live owner is working on it: wait for its outcome.
    BUSY = "BUSY"


@attrs.frozen
class Claim:
    """The decision of a claim and the record as it stands afterwards."""

    outcome: ClaimOutcome
    record: PayoutRecord


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where payout intents are journalled. Every transition is atomic and, for durable stores,
    committed before the call returns. Implementations: :class:`~payermax_async.MemoryStore`,
    :class:`~payermax_async.SQLiteStore`, :class:`~payermax_async.RedisStore`.

    ``last_notified``, ``mark_notified`` and ``expected_trade`` are the webhook dedupe protocol.
    """

    async def get(self, out_trade_no: str) -> PayoutRecord | None:
        """The record of ``out_trade_no``, if any."""
        ...

    async def claim(
        self,
        out_trade_no: str,
        fingerprint: str,
        *,
        owner: str,
        lease_seconds: float,
        amount: str | None,
        currency: str | None,
    ) -> Claim:
        """Record the intent (or take over a re-sendable or abandoned one) and say what to do."""
        ...

    async def mark_sent(self, out_trade_no: str, *, owner: str) -> PayoutRecord | None:
        """Owner only: a request is about to leave (``SENT``, attempts + 1). ``None`` if not owner."""
        ...

    async def record_result(self, out_trade_no: str, result: Mapping[str, object]) -> PayoutRecord:
        """The order exists: adopt its number and status (forward only) and release the lease."""
        ...

    async def record_rejected(
        self, out_trade_no: str, *, owner: str, code: str, error: str
    ) -> PayoutRecord | None:
        """Owner only: the gateway refused the payout; no order exists."""
        ...

    async def record_in_doubt(
        self, out_trade_no: str, *, owner: str | None, error: str
    ) -> PayoutRecord | None:
        """The outcome is unknown: keep it for ``reconcile()``. ``owner=None`` forces it."""
        ...

    async def release(
        self, out_trade_no: str, *, owner: str | None, error: str | None = None
    ) -> PayoutRecord | None:
        """Nothing exists at the gateway: make the record re-sendable (unowned ``CLAIMED``).
        ``owner=None`` forces it (reconcile after ``ORDER_NOT_EXIST``)."""
        ...

    async def open_records(self) -> list[PayoutRecord]:
        """Every ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record."""
        ...

    async def last_notified(self, out_trade_no: str) -> PayoutStatus | None:
        """The status last processed from a notification, if any."""
        ...

    async def mark_notified(self, out_trade_no: str, order: PayoutOrder) -> None:
        """Remember a processed notification (forward only); it also advances the payout record."""
        ...

    async def expected_trade(self, out_trade_no: str) -> tuple[Decimal, str] | None:
        """The (amount, currency) that was sent for ``out_trade_no``, if known."""
        ...

    async def aclose(self) -> None:
        """Release connections and files. Safe to call more than once."""
        ...

"""The idempotency journal: one record per ``outTradeNo``, its states, and the store protocol.

A record is written **before** the first byte of a payout leaves the process and only ever moves
towards more knowledge::

    CLAIMED ──► SENT ──► ACCEPTED ──► FINAL(status)   the order exists: never forgotten, never rewound
       ▲          │  ├──► REJECTED                     a signed refusal of the only send: no order
       │          │  ├──► IN_DOUBT                     it may exist: settled by paymentOrderQry
       │          │  └──► CONFLICT                     the number holds another payout at the gateway
       └──────────┴─────────┘  back to CLAIMED only with proof that nothing exists (see below)

``ACCEPTED``/``FINAL`` absorb everything: a later event may advance the payout status (``PENDING`` →
``SUCCESS`` → ``BOUNCEBACK``), never move it back.

Three rules keep a payout from being paid twice (``docs/double-payouts.md``):

* **Maybe-sent is sticky** (``maybe_sent``): once a request for the number may have reached the gateway,
  no refusal, rate limit or connect failure of a later resend proves that no order exists; such a
  record can only become ``IN_DOUBT`` (or learn its order), never ``REJECTED`` or re-sendable.
* **Absence takes time to prove** (``sent_until``): ``ORDER_NOT_EXIST`` proves absence only for a
  query made an *absence window* after the last moment a request may have left; only then may a
  maybe-sent record go back to ``CLAIMED`` (``release(..., proven_absent=True)``).
* **One number, one payout**: a record keeps the fingerprint of the request it stands for, and the
  amount and currency of the order the gateway reported; another request under the number, or an
  order of another amount, is a conflict.
"""

from __future__ import annotations

import enum
import json
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .._fastjson import compact_encoder, scanner
from .._frozen import positional_constructor
from ..errors import StoreError
from ..models.payouts import PayoutStatus

__all__ = [
    "KNOWN_STATES",
    "MAYBE_SENT_STATES",
    "OPEN_STATES",
    "RECORD_VERSION",
    "Claim",
    "ClaimOutcome",
    "DeliveryOutcome",
    "OpenRecords",
    "PayoutRecord",
    "RecordState",
    "scan_rows",
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
    #: The gateway holds an order of another amount or currency under this number: this payout was
    #: never created and can never be sent under it. Nothing is adopted; the number is left alone.
    CONFLICT = "CONFLICT"


#: Records ``reconcile()`` looks at: an order may exist that the journal does not know about.
OPEN_STATES = frozenset({RecordState.CLAIMED, RecordState.SENT, RecordState.IN_DOUBT})
#: States that mean the order exists at the gateway.
KNOWN_STATES = frozenset({RecordState.ACCEPTED, RecordState.FINAL})
#: States in which a request may be (or may have been) on its way to the gateway.
MAYBE_SENT_STATES = frozenset({RecordState.SENT, RecordState.IN_DOUBT})


@attrs.frozen(weakref_slot=False)
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
        error_code: the last gateway code of a refusal or failure (``BALANCE_INSUFFICIENT``, ...).
        notified_status: the last status processed from a notification (webhook dedupe).
        owner: the process holding the lease, if any.
        lease_expires: when the owner's lease ends (epoch seconds).
        created_at: epoch seconds.
        updated_at: epoch seconds.
        maybe_sent: a request for this number may have reached the gateway, and no proof of absence
            has come since (sticky: see the module docstring).
        sent_until: the latest moment (epoch seconds) a request for this number may have left; the
            absence window counts from here.
        order_amount: the amount of the order as the gateway reported it (query or notification).
        order_currency: the currency of the order as the gateway reported it.
        delivering: the status a webhook receiver is delivering to the application right now.
        delivering_owner: which receiver call is delivering it.
        delivering_until: when that delivery's claim lapses (a receiver that died).
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
    maybe_sent: bool = False
    sent_until: float | None = None
    order_amount: str | None = None
    order_currency: str | None = None
    delivering: PayoutStatus | None = None
    delivering_owner: str | None = None
    delivering_until: float | None = None

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
        # Every durable write encodes a record: the fields in one attrgetter call, in a fixed order, and a
        # prebuilt encoder, where attrs.asdict and json.dumps(**options) cost several times more.
        doc = dict(zip(_FIELD_ORDER, _fields_of(self), strict=True))
        doc["version"] = RECORD_VERSION
        for name in _ENUM_MEMBERS:
            value = doc[name]
            # The member's own _value_: .value is a Python-level property, read per field per write.
            doc[name] = value._value_ if value is not None else None
        doc["result"] = dict(self.result) if self.result is not None else None
        return _encode_record(doc)

    @classmethod
    def from_json(cls, text: str | bytes) -> PayoutRecord:
        """Load a record written by :meth:`to_json`, by this version or an earlier one.

        A record written before ``maybe_sent`` existed is read conservatively: it counts as maybe
        sent if it is ``SENT``/``IN_DOUBT`` or was ever handed to the network (``attempts > 0``),
        since earlier versions could release such a record after an unproven ``ORDER_NOT_EXIST``.

        Raises:
            StoreError: the stored text is not a journal record (corrupted or foreign data).
        """
        try:
            doc = _decode_record(text) if type(text) is str else json.loads(text)
            # Members by value (a dict lookup; calling the enum costs several times more): an
            # unknown value raises KeyError, refused below like any unreadable record.
            doc["state"] = _STATES[doc["state"]]
            for name in ("status", "notified_status", "delivering"):
                value = doc.get(name)
                doc[name] = _STATUSES[value] if value else None
            if "maybe_sent" not in doc:
                doc["maybe_sent"] = doc["state"] in MAYBE_SENT_STATES or (
                    doc["state"] is RecordState.CLAIMED and int(doc.get("attempts") or 0) > 0
                )
                if doc["maybe_sent"]:
                    lease = doc.get("lease_expires") or 0.0
                    doc["sent_until"] = max(float(doc.get("updated_at") or 0.0), float(lease))
            if cls is PayoutRecord:
                # Every field in order, defaults for the missing ones: what __init__ would build
                # from the known keys (a missing number or fingerprint fails the check below).
                record = build_record(*[doc.get(name, default) for name, default in _DEFAULTS])
            else:
                names = _FIELD_NAMES
                record = cls(**{k: v for k, v in doc.items() if k in names})
            if not isinstance(record.out_trade_no, str) or not isinstance(record.fingerprint, str):
                msg = "outTradeNo and fingerprint must be strings"
                raise TypeError(msg)
            return record
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            msg = f"the journal holds a record that cannot be read ({type(exc).__name__})"
            raise StoreError(msg) from exc

    def is_known_absent(self) -> bool:
        """Whether the journal proves that no order exists under this number: nothing was ever
        (maybe) sent, or the gateway refused the only send with a signed answer."""
        if self.maybe_sent:
            return False
        return self.state in (RecordState.CLAIMED, RecordState.REJECTED)


#: ``PayoutRecord`` from every field by name, about twice as fast as its ``__init__`` (see
#: :mod:`payermax_async._frozen`); the transition rules build one or two records per payout.
build_record = positional_constructor(PayoutRecord)


#: The record layout :meth:`PayoutRecord.to_json` writes (earlier versions wrote none).
RECORD_VERSION = 2
_FIELD_ORDER = tuple(a.name for a in attrs.fields(PayoutRecord))
_FIELD_NAMES = frozenset(_FIELD_ORDER)
_fields_of = operator.attrgetter(*_FIELD_ORDER)
#: Each field and its default (``attrs.NOTHING`` for the required ones, which have none).
_DEFAULTS = tuple((a.name, a.default) for a in attrs.fields(PayoutRecord))
_STATES = RecordState._value2member_map_
_STATUSES = PayoutStatus._value2member_map_
#: The record's enum fields, each with its members by value (records store and pack the value).
_ENUM_MEMBERS = {
    "state": _STATES,
    "status": _STATUSES,
    "notified_status": _STATUSES,
    "delivering": _STATUSES,
}
# Sorted keys, compact: the text a store writes, compares against and reads back must not change
# between versions. Answers hold JSON numbers as Decimal (protocol/strict_json.py): default=str
# keeps them as their exact text.
_encode_record = compact_encoder(sort_keys=True, default=str)
_decode_record = scanner(json.JSONDecoder())


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
    #: (``adopt_refusal`` only) the attempt the caller waited on was refused, signed: that refusal
    #: is the caller's outcome too; nothing is sent.
    REFUSED = "REFUSED"


class DeliveryOutcome(str, enum.Enum):
    """What :meth:`IdempotencyStore.begin_delivery` decided for a received notification."""

    #: The status moves the payout forward: deliver it to the application, then ``end_delivery``.
    DELIVER = "DELIVER"
    #: Already delivered, or older than what was delivered: acknowledge without delivering.
    DUPLICATE = "DUPLICATE"
    #: Another receiver is delivering a status of this payout right now: try again later.
    BUSY = "BUSY"


@attrs.frozen
class OpenRecords:
    """What :meth:`IdempotencyStore.scan_open` found.

    Attributes:
        records: every readable ``CLAIMED``, ``SENT`` or ``IN_DOUBT`` record.
        unreadable: the numbers of open records that could not be read (corrupted or foreign data);
            they are skipped, never guessed at.
    """

    records: list[PayoutRecord]
    unreadable: list[str] = attrs.field(factory=list)


@attrs.frozen(weakref_slot=False)
class Claim:
    """The decision of a claim and the record as it stands afterwards."""

    outcome: ClaimOutcome
    record: PayoutRecord


def scan_rows(
    rows: Iterable[Iterable[Any]],
    keep: Callable[[PayoutRecord], bool] = lambda record: True,
) -> OpenRecords:
    """The readable records among ``(number, stored text)`` rows (tuples, driver records) that ``keep`` accepts, and the
    numbers of the rows that cannot be read (skipped, never guessed at)."""
    scan = OpenRecords([])
    for number, text in rows:
        try:
            record = PayoutRecord.from_json(text)
        except StoreError:
            scan.unreadable.append(str(number))
            continue
        if keep(record):
            scan.records.append(record)
    return scan

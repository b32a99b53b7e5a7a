"""What identifies one payout: its number, and a fingerprint of the request it stands for.

The fingerprint is a sha256 over the request's ``data`` in canonical form (sorted keys, compact UTF-8)
with the amount written as a plain number, so ``"10"``, ``"10.00"`` and ``Decimal("10.0")`` are one
payout. It is versioned (``v2:...``): journals written by earlier versions hold unversioned v1
fingerprints (the raw amount text), which :meth:`PayoutIntent.matches` still recognises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import attrs

from .._fastjson import compact_encoder
from .._frozen import positional_constructor
from ..protocol.rules import is_mapping

__all__ = ["FINGERPRINT_VERSION", "PayoutIntent", "fingerprint", "legacy_fingerprint"]

#: The prefix of the fingerprints this version writes.
FINGERPRINT_VERSION = "v2:"

# Built once (json.dumps builds one per call). A canonical form must never change once released:
# durable journals compare fingerprints written by earlier versions. Fingerprinted data is parsed
# JSON or a checked request, which cannot contain itself: no circular check.
_canonical = compact_encoder(sort_keys=True, ensure_ascii=False, default=str)


def _plain_amount(value: object) -> object:
    """An amount as a plain decimal number (``"10.00"`` → ``"10"``); anything else unchanged."""
    if type(value) is str and value.isascii() and value.isdigit() and value[0] != "0":
        return value  # already plain (the usual amount): no Decimal round trip
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return value
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not number.is_finite():
        return value
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def legacy_fingerprint(data: Mapping[str, object]) -> str:
    """The v1 fingerprint earlier versions wrote: sha256 of the canonical ``data``, amounts as sent."""
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def fingerprint(data: Mapping[str, object]) -> str:
    """The v2 fingerprint of a request's ``data``: canonical form, amount as a plain number."""
    trade = data.get("trade")
    if is_mapping(trade) and "amount" in trade:
        amount = trade["amount"]
        plain = _plain_amount(amount)
        if plain is not amount:  # a copy only when the amount is written otherwise
            data = {**data, "trade": {**trade, "amount": plain}}
    digest = hashlib.sha256(_canonical(data).encode()).hexdigest()
    return FINGERPRINT_VERSION + digest


@attrs.frozen(weakref_slot=False)
class PayoutIntent:
    """One payout request as the journal sees it, computed once per call.

    Attributes:
        out_trade_no: the idempotency key.
        fingerprint: the v2 fingerprint of ``data``.
        amount: ``trade.amount`` as sent (text), if any.
        currency: ``trade.currency`` as sent, if any.
        data: the request ``data`` (a private copy).
    """

    out_trade_no: str
    fingerprint: str
    amount: str | None
    currency: str | None
    data: Mapping[str, object] = attrs.field(repr=False)

    @classmethod
    def of(cls, out_trade_no: str, data: Mapping[str, object]) -> PayoutIntent:
        """The intent of one payout request's ``data``."""
        trade = data.get("trade")
        amount = currency = None
        if is_mapping(trade):
            raw_amount, raw_currency = trade.get("amount"), trade.get("currency")
            amount = str(raw_amount) if raw_amount is not None else None
            currency = str(raw_currency) if raw_currency is not None else None
        digest = fingerprint(data)
        if cls is PayoutIntent:  # one per payout: the quick constructor
            return _build_intent(out_trade_no, digest, amount, currency, data)
        return cls(out_trade_no, digest, amount, currency, data)

    def matches(self, recorded: str) -> bool:
        """Whether a fingerprint found in the journal is this request's (v2, or an earlier v1)."""
        if recorded == self.fingerprint:
            return True
        if recorded.startswith(FINGERPRINT_VERSION) or not recorded:
            return False
        return recorded == legacy_fingerprint(self.data)


_build_intent = positional_constructor(PayoutIntent)

"""What the sandbox gateway has committed: its orders, and a count of the requests it received.

Tests read it to prove what reached the gateway (``gw.ledger.orders``, ``gw.ledger.post_count()``) and
seed it with orders of their own (``gw.ledger.add_order``), e.g. orders spread over several days to
exercise paging.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType

import attrs

from ..models.payouts import PayoutStatus
from ..protocol.currencies import amount_decimals
from ..protocol.envelope import utc_now

__all__ = [
    "FAILURE_CODE",
    "FAILURE_MSG",
    "Ledger",
    "SandboxOrder",
    "format_wire_time",
    "outcome_for",
]

#: The asynchronous failure reason the sandbox gives a FAILED payout.
FAILURE_CODE = "INVALID_ACCOUNT"
FAILURE_MSG = "The payee account is invalid or does not exist."
#: The sandbox's fee: 1 % of the trade amount, at the currency's precision.
FEE_RATE = Decimal("0.01")

_FAILED_AMOUNTS = frozenset({Decimal(110), Decimal(11000)})
_PENDING_AMOUNTS = frozenset({Decimal(100), Decimal(10000)})
_REMARK_OUTCOMES = {status.value: status for status in PayoutStatus if status.is_final}


def format_wire_time(moment: datetime) -> str:
    """Format a time as the gateway writes it in order data: ``2022-12-02T11:35:17 +0000``."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S +0000")


def _decimal(value: object) -> Decimal | None:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def outcome_for(data: Mapping[str, object]) -> PayoutStatus:
    """The final state PayerMax's UAT gives a payout (docs/protocol.md §9).

    ``remark`` ``SUCCESS``/``FAILED``/``BOUNCEBACK`` wins; else amount 110 or 11000 fails, 100 or 10000
    stays ``PENDING`` for ever, anything else succeeds. Amounts compare numerically (``"110.00"`` = 110).
    """
    remark = data.get("remark")
    if isinstance(remark, str) and remark in _REMARK_OUTCOMES:
        return _REMARK_OUTCOMES[remark]
    trade = data.get("trade")
    amount = _decimal(trade.get("amount")) if isinstance(trade, Mapping) else None
    if amount in _FAILED_AMOUNTS:
        return PayoutStatus.FAILED
    if amount in _PENDING_AMOUNTS:
        return PayoutStatus.PENDING
    return PayoutStatus.SUCCESS


def _text(data: Mapping[str, object], *path: str) -> str:
    node: object = data
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) else ""


@attrs.define(eq=False)
class SandboxOrder:
    """One payout as the sandbox gateway committed it.

    Attributes:
        out_trade_no: the merchant's number.
        trade_no: the gateway's number (``20220429052556PO...``).
        status: the current state.
        data: the request ``data`` exactly as received.
        created_at: when the gateway committed it (UTC).
        notify_url: where its notifications go (``None``: nowhere).
        history: every status it has had, in order.
        response_code: why it failed (``INVALID_ACCOUNT``), else ``""``.
        response_msg: the failure's message, else ``""``.
        pay_finish_time: when it succeeded.
        bounce_back_time: when it bounced back.
        funds_return_time: when the money went back to the merchant (``FAILED``, ``BOUNCEBACK``).
        reference_id: the receiving institution's reference, once paid (``additionalIdentifier``).
    """

    out_trade_no: str
    trade_no: str
    status: PayoutStatus
    data: Mapping[str, object]
    created_at: datetime
    notify_url: str | None = None
    history: list[PayoutStatus] = attrs.field(factory=list)
    response_code: str = ""
    response_msg: str = ""
    pay_finish_time: datetime | None = None
    bounce_back_time: datetime | None = None
    funds_return_time: datetime | None = None
    reference_id: str = ""

    def move_to(self, status: PayoutStatus, at: datetime) -> None:
        """Advance to ``status`` (the gateway's own transitions), stamping the matching times."""
        self.status = status
        self.history.append(status)
        if status is PayoutStatus.SUCCESS:
            self.pay_finish_time = at
            self.reference_id = f"{at.astimezone(timezone.utc):%Y%m%d}SANDBOX{self.trade_no[-12:]}"
        elif status is PayoutStatus.FAILED:
            self.response_code, self.response_msg = FAILURE_CODE, FAILURE_MSG
            self.funds_return_time = at
        elif status is PayoutStatus.BOUNCEBACK:
            self.bounce_back_time = at
            self.funds_return_time = at

    def to_wire(self) -> dict[str, object]:
        """The order as ``paymentOrderQry``, the batch query and notifications return it.

        ``trade.amount`` is echoed exactly as sent; the amounts PayerMax computes (source and
        destination amounts, fees, taxes) are written at the currency's precision in plain decimal
        form, as in PayerMax's own example (``"3223.00"``, ``"0.59"``, ``"0.00"``).
        """
        currency = _text(self.data, "trade", "currency")
        source, destination = _funds(self.data, currency)
        wire: dict[str, object] = {
            "outTradeNo": self.out_trade_no,
            "tradeNo": self.trade_no,
            "status": self.status.value,
        }
        if self.status is PayoutStatus.PENDING:
            wire["subStatus"] = "TRANSMIT"
        wire.update(
            {
                "trade": {"amount": _text(self.data, "trade", "amount"), "currency": currency},
                "source": source,
                "destination": destination,
                "responseCode": self.response_code,
                "responseMsg": self.response_msg,
                "reference": _text(self.data, "reference"),
                "redeemCode": "",
                "expiryTime": "",
                "transactionUtcTime": format_wire_time(self.created_at),
                # The merchant's balance is debited when the order is accepted.
                "fundsFreezeTime": format_wire_time(self.created_at),
                "fundsReturnTime": _time_or_empty(self.funds_return_time),
                "payFinishTime": _time_or_empty(self.pay_finish_time),
                "bounceBackTime": _time_or_empty(self.bounce_back_time),
                "additionalIdentifier": {"referenceId": self.reference_id},
            }
        )
        for key in ("notifyEmail", "notifyPhone"):
            if _text(self.data, key):
                wire[key] = _text(self.data, key)
        return wire


def _funds(
    data: Mapping[str, object], currency: str
) -> tuple[dict[str, object], dict[str, object]]:
    """The order's source and destination sides: docs/protocol.md §9, the merchant's account is
    debited the amount plus the sandbox's fee; amounts at the currency's precision."""
    amount = _decimal(_text(data, "trade", "amount")) or Decimal(0)
    decimals = amount_decimals(
        currency, _text(data, "country"), _text(data, "payeeInfo", "paymentMethodType")
    )
    quantum = Decimal(1).scaleb(-decimals) if currency else Decimal(1)
    fee = (amount * FEE_RATE).quantize(quantum, rounding=ROUND_HALF_UP)
    zero = Decimal(0).quantize(quantum)

    def side(total: Decimal, side_fee: Decimal, side_currency: str) -> dict[str, object]:
        return {
            "amount": format(total.quantize(quantum), "f"),
            "currency": side_currency,
            "exchangeRate": "1.0000000000",
            "fee": format(side_fee, "f"),
            "feeCurrency": side_currency,
            "tax": format(zero, "f"),
            "taxCurrency": side_currency,
        }

    target = _text(data, "destinationCurrency") or currency
    return side(amount + fee, fee, currency), side(amount, zero, target)


def _time_or_empty(moment: datetime | None) -> str:
    return format_wire_time(moment) if moment is not None else ""


class Ledger:
    """The sandbox gateway's books (``gw.ledger``)."""

    def __init__(self) -> None:
        self._orders: dict[str, SandboxOrder] = {}
        self._posts: Counter[tuple[str, str | None]] = Counter()
        self._sequence = itertools.count(1)

    @property
    def orders(self) -> Mapping[str, SandboxOrder]:
        """Every committed order by ``outTradeNo`` (a read-only live view)."""
        return MappingProxyType(self._orders)

    def record_post(self, api: str, out_trade_no: str | None) -> None:
        """Count one HTTP request (called before any fault acts). Every request is counted: also
        oversized bodies (under their API, without a number), unknown paths (under the path) and
        other methods than POST."""
        self._posts[(api, out_trade_no)] += 1

    def post_count(self, api: str | None = None, out_trade_no: str | None = None) -> int:
        """How many HTTP requests reached the gateway, optionally only for one API (or unknown
        path) and/or outTradeNo; with no argument, every request of any kind."""
        return sum(
            count
            for (post_api, post_no), count in self._posts.items()
            if (api is None or post_api == api)
            and (out_trade_no is None or post_no == out_trade_no)
        )

    def new_trade_no(self, at: datetime) -> str:
        """A fresh gateway trade number in PayerMax's shape."""
        stamp = at.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
        return f"{stamp}PO7133{next(self._sequence):012d}"

    def commit(
        self,
        data: Mapping[str, object],
        *,
        status: PayoutStatus,
        created_at: datetime,
        notify_url: str | None,
    ) -> SandboxOrder:
        """Record a new order; the caller has checked that its ``outTradeNo`` is new."""
        out_trade_no = data.get("outTradeNo")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            msg = "order data needs a string outTradeNo"
            raise ValueError(msg)
        if out_trade_no in self._orders:
            msg = f"order …{out_trade_no[-4:]} already exists"
            raise ValueError(msg)
        order = SandboxOrder(
            out_trade_no=out_trade_no,
            trade_no=self.new_trade_no(created_at),
            status=PayoutStatus.PENDING,
            data=data,
            created_at=created_at,
            notify_url=notify_url,
            history=[PayoutStatus.PENDING],
        )
        if status is PayoutStatus.BOUNCEBACK:
            order.move_to(PayoutStatus.SUCCESS, created_at)
        if status is not PayoutStatus.PENDING:
            order.move_to(status, created_at)
        self._orders[out_trade_no] = order
        return order

    def add_order(
        self,
        data: Mapping[str, object],
        *,
        status: PayoutStatus = PayoutStatus.SUCCESS,
        created_at: datetime | None = None,
    ) -> SandboxOrder:
        """Put an order straight into the books (no request, no notification), e.g. to test paging.

        Args:
            data: payout ``data`` in wire form; needs at least ``outTradeNo`` (``trade`` is advisable).
            status: the state it is in.
            created_at: its creation time (default: now); naive times are UTC.

        Raises:
            ValueError: no ``outTradeNo``, or one that already exists.
        """
        moment = created_at if created_at is not None else utc_now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return self.commit(
            dict(data), status=PayoutStatus(status), created_at=moment, notify_url=None
        )

    def window(
        self,
        begin: datetime,
        end: datetime,
        *,
        status: str | None = None,
        country: str | None = None,
    ) -> list[SandboxOrder]:
        """Orders created in ``[begin, end]`` (whole seconds, both ends), oldest first."""
        selected = [
            order
            for order in self._orders.values()
            if begin <= order.created_at.replace(microsecond=0) <= end
            and (status is None or order.status.value == status)
            and (country is None or order.data.get("country") == country)
        ]
        # dicts keep insertion order, so equal timestamps stay in commit order (a stable sort).
        return sorted(selected, key=lambda order: order.created_at)

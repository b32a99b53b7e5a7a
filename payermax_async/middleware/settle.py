"""Settling a payout whose outcome is unknown: ask the gateway, and check what it says.

Every path that learns an order from the gateway goes through here (the retry layer after an unclear
attempt or ``ORDER_REPEAT``, the journal layer before resending a maybe-sent payout, and
``reconcile()``), so the rules are applied once:

* only a **signed** ``ORDER_NOT_EXIST`` counts as "not found"; an unsigned one proves nothing;
* the order found must name our number, and its amount (as a number) and currency must equal what
  was sent; otherwise the number holds another payout (:class:`IdempotencyConflictError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from .._chain import Call, Reply
from ..errors import (
    IdempotencyConflictError,
    InvalidResponseError,
    OrderNotFoundError,
    ValidationError,
)
from ..models._converter import structure
from ..models.payouts import PayoutOrder
from ..protocol.apis import API_QUERY
from ..stores._journal import same_amount

__all__ = ["Lookup", "check_same_payout", "lookup"]

Send = Callable[[Call], Awaitable[Reply]]


@attrs.frozen
class Lookup:
    """The answer to one query of a payout by its number.

    Attributes:
        order: the order found, or ``None`` for a signed ``ORDER_NOT_EXIST``.
        reply: the verified reply (``None`` when not found).
    """

    order: PayoutOrder | None
    reply: Reply | None = None


async def lookup(send: Send, out_trade_no: str, *, timeout: object = None) -> Lookup:
    """Query ``out_trade_no`` through ``send`` and parse the answer.

    Raises:
        OrderNotFoundError: an **unsigned** ``ORDER_NOT_EXIST`` (it proves nothing: the caller must
            treat it as a failed query).
        InvalidResponseError: the answer is not an order for this number.
        PayerMaxError: the query failed otherwise.
    """
    query = Call.build(API_QUERY, {"outTradeNo": out_trade_no}, timeout=timeout)  # type: ignore[arg-type]
    try:
        reply = await send(query)
    except OrderNotFoundError as exc:
        if not exc.verified:
            raise
        return Lookup(None)
    try:
        order = structure(reply.data, PayoutOrder, what=f"{API_QUERY} data")
    except ValidationError as exc:  # the answer is not an order
        raise InvalidResponseError(str(exc), http_status=reply.http_status) from None
    if order.out_trade_no != out_trade_no:
        msg = f"{API_QUERY} for …{out_trade_no[-4:]} answered with another outTradeNo"
        raise InvalidResponseError(msg, http_status=reply.http_status)
    return Lookup(order, reply)


def check_same_payout(
    out_trade_no: str, amount: object, currency: object, order: PayoutOrder
) -> None:
    """The order found under our number must be the payout we asked for (same amount, currency).

    An order that does not state its trade cannot be compared and is accepted as ours (PayerMax's
    query always states it).

    Raises:
        IdempotencyConflictError: the number holds another payout (e.g. sent by another system).
    """
    trade = order.trade
    if trade is None:
        return
    same = (trade.amount is None or amount is None or same_amount(trade.amount, amount)) and (
        trade.currency is None or currency is None or trade.currency == currency
    )
    if not same:
        msg = (
            f"outTradeNo …{out_trade_no[-4:]} already holds another payout at PayerMax (another "
            "amount or currency); this request was not sent and that order was not adopted. "
            "Find out who used the number before paying this intent under any number"
        )
        raise IdempotencyConflictError(msg, out_trade_no=out_trade_no)

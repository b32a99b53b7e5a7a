"""Settling a payout whose outcome is unknown: ask the gateway, and check what it says.

The journal and retry layers do not build queries themselves: the client gives them a
:data:`PayoutLookup` (the resource layer's ``query_payout``). What they do with its answer is decided
here, once, for every path that learns an order from the gateway (after an unclear attempt or
``ORDER_REPEAT``, before resending a maybe-sent payout, in ``reconcile()``):

* only a **signed** ``ORDER_NOT_EXIST`` counts as "not found" (the lookup raises on an unsigned one);
* the order found must be the payout asked for: its amount (as a number) and currency must equal what
  was sent, or the number holds another payout (:class:`IdempotencyConflictError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import attrs

from .._redact import last4
from ..errors import IdempotencyConflictError
from ..models.payouts import PayoutOrder
from ..pipeline.chain import Call, Reply
from ..stores._journal import same_amount

__all__ = ["Lookup", "PayoutLookup", "Send", "check_same_payout"]

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


#: Queries one payout through ``send``: ``await lookup(send, out_trade_no, timeout)``. Raises on a
#: failed query, including an unsigned ``ORDER_NOT_EXIST``.
PayoutLookup = Callable[[Send, str, "aiohttp.ClientTimeout | None"], Awaitable[Lookup]]


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
            f"outTradeNo {last4(out_trade_no)} already holds another payout at PayerMax (another "
            "amount or currency); this request was not sent and that order was not adopted. "
            "Find out who used the number before paying this intent under any number"
        )
        raise IdempotencyConflictError(msg, out_trade_no=out_trade_no)

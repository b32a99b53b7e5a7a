"""Looking one payout up by its number: what the journal and retry layers are given to settle an
unclear outcome (they never build calls for an API themselves)."""

from __future__ import annotations

import aiohttp

from ..errors import InvalidResponseError, OrderNotFoundError
from ..middleware.settle import Lookup, Send
from ..models.payouts import PayoutOrder
from ..pipeline.chain import Call
from ..protocol.apis import API_QUERY
from .parsing import parse_reply

__all__ = ["query_payout"]


async def query_payout(
    send: Send, out_trade_no: str, timeout: aiohttp.ClientTimeout | None = None
) -> Lookup:
    """Query ``out_trade_no`` (``paymentOrderQry``) through ``send`` and parse the answer.

    Returns a :class:`~payermax_async.middleware.settle.Lookup`: the order, or ``None`` for a
    **signed** ``ORDER_NOT_EXIST``.

    Raises:
        OrderNotFoundError: an **unsigned** ``ORDER_NOT_EXIST`` (it proves nothing: the caller must
            treat it as a failed query).
        InvalidResponseError: the answer is not an order for this number.
        PayerMaxError: the query failed otherwise.
    """
    query = Call.build(API_QUERY, {"outTradeNo": out_trade_no}, timeout=timeout)
    try:
        reply = await send(query)
    except OrderNotFoundError as exc:
        if not exc.verified:
            raise
        return Lookup(None)
    order = parse_reply(reply, PayoutOrder)
    if order.out_trade_no != out_trade_no:
        msg = f"{API_QUERY} for …{out_trade_no[-4:]} answered with another outTradeNo"
        raise InvalidResponseError(msg, http_status=reply.http_status)
    return Lookup(order, reply)

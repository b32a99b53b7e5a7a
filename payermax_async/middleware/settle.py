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

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import attrs

from .._redact import last4
from ..errors import IdempotencyConflictError, PayerMaxError, PayoutOutcomeUnknown
from ..models.payouts import PayoutOrder
from ..pipeline.chain import Call, Handler, Reply
from ..stores._journal import order_fact, same_amount
from ..stores.base import PayoutRecord
from .intent import PayoutIntent
from .journal import Journal
from .outcomes import outcome_unknown
from .verdicts import describe, gateway_code, recorded_reply

__all__ = ["Lookup", "PayoutLookup", "Send", "Settler", "check_same_payout"]

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


class Settler:
    """Settles, by a query, what the journal cannot answer alone: a payout that may exist before
    it is resent, and a known order recorded without its request.

    Args:
        journal: the journal (store, clock, absence rule, cancel-proof writes).
        lookup: queries one payout by number.
    """

    def __init__(self, journal: Journal, lookup: PayoutLookup) -> None:
        self._journal = journal
        self._lookup = lookup

    async def known(
        self, call: Call, next_handler: Handler, intent: PayoutIntent, record: PayoutRecord
    ) -> Reply | None:
        """The journal knows the order. A record learned without its request or its order's trade
        (an earlier version's notification) is checked by query first; ``None``: claim again."""
        key = intent.out_trade_no
        if record.fingerprint:
            return recorded_reply(call.api, key, record.result_data())
        try:
            found = await self._lookup(next_handler, key, call.timeout)
        except PayerMaxError as exc:
            raise outcome_unknown(key, exc) from exc
        if found.order is None:
            msg = f"the journal knows payout {last4(key)} but the gateway does not (yet)"
            raise PayoutOutcomeUnknown(msg, out_trade_no=key, code="ORDER_NOT_EXIST")
        # Keep the order's trade: from now on the claim itself compares requests with it.
        await self._journal.write(self._journal.store.record_result(key, order_fact(found.order)))
        check_same_payout(key, intent.amount, intent.currency, found.order)
        return None

    async def query_first(
        self,
        call: Call,
        next_handler: Handler,
        intent: PayoutIntent,
        token: str,
        record: PayoutRecord,
    ) -> Reply | bool:
        """A request may have left before (a crashed owner, an earlier give-up): ask, never guess.

        Returns the order's reply, or whether its absence is now proven (see ``absence_proven``).
        """
        key = intent.out_trade_no
        queried_at = self._journal.now()
        try:
            found = await self._lookup(next_handler, key, call.timeout)
            if found.order is not None:
                check_same_payout(key, intent.amount, intent.currency, found.order)
        except asyncio.CancelledError:
            await self._journal.write(
                self._journal.store.record_in_doubt(key, owner=token, error="cancelled")
            )
            raise
        except IdempotencyConflictError as exc:
            await self._journal.write(
                self._journal.store.record_conflict(key, owner=token, error=describe(exc))
            )
            raise
        except Exception as exc:
            in_doubt = self._journal.store.record_in_doubt(
                key, owner=token, error=describe(exc), code=gateway_code(exc)
            )
            await self._journal.write(in_doubt)
            raise outcome_unknown(key, exc) from exc
        if found.order is None:
            return self._journal.absence_proven(record, queried_at)
        fact = order_fact(found.order)
        await self._journal.write(self._journal.store.record_result(key, fact))
        return recorded_reply(call.api, key, {k: v for k, v in fact.items() if k != "trade"})

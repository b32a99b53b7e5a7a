"""A scripted stand-in for signing + transport: each call takes the next scripted step for its API."""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping

from payermax_async.pipeline import Call, Reply
from payermax_async.protocol.apis import API_PAY, API_QUERY

Step = Reply | BaseException | Callable[[Call], Reply] | Callable[[Call], Awaitable[Reply]]


def reply(api: str, data: Mapping[str, object] | None) -> Reply:
    """An APPLY_SUCCESS reply."""
    return Reply(
        api=api, code="APPLY_SUCCESS", msg="Success.", data=data, http_status=200, raw=b"{}"
    )


def accepted(key: str, trade_no: str = "TN1") -> Reply:
    """The gateway's acceptance of a payout."""
    return reply(API_PAY, {"outTradeNo": key, "tradeNo": trade_no, "status": "PENDING"})


def order(key: str, status: str = "SUCCESS", trade_no: str = "TN1", amount: str = "10") -> Reply:
    """A paymentOrderQry answer."""
    return reply(
        API_QUERY,
        {
            "outTradeNo": key,
            "tradeNo": trade_no,
            "status": status,
            "trade": {"amount": amount, "currency": "USD"},
        },
    )


class Script:
    """The terminal handler. ``calls`` lists every call it received, in order."""

    def __init__(self, steps: Mapping[str, list[Step]] | None = None) -> None:
        self.steps: dict[str, list[Step]] = defaultdict(list)
        for api, items in (steps or {}).items():
            self.steps[api].extend(items)
        self.calls: list[Call] = []

    def count(self, api: str) -> int:
        """How many calls of ``api`` arrived."""
        return sum(1 for call in self.calls if call.api == api)

    async def __call__(self, call: Call) -> Reply:
        self.calls.append(call)
        queue = self.steps[call.api]
        if not queue:
            msg = f"unscripted call to {call.api}"
            raise AssertionError(msg)
        step = queue.pop(0) if len(queue) > 1 else queue[0]  # the last step repeats
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, Reply):
            return step
        result = step(call)
        if inspect.isawaitable(result):
            return await result
        return result

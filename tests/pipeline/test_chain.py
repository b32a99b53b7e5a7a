"""The middleware chain: order, immutable values, short-circuits."""

from __future__ import annotations

import attrs
import pytest

from payermax_async.pipeline import Call, Handler, Middleware, Reply, build_chain


def _reply(call: Call, code: str = "APPLY_SUCCESS") -> Reply:
    return Reply(api=call.api, code=code, msg="", data={}, http_status=200, raw=b"{}")


def _tracing(name: str, log: list[str]) -> Middleware:
    async def middleware(call: Call, next_handler: Handler) -> Reply:
        log.append(f"{name} in")
        reply = await next_handler(call)
        log.append(f"{name} out")
        return reply

    return middleware


async def test_outermost_first_and_unwinding_in_reverse() -> None:
    """build_chain([a, b, c], t) runs a → b → c → t, then c → b → a on the way out."""
    log: list[str] = []

    async def terminal(call: Call) -> Reply:
        log.append("terminal")
        return _reply(call)

    handler = build_chain([_tracing(n, log) for n in "abc"], terminal)
    await handler(Call.build("api", {}))
    assert log == ["a in", "b in", "c in", "terminal", "c out", "b out", "a out"]


async def test_an_empty_chain_is_the_terminal() -> None:
    """With no middlewares the terminal handler is called directly."""

    async def terminal(call: Call) -> Reply:
        return _reply(call, code="T")

    assert (await build_chain([], terminal)(Call.build("api", {}))).code == "T"


def test_call_and_reply_are_frozen() -> None:
    """Call and Reply refuse attribute assignment."""
    call = Call.build("api", {"a": "1"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        call.body = b"x"  # type: ignore[misc]
    reply = _reply(call)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        reply.code = "X"  # type: ignore[misc]


def test_call_build_copies_the_data() -> None:
    """Mutating the caller's mapping after Call.build changes neither data nor the bytes to send."""
    data: dict[str, object] = {"outTradeNo": "A1", "trade": {"amount": "10", "currency": "USD"}}
    call = Call.build("paymentOrderPay", data, idempotency_key="A1")
    data["outTradeNo"] = "B2"
    trade = data["trade"]
    assert isinstance(trade, dict)
    trade["amount"] = "99999"
    assert call.data_json == b'{"outTradeNo":"A1","trade":{"amount":"10","currency":"USD"}}'
    assert call.data == {"outTradeNo": "A1", "trade": {"amount": "10", "currency": "USD"}}
    assert call.idempotency_key == "A1"
    assert call.attempt == 1
    assert call.body is None


def test_call_data_is_a_private_copy_per_read() -> None:
    """A reader changing the mapping it got from call.data changes neither the call nor later reads."""
    call = Call.build("paymentOrderPay", {"outTradeNo": "A1", "trade": {"amount": "10"}})
    seen = call.data
    assert isinstance(seen, dict)
    seen["outTradeNo"] = "B2"
    assert call.data == {"outTradeNo": "A1", "trade": {"amount": "10"}}
    assert call.data_json == b'{"outTradeNo":"A1","trade":{"amount":"10"}}'


async def test_middlewares_see_evolved_calls_not_mutations() -> None:
    """A middleware replaces the call with attrs.evolve; the caller's call stays as it was."""
    seen: list[Call] = []

    async def stamp(call: Call, next_handler: Handler) -> Reply:
        return await next_handler(attrs.evolve(call, headers={"x": "1"}, attempt=call.attempt + 1))

    async def terminal(call: Call) -> Reply:
        seen.append(call)
        return _reply(call)

    original = Call.build("api", {"a": "1"})
    await build_chain([stamp], terminal)(original)
    assert seen[0].headers == {"x": "1"}
    assert seen[0].attempt == 2
    assert original.headers == {}
    assert original.attempt == 1


async def test_a_middleware_can_short_circuit() -> None:
    """A middleware that answers itself stops the chain: inner middlewares and terminal never run."""
    log: list[str] = []

    async def cache(call: Call, next_handler: Handler) -> Reply:
        return _reply(call, code="CACHED")

    async def terminal(call: Call) -> Reply:
        log.append("terminal")
        return _reply(call)

    handler = build_chain([_tracing("outer", log), cache, _tracing("inner", log)], terminal)
    reply = await handler(Call.build("api", {}))
    assert reply.code == "CACHED"
    assert log == ["outer in", "outer out"]


async def test_a_middleware_can_call_next_twice() -> None:
    """A retry-like middleware may await next more than once with the same clean call."""
    calls: list[Call] = []

    async def twice(call: Call, next_handler: Handler) -> Reply:
        await next_handler(call)
        return await next_handler(attrs.evolve(call, attempt=2))

    async def terminal(call: Call) -> Reply:
        calls.append(call)
        return _reply(call)

    await build_chain([twice], terminal)(Call.build("api", {"a": "1"}))
    assert [c.attempt for c in calls] == [1, 2]
    assert calls[0].data_json == calls[1].data_json

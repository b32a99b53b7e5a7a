"""RetryMiddleware against a scripted gateway: classification, backoff, Retry-After, deadline, budget."""

from __future__ import annotations

import asyncio

import pytest

from payermax_async import PayoutOutcomeUnknown, RetryPolicy
from payermax_async.errors import (
    ConnectError,
    ConnectionLostError,
    DuplicateOrderError,
    GatewayError,
    InvalidRequestError,
    OrderNotFoundError,
    RateLimitError,
    RequestTimeoutError,
    RequestTimeSkewError,
    ResponseSignatureError,
)
from payermax_async.middleware.hooks import HookEvent, Hooks
from payermax_async.middleware.retry import RetryMiddleware
from payermax_async.pipeline import Call, Reply, build_chain
from payermax_async.protocol.apis import API_PAY, API_QUERY
from payermax_async.resources.lookup import query_payout
from payermax_async.testing import FakeClock, RecordingSleep, fast_retry_policy
from tests.support.payloads import payout
from tests.support.script import Script, accepted, order

KEY = "RETRY_0001"


def pay_call() -> Call:
    return Call.build(API_PAY, payout(KEY), idempotency_key=KEY)


def query_call() -> Call:
    return Call.build(API_QUERY, {"outTradeNo": KEY})


async def run(script: Script, call: Call, policy: RetryPolicy | None = None, **kw: object) -> Reply:
    middleware = RetryMiddleware(policy or fast_retry_policy(), lookup=query_payout, **kw)  # type: ignore[arg-type]
    return await build_chain([middleware], script)(call)


def gateway_error() -> GatewayError:
    return GatewayError("SYSTEM_ERROR", "System error")


def not_found() -> OrderNotFoundError:
    return OrderNotFoundError("ORDER_NOT_EXIST", "no order")


async def test_not_sent_is_resent_without_a_query() -> None:
    """Connection refused twice, then accepted: three sends, the same data, no query."""
    script = Script({API_PAY: [ConnectError("refused"), ConnectError("refused"), accepted(KEY)]})
    reply = await run(script, pay_call())
    assert reply.data == {"outTradeNo": KEY, "tradeNo": "TN1", "status": "PENDING"}
    assert script.count(API_PAY) == 3
    assert script.count(API_QUERY) == 0
    assert {c.data_json for c in script.calls} == {pay_call().data_json}
    assert [c.attempt for c in script.calls] == [1, 2, 3]


@pytest.mark.parametrize(
    "unknown",
    [
        RequestTimeoutError("read timeout"),
        ConnectionLostError("reset after send"),
        GatewayError("HTTP_503", "503", http_status=503),
        ResponseSignatureError("bad sign"),
        DuplicateOrderError("ORDER_REPEAT", "repeated"),
    ],
)
async def test_unknown_outcome_is_settled_by_query_not_by_resend(unknown: Exception) -> None:
    """A maybe-sent failure is followed by paymentOrderQry; the found order is adopted, one send."""
    script = Script({API_PAY: [unknown], API_QUERY: [order(KEY, "SUCCESS", "TN7")]})
    reply = await run(script, pay_call())
    assert reply.api == API_PAY
    assert reply.data == {"outTradeNo": KEY, "tradeNo": "TN7", "status": "SUCCESS"}
    assert script.count(API_PAY) == 1
    assert script.count(API_QUERY) == 1


async def test_order_not_exist_resends_the_same_out_trade_no() -> None:
    """Unknown, then ORDER_NOT_EXIST: the same data goes out again and its answer is returned."""
    script = Script({API_PAY: [gateway_error(), accepted(KEY, "TN2")], API_QUERY: [not_found()]})
    reply = await run(script, pay_call())
    assert reply.data is not None
    assert reply.data["tradeNo"] == "TN2"
    pays = [c for c in script.calls if c.api == API_PAY]
    assert len(pays) == 2
    assert pays[0].data_json == pays[1].data_json


async def test_failed_query_gives_up_in_doubt_and_never_resends() -> None:
    """If the query cannot answer either, the result is PayoutOutcomeUnknown and one send only."""
    policy = fast_retry_policy(max_attempts=3)
    script = Script({API_PAY: [RequestTimeoutError("t")], API_QUERY: [gateway_error()]})
    with pytest.raises(PayoutOutcomeUnknown) as info:
        await run(script, pay_call(), policy)
    assert info.value.out_trade_no == KEY
    assert script.count(API_PAY) == 1
    assert script.count(API_QUERY) == 3


async def test_rejection_is_raised_at_once() -> None:
    """PARAMS_INVALID is definitive: raised after one send, no query, no retry."""
    script = Script({API_PAY: [InvalidRequestError("PARAMS_INVALID", "bad targetOrg")]})
    with pytest.raises(InvalidRequestError):
        await run(script, pay_call())
    assert len(script.calls) == 1


async def test_unknown_code_then_attempts_run_out_is_outcome_unknown() -> None:
    """Unknown every time with ORDER_NOT_EXIST after the last: not-sent proof resets, but a final
    unknown attempt leaves the outcome unknown."""
    policy = fast_retry_policy(max_attempts=2)
    script = Script({API_PAY: [gateway_error()], API_QUERY: [not_found(), gateway_error()]})
    with pytest.raises(PayoutOutcomeUnknown):
        await run(script, pay_call(), policy)
    assert script.count(API_PAY) == 2


async def test_backoff_is_full_jitter_within_exponential_bounds() -> None:
    """Each delay lies in [0, min(backoff_max, base * 2**(n-1))]; nothing really sleeps."""
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=6, backoff_base=1.0, backoff_max=5.0, sleep=sleep)
    script = Script({API_PAY: [ConnectError("refused")] * 5 + [accepted(KEY)]})
    await run(script, pay_call(), policy)
    assert len(sleep.delays) == 5
    for n, delay in enumerate(sleep.delays, start=1):
        assert 0.0 <= delay <= min(5.0, 2.0 ** (n - 1))


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    """TOO_MANY_REQUEST with Retry-After 3 waits at least 3 s; a Retry-After of 999 waits the cap."""
    sleep = RecordingSleep()
    policy = RetryPolicy(backoff_base=0.1, backoff_max=0.1, retry_after_max=20.0, sleep=sleep)
    script = Script(
        {
            API_PAY: [
                RateLimitError("TOO_MANY_REQUEST", "slow", retry_after=3.0),
                RateLimitError("TOO_MANY_REQUEST", "slow", retry_after=999.0),
                accepted(KEY),
            ]
        }
    )
    await run(script, pay_call(), policy)
    assert 3.0 <= sleep.delays[0] <= 3.1
    assert sleep.delays[1] == 20.0


async def test_deadline_stops_new_attempts() -> None:
    """With each attempt taking 10 s on a fake clock and a 25 s deadline, the third is the last."""
    clock = FakeClock()

    def slow_refusal(call: Call) -> Reply:
        clock.advance(10.0)
        raise ConnectError("refused")

    policy = fast_retry_policy(max_attempts=50, deadline=25.0, clock=clock)
    script = Script({API_PAY: [slow_refusal]})
    with pytest.raises(ConnectError):
        await run(script, pay_call(), policy)
    assert script.count(API_PAY) == 3


async def test_budget_stops_a_retry_storm_and_successes_refill_it() -> None:
    """A 10-token bucket pays for two retries; then calls fail fast until successes refund it."""
    policy = RetryPolicy(backoff_base=0.0, budget=10, retry_cost=5, sleep=RecordingSleep())
    middleware = RetryMiddleware(policy, lookup=query_payout)
    script = Script({API_QUERY: [ConnectError("down")]})
    handler = build_chain([middleware], script)
    with pytest.raises(ConnectError):
        await handler(query_call())
    assert script.count(API_QUERY) == 3  # first + two paid retries
    with pytest.raises(ConnectError):
        await handler(query_call())
    assert script.count(API_QUERY) == 4  # no tokens: no retry
    script.steps[API_QUERY] = [order(KEY)]
    for _ in range(5):
        await handler(query_call())
    assert middleware.budget.tokens == 5


async def test_time_skew_is_retried_twice_then_surfaced() -> None:
    """REQ_TIME_OVER_TIME: re-signed retries (fresh attempts), then the error itself."""
    script = Script({API_PAY: [RequestTimeSkewError("REQ_TIME_OVER_TIME", "over time")]})
    with pytest.raises(RequestTimeSkewError):
        await run(script, pay_call())
    assert script.count(API_PAY) == 3


async def test_reads_retry_transient_failures_but_not_rejections() -> None:
    """A query rides out 503 and 429; a PARAMS_INVALID query fails at once."""
    script = Script(
        {API_QUERY: [gateway_error(), RateLimitError("TOO_MANY_REQUEST", "x"), order(KEY)]}
    )
    await run(script, query_call())
    assert script.count(API_QUERY) == 3
    script = Script({API_QUERY: [InvalidRequestError("PARAMS_INVALID", "x")]})
    with pytest.raises(InvalidRequestError):
        await run(script, query_call())
    assert script.count(API_QUERY) == 1


async def test_cancellation_is_not_swallowed_by_the_loop() -> None:
    """Cancelling a call in its backoff sleep cancels it; no further attempt is made."""
    started = asyncio.Event()

    async def hanging_sleep(_seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()

    policy = RetryPolicy(sleep=hanging_sleep)
    script = Script({API_QUERY: [ConnectError("refused")]})
    task = asyncio.ensure_future(run(script, query_call(), policy))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert script.count(API_QUERY) == 1


async def test_hooks_hear_retries_and_give_ups() -> None:
    """on_retry gets attempt, outcome and delay; on_give_up the final outcome class."""
    events: list[tuple[str, HookEvent]] = []
    hooks = Hooks(
        on_retry=lambda e: events.append(("retry", e)),
        on_give_up=lambda e: events.append(("give_up", e)),
    )
    script = Script({API_QUERY: [ConnectError("refused")]})
    with pytest.raises(ConnectError):
        await run(script, query_call(), fast_retry_policy(max_attempts=2), hooks=hooks)
    assert [name for name, _ in events] == ["retry", "give_up"]
    retry = events[0][1]
    assert (retry.api, retry.attempt, retry.outcome, retry.delay) == (
        API_QUERY,
        1,
        "ConnectError",
        0.0,
    )


def test_policy_refuses_nonsense() -> None:
    """Zero attempts or a negative backoff is a ConfigurationError."""
    from payermax_async import ConfigurationError

    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError):
        RetryPolicy(backoff_base=-1)

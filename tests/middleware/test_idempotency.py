"""IdempotencyMiddleware + RetryMiddleware over a scripted gateway and a real MemoryStore."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from payermax_async import (
    IdempotencyConflictError,
    MemoryStore,
    PayerMaxClient,
    PayoutOutcomeUnknown,
)
from payermax_async.errors import (
    ConnectError,
    GatewayError,
    InvalidRequestError,
    OrderNotFoundError,
    ValidationError,
)
from payermax_async.middleware.idempotency import IdempotencyMiddleware
from payermax_async.middleware.intent import PayoutIntent, fingerprint, legacy_fingerprint
from payermax_async.middleware.retry import RetryMiddleware
from payermax_async.pipeline import Call, Handler, Reply, build_chain
from payermax_async.protocol.apis import API_PAY, API_QUERY
from payermax_async.resources.lookup import query_payout
from payermax_async.sandbox import SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout
from tests.support.script import Script, accepted, order

KEY = "IDEM_0001"


def chain(store: MemoryStore, script: Script | Handler, max_attempts: int = 3) -> Handler:
    middlewares = [
        IdempotencyMiddleware(store, lookup=query_payout, lease_seconds=60.0),
        RetryMiddleware(fast_retry_policy(max_attempts=max_attempts), lookup=query_payout),
    ]
    return build_chain(middlewares, script)


def pay(amount: str = "10") -> Call:
    return Call.build(API_PAY, payout(KEY, amount), idempotency_key=KEY)


async def test_fingerprint_ignores_key_order_and_amount_spelling_but_not_values() -> None:
    """The fingerprint is over canonical data: key order and how an amount is written do not
    matter ("10" is "10.00"), the amount's value does; it is versioned, and a v1 fingerprint an
    earlier version wrote still identifies the same request."""
    assert fingerprint({"a": 1, "b": {"c": 2, "d": 3}}) == fingerprint(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert fingerprint(payout(KEY, "10")) == fingerprint(payout(KEY, "10.00"))
    assert fingerprint(payout(KEY, "10")) != fingerprint(payout(KEY, "10.01"))
    assert fingerprint(payout(KEY, "10")).startswith("v2:")
    intent = PayoutIntent.of(KEY, payout(KEY, "10"))
    assert intent.matches(legacy_fingerprint(payout(KEY, "10")))
    assert not intent.matches(legacy_fingerprint(payout(KEY, "11")))


@pytest.mark.parametrize("amount", ["150000", "150000.00", "0150000", "1.5E+5", "150000.0"])
def test_the_v2_fingerprint_is_pinned_whatever_the_amount_spelling(amount: str) -> None:
    """Durable journals compare fingerprints written by earlier versions: the v2 form (sha256 of
    the sorted, compact UTF-8 data with the amount as a plain number) must never change, whichever
    path computes it (a plain integer text skips the Decimal round trip)."""
    canonical = json.dumps(
        payout(KEY, "150000"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    pinned = "v2:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint(payout(KEY, amount)) == pinned
    assert fingerprint(payout(KEY, "1500000")) != pinned


async def test_accepted_payout_is_answered_from_the_journal() -> None:
    """A second create of an accepted payout returns the recorded result without any call."""
    store = MemoryStore()
    script = Script({API_PAY: [accepted(KEY, "TN5")]})
    handler = chain(store, script)
    first = await handler(pay())
    second = await handler(pay())
    assert len(script.calls) == 1
    assert first.data is not None
    assert second.data is not None
    assert second.data["tradeNo"] == first.data["tradeNo"] == "TN5"


async def test_conflicting_reuse_sends_nothing() -> None:
    """The same outTradeNo with another amount: IdempotencyConflictError and zero calls."""
    store = MemoryStore()
    script = Script({API_PAY: [accepted(KEY)]})
    handler = chain(store, script)
    await handler(pay("10"))
    with pytest.raises(IdempotencyConflictError):
        await handler(pay("11"))
    assert len(script.calls) == 1


async def test_concurrent_creates_share_one_attempt_and_a_conflict_fails_fast() -> None:
    """Twenty concurrent creates make one call; a concurrent other-data create is refused at once."""
    store = MemoryStore()
    release = asyncio.Event()

    async def slow(call: Call) -> Reply:
        await release.wait()
        return accepted(KEY)

    calls: list[Call] = []

    async def terminal(call: Call) -> Reply:
        calls.append(call)
        return await slow(call)

    handler = chain(store, terminal)
    tasks = [asyncio.ensure_future(handler(pay())) for _ in range(20)]
    await asyncio.sleep(0)
    with pytest.raises(IdempotencyConflictError):
        await handler(pay("99"))
    release.set()
    replies = await asyncio.gather(*tasks)
    assert len(calls) == 1
    assert {r.data["tradeNo"] for r in replies if r.data} == {"TN1"}


async def test_cancellation_after_send_leaves_the_record_in_doubt_then_query_settles_it() -> None:
    """Cancelling the caller mid-request records IN_DOUBT; the next create queries, never resends."""
    store = MemoryStore()
    in_request = asyncio.Event()

    async def hang(call: Call) -> Reply:
        in_request.set()
        await asyncio.Event().wait()
        raise AssertionError

    script = Script({API_PAY: [hang], API_QUERY: [order(KEY, "PENDING", "TN3")]})
    handler = chain(store, script)
    task = asyncio.ensure_future(handler(pay()))
    await in_request.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await store.get(KEY)
    assert record is not None
    assert record.state is RecordState.IN_DOUBT
    reply = await handler(pay())
    assert reply.data is not None
    assert reply.data["tradeNo"] == "TN3"
    assert script.count(API_PAY) == 1
    assert script.count(API_QUERY) == 1


async def test_waiters_survive_the_initiators_cancellation() -> None:
    """If the caller that started an attempt is cancelled, a waiting caller settles it by query."""
    store = MemoryStore()
    in_request = asyncio.Event()

    async def hang(call: Call) -> Reply:
        in_request.set()
        await asyncio.Event().wait()
        raise AssertionError

    script = Script({API_PAY: [hang], API_QUERY: [order(KEY, "SUCCESS", "TN4")]})
    handler = chain(store, script)
    initiator = asyncio.ensure_future(handler(pay()))
    await in_request.wait()
    waiter = asyncio.ensure_future(handler(pay()))
    await asyncio.sleep(0)
    initiator.cancel()
    reply = await waiter
    assert reply.data is not None
    assert reply.data["status"] == "SUCCESS"
    assert script.count(API_PAY) == 1
    with pytest.raises(asyncio.CancelledError):
        await initiator


async def test_never_sent_payout_is_re_sendable_without_a_query() -> None:
    """All attempts refused at connect: the record is re-sendable and the next create just sends."""
    store = MemoryStore()
    script = Script({API_PAY: [ConnectError("refused")]})
    handler = chain(store, script, max_attempts=2)
    with pytest.raises(ConnectError):
        await handler(pay())
    record = await store.get(KEY)
    assert record is not None
    assert (record.state, record.owner) == (RecordState.CLAIMED, None)
    script.steps[API_PAY] = [accepted(KEY)]
    await handler(pay())
    assert script.count(API_QUERY) == 0


async def test_rejection_is_recorded_and_a_corrected_resend_is_allowed() -> None:
    """A rejection is journalled as REJECTED with its code; the same data may be sent again."""
    store = MemoryStore()
    script = Script({API_PAY: [InvalidRequestError("BALANCE_INSUFFICIENT", "top up")]})
    handler = chain(store, script)
    with pytest.raises(InvalidRequestError):
        await handler(pay())
    record = await store.get(KEY)
    assert record is not None
    assert (record.state, record.error_code) == (RecordState.REJECTED, "BALANCE_INSUFFICIENT")
    script.steps[API_PAY] = [accepted(KEY)]
    await handler(pay())
    assert script.count(API_PAY) == 2


async def test_unknown_outcome_stays_in_doubt() -> None:
    """Unknown outcome and failing queries: PayoutOutcomeUnknown, record IN_DOUBT, one send."""
    store = MemoryStore()
    error = GatewayError("SYSTEM_ERROR", "x")
    script = Script({API_PAY: [error], API_QUERY: [error]})
    with pytest.raises(PayoutOutcomeUnknown):
        await chain(store, script)(pay())
    record = await store.get(KEY)
    assert record is not None
    assert record.state is RecordState.IN_DOUBT
    assert script.count(API_PAY) == 1


async def test_found_order_with_other_amount_is_a_conflict() -> None:
    """ORDER_REPEAT on a number that holds another amount at the gateway is a conflict, not ours."""
    store = MemoryStore()
    script = Script(
        {
            API_PAY: [GatewayError("SYSTEM_ERROR", "x")],
            API_QUERY: [order(KEY, "SUCCESS", amount="500")],
        }
    )
    with pytest.raises(IdempotencyConflictError):
        await chain(store, script)(pay("10"))


async def test_payout_without_key_is_refused(gw: SandboxGateway) -> None:
    """A payout call sent without its number as the idempotency key never goes out (it would
    bypass the journal)."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        with pytest.raises(ValidationError, match="outTradeNo"):
            await client.send(Call.build(API_PAY, payout(KEY)))
    assert gw.ledger.post_count() == 0


async def test_reads_pass_through() -> None:
    """A query is not journalled."""
    store = MemoryStore()
    script = Script({API_QUERY: [OrderNotFoundError("ORDER_NOT_EXIST", "none")]})
    with pytest.raises(OrderNotFoundError):
        await chain(store, script)(Call.build(API_QUERY, {"outTradeNo": KEY}))
    assert await store.get(KEY) is None

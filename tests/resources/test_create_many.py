"""create_many (issue 12): one entry per request whatever any request does, and nothing left
running after it returns or raises; payouts cut short settle their journal records first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from payermax_async import MemoryStore, PayerMaxClient, PayoutResult, ValidationError
from payermax_async.pipeline.chain import Call, Handler, Reply, Scope
from payermax_async.protocol.apis import API_PAY
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores.base import RecordState
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout

TASK_PREFIX = "payermax-create-many"


def _left_running() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(TASK_PREFIX)]


async def _until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until the gateway has seen what the test needs; never a timing assertion."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the sandbox never got there")


async def test_a_lone_surrogate_is_that_request_s_error_and_the_others_are_paid(
    gw: SandboxGateway,
) -> None:
    """A lone surrogate in 1 of 20: 20 entries in order, its ValidationError, 19 paid and sent."""
    requests = [payout(f"many_{i:02d}") for i in range(20)]
    requests[7]["payeeInfo"]["name"]["fullName"] = "Jo\ud800sephine"
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await client.payouts.create_many(requests, concurrency=8)
    assert len(results) == 20
    error = results[7]
    assert isinstance(error, ValidationError)
    assert error.field == "payeeInfo.name.fullName"
    assert [r.out_trade_no for r in results if isinstance(r, PayoutResult)] == [
        f"many_{i:02d}" for i in range(20) if i != 7
    ]
    assert gw.ledger.post_count(api=API_PAY) == 19
    assert _left_running() == []


class Bug:
    """A per-operation middleware with a bug: it raises RuntimeError for one payout, once the
    gateway holds ``others`` payouts whose answers are still on their way."""

    scope = Scope.OPERATION

    def __init__(self, gw: SandboxGateway, number: str, others: int) -> None:
        self.gw, self.number, self.others = gw, number, others

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        if call.idempotency_key == self.number:
            await _until(lambda: self.gw.ledger.post_count(api=API_PAY) >= self.others)
            msg = "a bug in a middleware"
            raise RuntimeError(msg)
        return await next_handler(call)


async def test_a_bug_in_one_payout_cancels_the_others_and_each_settles_in_doubt(
    gw: SandboxGateway,
) -> None:
    """A bug in one payout propagates only once the others are cancelled, awaited and IN_DOUBT."""
    gw.faults.add(Fault(FaultKind.DELAY, api=API_PAY, delay=30))  # answers held back
    store = MemoryStore()
    requests = [payout(f"bug_{i}") for i in range(4)] + [payout("bug_x")]
    middlewares = [Bug(gw, "bug_x", others=4)]
    async with PayerMaxClient(
        gw.config(), store=store, retry=fast_retry_policy(), middlewares=middlewares
    ) as client:
        with pytest.raises(RuntimeError, match="a bug in a middleware"):
            await client.payouts.create_many(requests, concurrency=5)
        assert _left_running() == []
        states = [(await store.get(f"bug_{i}")) for i in range(4)]
        assert [record.state if record else None for record in states] == [RecordState.IN_DOUBT] * 4
        assert await store.get("bug_x") is None  # it never reached the journal
        gw.faults.clear()
        report = await client.payouts.reconcile()
    assert sorted(order.out_trade_no for order in report) == [f"bug_{i}" for i in range(4)]
    assert gw.ledger.post_count(api=API_PAY) == 4


async def test_cancelling_create_many_settles_every_payout_in_flight(gw: SandboxGateway) -> None:
    """Cancelling the caller settles each payout in flight IN_DOUBT, starts none, leaves none."""
    gw.faults.add(Fault(FaultKind.DELAY, api=API_PAY, delay=30))
    store = MemoryStore()
    requests = [payout(f"cancel_{i}") for i in range(6)]
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        task = asyncio.create_task(client.payouts.create_many(requests, concurrency=3))
        await _until(lambda: gw.ledger.post_count(api=API_PAY) >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _left_running() == []
        states = [await store.get(f"cancel_{i}") for i in range(6)]
    assert [s.state if s else None for s in states] == [RecordState.IN_DOUBT] * 3 + [None] * 3
    assert gw.ledger.post_count(api=API_PAY) == 3


async def test_a_bad_timeout_is_one_error_not_one_per_request(gw: SandboxGateway) -> None:
    """create_many(timeout=nan) raises ValidationError once and sends nothing."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        with pytest.raises(ValidationError) as info:
            await client.payouts.create_many([payout("t_1")], timeout=float("nan"))
    assert info.value.field == "timeout"
    assert gw.ledger.post_count() == 0


@pytest.mark.parametrize("concurrency", [0, -1, "8", 2.5, True])
async def test_reconcile_checks_its_concurrency(gw: SandboxGateway, concurrency: object) -> None:
    """reconcile(concurrency=...) refuses what is not a positive integer (it was a TypeError)."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        with pytest.raises(ValidationError) as info:
            await client.payouts.reconcile(concurrency=concurrency)  # type: ignore[arg-type]
    assert info.value.field == "concurrency"

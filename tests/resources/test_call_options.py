"""``client.with_options()``: a cheap view with its own retry, timeout and deadline, sharing the
client's session, signer, journal and middlewares; checked arguments; who closes what."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from payermax_async import (
    ConfigurationError,
    MemoryStore,
    PayerMaxClient,
    RetryPolicy,
    RsaSigner,
    ValidationError,
)
from payermax_async.errors import (
    ClientClosedError,
    DeadlineExceededError,
    GatewayError,
    RequestTimeoutError,
)
from payermax_async.pipeline import Call, Handler, Reply
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout

PAY, QRY = "paymentOrderPay", "paymentOrderQry"
_NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)


async def test_view_uses_its_retry_policy_and_the_client_keeps_its_own(gw: SandboxGateway) -> None:
    """A view that never retries gives up on the first failed query; the client, with its own
    policy, still rides the same fault out."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("opt_retry"))
        gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api=QRY, times=2))
        once = client.with_options(retry=RetryPolicy(max_attempts=1))
        with pytest.raises(GatewayError):
            await once.payouts.retrieve("opt_retry")
        assert gw.ledger.post_count(api=QRY) == 1
        assert once.retry.max_attempts == 1
        assert client.retry.max_attempts == 8
        order = await client.payouts.retrieve("opt_retry")  # one failure left, then success
        assert order.out_trade_no == "opt_retry"
        assert gw.ledger.post_count(api=QRY) == 3


async def test_view_uses_its_timeout_per_attempt_and_the_client_does_not(
    gw: SandboxGateway,
) -> None:
    """The view's attempt times out and is retried; the client, with its longer default timeout,
    waits for the same slow answer in one attempt."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("opt_timeout"))
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=2.0))
        quick = client.with_options(timeout=0.05)
        assert (await quick.payouts.retrieve("opt_timeout")).out_trade_no == "opt_timeout"
        assert gw.ledger.post_count(api=QRY) == 2  # the slow attempt timed out, the retry answered
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=0.2))
        assert (await client.payouts.retrieve("opt_timeout")).out_trade_no == "opt_timeout"
        assert gw.ledger.post_count(api=QRY) == 3  # one attempt: it waited for the answer


async def test_an_operations_own_timeout_wins_over_the_views(gw: SandboxGateway) -> None:
    """``retrieve(timeout=...)`` on a view overrides the view's timeout for that call."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("opt_own"))
        quick = client.with_options(timeout=0.05)
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=0.2))
        await quick.payouts.retrieve("opt_own", timeout=5)
        assert gw.ledger.post_count(api=QRY) == 1


async def test_view_deadline_bounds_its_calls_and_not_the_clients(gw: SandboxGateway) -> None:
    """A view's ``deadline`` ends its slow call with DeadlineExceededError; the client waits."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("opt_deadline"))
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=30.0))
        with pytest.raises(DeadlineExceededError) as caught:
            await client.with_options(deadline=0.1).payouts.retrieve("opt_deadline")
        assert isinstance(caught.value, RequestTimeoutError)
        assert isinstance(caught.value, TimeoutError)
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=0.2))
        assert (await client.payouts.retrieve("opt_deadline")).out_trade_no == "opt_deadline"


async def test_view_shares_the_journal_and_in_flight_payouts(gw: SandboxGateway) -> None:
    """A view and its client creating one number at the same time make one payout, and a later
    create() through either finds it in the shared journal."""
    store = MemoryStore()
    async with PayerMaxClient(gw.config(), store=store, retry=fast_retry_policy()) as client:
        view = client.with_options(timeout=10, deadline=60)
        assert view.store is store
        gw.faults.add(Fault(FaultKind.DELAY, api=PAY, times=1, delay=0.2))
        first, second = await asyncio.gather(
            client.payouts.create(payout("opt_shared")), view.payouts.create(payout("opt_shared"))
        )
        assert first == second
        again = await view.payouts.create(payout("opt_shared"))
        assert again.out_trade_no == "opt_shared"
    assert gw.ledger.post_count(api=PAY, out_trade_no="opt_shared") == 1
    assert len(gw.ledger.orders) == 1


async def test_view_runs_the_clients_middlewares(gw: SandboxGateway) -> None:
    """The client's middlewares see the view's calls too, with the view's timeout."""
    seen: list[object] = []

    async def spy(call: Call, next_handler: Handler) -> Reply:
        seen.append(call.timeout.total if call.timeout else None)
        return await next_handler(call)

    async with PayerMaxClient(gw.config(), middlewares=[spy]) as client:
        view = client.with_options(retry=fast_retry_policy(), timeout=7)
        await view.payouts.create(payout("opt_mw"))
    assert seen == [7.0]


async def test_closing_a_view_leaves_the_client_open(gw: SandboxGateway) -> None:
    """The client owns the session: closing a view stops only the view."""
    async with PayerMaxClient(gw.config()) as client:
        async with client.with_options(timeout=5) as view:
            await view.payouts.create(payout("opt_close"))
        assert view.closed
        assert not client.closed
        with pytest.raises(ClientClosedError):
            await view.payouts.retrieve("opt_close")
        assert (await client.payouts.retrieve("opt_close")).out_trade_no == "opt_close"
        fresh = client.with_options(deadline=5)
        assert "view" in repr(fresh)
    assert fresh.closed  # closing the client stops its views
    with pytest.raises(ClientClosedError):
        await fresh.payouts.retrieve("opt_close")
    with pytest.raises(ClientClosedError):
        client.with_options(timeout=5)


async def test_a_view_of_a_view_keeps_the_first_views_options(gw: SandboxGateway) -> None:
    """Options not given again are inherited from the view the new one is made from."""
    async with PayerMaxClient(gw.config()) as client:
        first = client.with_options(retry=RetryPolicy(max_attempts=1), timeout=0.05)
        second = first.with_options(deadline=30)
        assert second.retry.max_attempts == 1
        await client.payouts.create(payout("opt_chain"))
        gw.faults.add(Fault(FaultKind.DELAY, api=QRY, times=1, delay=2.0))
        with pytest.raises(RequestTimeoutError):  # the first view's timeout, its single attempt
            await second.payouts.retrieve("opt_chain")
        assert gw.ledger.post_count(api=QRY) == 1


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, -1, 0, True, "5", 10**400, 86_401]
)
@pytest.mark.parametrize("name", ["timeout", "deadline"])
async def test_with_options_refuses_unusable_seconds_naming_the_argument(
    gw: SandboxGateway, name: str, value: object
) -> None:
    """NaN, infinities, zero, negatives, booleans, strings and absurd values are refused at once."""
    async with PayerMaxClient(gw.config()) as client:
        with pytest.raises(ValidationError) as caught:
            client.with_options(**{name: value})  # type: ignore[arg-type]
        assert caught.value.field == name
        assert name in str(caught.value)
    assert gw.ledger.post_count() == 0


async def test_with_options_refuses_a_retry_that_is_not_a_policy(gw: SandboxGateway) -> None:
    """``retry=`` must be a RetryPolicy: ConfigurationError naming it, nothing sent."""
    async with PayerMaxClient(gw.config()) as client:
        with pytest.raises(ConfigurationError, match="retry must be a RetryPolicy"):
            client.with_options(retry={"max_attempts": 1})  # type: ignore[arg-type]
    assert gw.ledger.post_count() == 0


@pytest.mark.parametrize("value", [math.nan, -0.5, math.inf])
async def test_operations_refuse_a_bad_deadline_before_any_io(
    gw: SandboxGateway, value: float
) -> None:
    """``deadline=`` on create, create_many, retrieve, validate and list: ValidationError naming
    it, nothing sent, nothing journaled."""
    store = MemoryStore()
    async with PayerMaxClient(gw.config(), store=store) as client:
        payouts = client.payouts
        for attempt in (
            payouts.create(payout("opt_bad"), deadline=value),
            payouts.create_many([payout("opt_bad")], deadline=value),
            payouts.retrieve("opt_bad", deadline=value),
            payouts.validate(payout("opt_bad"), deadline=value),
            _drain(payouts.list(begin=_NOW, end=_NOW, deadline=value)),
            _drain(payouts.list(begin=_NOW, end=_NOW, timeout=value)),
        ):
            with pytest.raises(ValidationError) as caught:
                await attempt
            assert caught.value.field in ("deadline", "timeout")
    assert gw.ledger.post_count() == 0
    assert await store.get("opt_bad") is None


async def _drain(orders: AsyncIterator[object]) -> None:
    async for _ in orders:
        pass


async def test_making_a_view_creates_no_session_store_or_signer(
    gw: SandboxGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view is cheap: no aiohttp session, journal store or signer is built for it, and its calls
    go through the client's session."""
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout("opt_cheap"))
        built: list[str] = []
        for cls in (aiohttp.ClientSession, MemoryStore, RsaSigner):
            original = cls.__init__

            def spy(self: object, *args: object, _o: Any = original, **kwargs: object) -> None:
                built.append(type(self).__name__)
                _o(self, *args, **kwargs)

            monkeypatch.setattr(cls, "__init__", spy)
        views = [
            client.with_options(timeout=5, retry=RetryPolicy(max_attempts=2)) for _ in range(50)
        ]
        orders = [await view.payouts.retrieve("opt_cheap") for view in views[:3]]
        assert built == []
    assert {order.out_trade_no for order in orders} == {"opt_cheap"}

"""End to end against the sandbox's fault injection: no order twice, none lost, results match."""

from __future__ import annotations

import asyncio
import logging

import pytest

from payermax_async import (
    IdempotencyConflictError,
    MemoryStore,
    PayerMaxClient,
    PayerMaxError,
    PayoutOutcomeUnknown,
    PayoutResult,
    RsaSigner,
)
from payermax_async.errors import ConnectError
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import RecordState
from payermax_async.testing import FakeClock, fast_retry_policy
from tests.support.payloads import payout

PAY = "paymentOrderPay"
QRY = "paymentOrderQry"


def batch(prefix: str, count: int) -> list[dict[str, object]]:
    return [payout(f"{prefix}{i:04d}", amount=str(10 + i % 50)) for i in range(count)]


def assert_exactly_once(gw: SandboxGateway, results: list[PayoutResult | PayerMaxError]) -> None:
    """Every request got a result that is the sandbox's own record of that order."""
    errors = [r for r in results if isinstance(r, PayerMaxError)]
    assert errors == []
    assert len(gw.ledger.orders) == len(results)
    for result in results:
        assert isinstance(result, PayoutResult)
        assert gw.ledger.orders[result.out_trade_no].trade_no == result.trade_no


async def test_300_payouts_with_20_percent_dropped_after_commit(gw: SandboxGateway) -> None:
    """Responses lost after the order was made: queries adopt them; exactly 300 orders."""
    gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, rate=0.2))
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await client.payouts.create_many(batch("DROP", 300), concurrency=32)
    assert_exactly_once(gw, results)
    assert gw.ledger.post_count(api=QRY) > 0


async def test_300_payouts_with_25_percent_503_or_system_error_before_commit(
    gw: SandboxGateway,
) -> None:
    """Failures before commit: query says ORDER_NOT_EXIST, the same number is resent; 300 orders."""
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=PAY, rate=0.125))
    gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api=PAY, rate=0.143))
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await client.payouts.create_many(batch("FIVE", 300), concurrency=32)
    assert_exactly_once(gw, results)
    assert gw.ledger.post_count(api=PAY) > 300  # resends happened, none made a second order


async def test_300_payouts_with_resets_lost_responses_and_bad_signatures(
    gw: SandboxGateway,
) -> None:
    """A mix on every API (queries too): still exactly one order per number, matching results."""
    gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, rate=0.08))
    gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, rate=0.1))
    gw.faults.add(Fault(FaultKind.BAD_SIGNATURE, rate=0.08))
    gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_AFTER_COMMIT, api=PAY, rate=0.05))
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await client.payouts.create_many(batch("MIX", 300), concurrency=32)
    assert_exactly_once(gw, results)


async def test_50_concurrent_creates_of_one_number_make_one_post(gw: SandboxGateway) -> None:
    """Fifty concurrent create() calls of one outTradeNo: one POST, one tradeNo for all."""
    request = payout("SINGLE_0001")
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await asyncio.gather(*(client.payouts.create(request) for _ in range(50)))
        assert gw.ledger.post_count(api=PAY, out_trade_no="SINGLE_0001") == 1
        assert {r.trade_no for r in results} == {gw.ledger.orders["SINGLE_0001"].trade_no}
        # Conflicting reuse: other data under the same number, zero POSTs.
        with pytest.raises(IdempotencyConflictError):
            await client.payouts.create(payout("SINGLE_0001", amount="999"))
    assert gw.ledger.post_count(api=PAY, out_trade_no="SINGLE_0001") == 1


async def test_two_clients_sharing_a_store_make_one_post(gw: SandboxGateway) -> None:
    """Two clients (two owners) on one store: the loser waits for the winner's recorded result."""
    store = MemoryStore()
    request = payout("SHARED_0001")
    async with (
        PayerMaxClient(gw.config(), retry=fast_retry_policy(), store=store) as one,
        PayerMaxClient(gw.config(), retry=fast_retry_policy(), store=store) as two,
    ):
        first, second = await asyncio.gather(
            one.payouts.create(request), two.payouts.create(request)
        )
    assert first.trade_no == second.trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="SHARED_0001") == 1


async def test_in_doubt_payout_is_settled_by_reconcile_and_never_resent(
    gw: SandboxGateway,
) -> None:
    """Lost response + failing queries: PayoutOutcomeUnknown; reconcile adopts; create sends nothing."""
    store = MemoryStore()
    gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY))
    async with PayerMaxClient(
        gw.config(), retry=fast_retry_policy(max_attempts=2), store=store
    ) as client:
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("DOUBT_0001"))
        record = await store.get("DOUBT_0001")
        assert record is not None
        assert record.state is RecordState.IN_DOUBT
        gw.faults.clear()
        orders = await client.payouts.reconcile()
        assert [o.out_trade_no for o in orders] == ["DOUBT_0001"]
        assert await store.open_records() == []
        result = await client.payouts.create(payout("DOUBT_0001"))
    assert result.trade_no == gw.ledger.orders["DOUBT_0001"].trade_no
    assert gw.ledger.post_count(api=PAY, out_trade_no="DOUBT_0001") == 1


async def test_reconcile_makes_a_never_created_payout_re_sendable_under_the_same_number(
    gw: SandboxGateway,
) -> None:
    """503 before commit + failing queries: in doubt; reconcile sees ORDER_NOT_EXIST, which proves
    absence only once the absence window has passed; then create sends it under the same number."""
    clock = FakeClock(start=1_800_000_000.0)
    store = MemoryStore(clock=clock)
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=PAY, times=1))
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=2))
    async with PayerMaxClient(
        gw.config(), retry=fast_retry_policy(max_attempts=2), store=store
    ) as client:
        with pytest.raises(PayoutOutcomeUnknown):
            await client.payouts.create(payout("NEVER_0001"))
        early = await client.payouts.reconcile()
        assert (list(early), early.in_doubt) == ([], ["NEVER_0001"])
        clock.advance(601)
        late = await client.payouts.reconcile()
        assert (list(late), late.absent) == ([], ["NEVER_0001"])
        record = await store.get("NEVER_0001")
        assert record is not None
        assert (record.state, record.owner) == (RecordState.CLAIMED, None)
        result = await client.payouts.create(payout("NEVER_0001"))
    assert result.out_trade_no == "NEVER_0001"
    assert list(gw.ledger.orders) == ["NEVER_0001"]


async def test_refused_connection_is_resent_after_the_gateway_returns(gw: SandboxGateway) -> None:
    """Connection refused is provably not sent: the error surfaces, and a later create sends once."""
    store = MemoryStore()
    async with PayerMaxClient(
        gw.config(), retry=fast_retry_policy(max_attempts=2), store=store
    ) as client:
        await gw.refuse_connections(True)
        with pytest.raises(ConnectError):
            await client.payouts.create(payout("REFUSED_0001"))
        await gw.refuse_connections(False)
        await client.payouts.create(payout("REFUSED_0001"))
    assert gw.ledger.post_count(api=PAY, out_trade_no="REFUSED_0001") == 1
    assert gw.ledger.post_count(api=QRY) == 0


async def test_create_many_keeps_input_order_and_returns_errors_as_values(
    gw: SandboxGateway,
) -> None:
    """Results come back in input order; a bad request is a ValidationError value, not a raise."""
    requests: list[dict[str, object]] = [payout(f"ORDER_{i:03d}") for i in range(20)]
    requests[5] = payout("ORDER_005", amount="-1")
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy()) as client:
        results = await client.payouts.create_many(requests, concurrency=4)
    assert isinstance(results[5], PayerMaxError)
    assert [r.out_trade_no for r in results if isinstance(r, PayoutResult)] == [
        f"ORDER_{i:03d}" for i in range(20) if i != 5
    ]


async def test_debug_logs_with_retries_hold_no_payee_data_keys_or_signatures(
    gw: SandboxGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A DEBUG run with lost responses, resets and bad signatures logs no secret or payee datum."""
    signatures: list[str] = []

    class RecordingSigner(RsaSigner):
        async def sign(self, payload: bytes) -> str:
            signature = await super().sign(payload)
            signatures.append(signature)
            return signature

    caplog.set_level(logging.DEBUG)
    gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, rate=0.3))
    gw.faults.add(Fault(FaultKind.RESET_BEFORE_READ, rate=0.2))
    gw.faults.add(Fault(FaultKind.BAD_SIGNATURE, rate=0.2))
    config = gw.config()
    async with PayerMaxClient(
        config, signer=RecordingSigner(gw.merchant_private_key), retry=fast_retry_policy()
    ) as client:
        await client.payouts.create_many(batch("LOG", 30))
    text = "\n".join(
        f"{record.getMessage()} {sorted(vars(record).items())}" for record in caplog.records
    )
    assert "payermax" in text  # the run did log
    assert any(getattr(r, "outcome", None) not in (None, "ok") for r in caplog.records)
    for secret in (
        "4111222233334444",
        "33334444",
        "josephine.marchetti@example.org",
        "Josephine",
        "Marchetti",
        gw.merchant_private_key[40:80],
        gw.platform_private_key[40:80],
        *signatures,
    ):
        assert secret not in text

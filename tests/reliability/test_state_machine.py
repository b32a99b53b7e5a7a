"""A hypothesis state machine over create, lost responses, refused connections, crashes, notifications,
queries and reconcile. Invariants: no order twice, journal states never rewind, nothing in doubt after
a final reconcile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from payermax_async import MemoryStore, PayerMaxClient, PayerMaxError, PayoutStatus
from payermax_async._keys import generate_keypair
from payermax_async._testing_retry import FakeClock, fast_retry_policy
from payermax_async.models.payouts import is_forward
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.stores import OPEN_STATES, PayoutRecord, RecordState
from payermax_async.stores.base import KNOWN_STATES
from tests.reliability.conftest import payout

T = TypeVar("T")
KEYS = [f"SM_{i}" for i in range(4)]
PAY, QRY = "paymentOrderPay", "paymentOrderQry"
MERCHANT, PLATFORM = generate_keypair(), generate_keypair()
LEASE = 60.0


class CrashableStore:
    """Delegates to a journal; after ``crash()`` every call fails, as if the process had died:
    the journal keeps exactly what was committed before."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                msg = "process crashed"
                raise RuntimeError(msg)
            return await attribute(*args, **kwargs)

        return call


class PayoutMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.gw = SandboxGateway(
            seed=7, merchant_keys=MERCHANT, platform_keys=PLATFORM, processing_delay=0.0
        )
        self.run(self.gw.start())
        self.clock = FakeClock(start=1_800_000_000.0)
        self.journal = MemoryStore(clock=self.clock)
        self.store = CrashableStore(self.journal)
        self.client = self._client()
        self.seen: dict[str, PayoutRecord] = {}
        self.known_posts: dict[str, int] = {}
        self.refusing = False

    def _client(self) -> PayerMaxClient:
        return PayerMaxClient(
            self.gw.config(),
            store=self.store,  # type: ignore[arg-type]
            retry=fast_retry_policy(max_attempts=3, deadline=LEASE - 30.0),
        )

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        try:
            # Final settling: the gateway is healthy again; reconcile must leave nothing in doubt.
            self.gw.faults.clear()
            self.run(self.gw.refuse_connections(False))
            self.clock.advance(LEASE + 1)
            self.run(self.client.payouts.reconcile())
            records = [self.run(self.journal.get(k)) for k in KEYS]
            for key, record in zip(KEYS, records, strict=True):
                if record is None:
                    assert key not in self.gw.ledger.orders
                    continue
                assert record.state not in (RecordState.SENT, RecordState.IN_DOUBT), record
                if key in self.gw.ledger.orders:
                    assert record.state in KNOWN_STATES
                    assert record.trade_no == self.gw.ledger.orders[key].trade_no
                else:
                    assert record.state in (RecordState.CLAIMED, RecordState.REJECTED)
            self.check_journal()
        finally:
            self.run(self.client.aclose())
            self.run(self.gw.aclose())
            self.loop.close()

    # ---------------------------------------------------------------------------------- rules

    @rule(key=st.sampled_from(KEYS))
    def create(self, key: str) -> None:
        try:
            result = self.run(self.client.payouts.create(payout(key)))
        except PayerMaxError:
            return
        assert result.trade_no == self.gw.ledger.orders[key].trade_no

    @rule()
    def drop_next_response(self) -> None:
        self.gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))

    @rule(times=st.integers(1, 4))
    def fail_queries(self, times: int) -> None:
        self.gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api=QRY, times=times))

    @rule()
    def fail_next_send_before_commit(self) -> None:
        self.gw.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api=PAY, times=1))

    @rule(refuse=st.booleans())
    def refuse_connections(self, refuse: bool) -> None:
        self.run(self.gw.refuse_connections(refuse))
        self.refusing = refuse

    @rule(key=st.sampled_from(KEYS))
    def crash_and_restart(self, key: str) -> None:
        """Kill the process while a create is on the wire; restart with a new owner."""
        record = self.run(self.journal.get(key))
        if self.refusing or (record is not None and record.state in KNOWN_STATES):
            return
        delay = Fault(FaultKind.DELAY, api=PAY, out_trade_no=key, delay=0.3, times=1)
        self.gw.faults.add(delay)
        before = self.gw.ledger.post_count(api=PAY, out_trade_no=key)

        async def crash() -> None:
            task = asyncio.ensure_future(self.client.payouts.create(payout(key)))
            for _ in range(2_000):  # until the POST reached the gateway, or the task is over
                if task.done() or self.gw.ledger.post_count(api=PAY, out_trade_no=key) > before:
                    break
                await asyncio.sleep(0.001)
            self.store.dead = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.client.aclose()

        self.run(crash())
        self.gw.faults.remove(delay)
        self.store = CrashableStore(self.journal)
        self.client = self._client()
        self.clock.advance(LEASE + 1)  # the dead owner's lease lapses

    @rule(key=st.sampled_from(KEYS))
    def notification(self, key: str) -> None:
        order = self.gw.ledger.orders.get(key)
        if order is None:
            return
        fetched = self.run(self._retrieve(key))
        if fetched is not None:
            self.run(self.journal.mark_notified(key, fetched))

    @rule(key=st.sampled_from(KEYS))
    def query(self, key: str) -> None:
        fetched = self.run(self._retrieve(key))
        if fetched is not None:
            assert fetched.trade_no == self.gw.ledger.orders[key].trade_no

    @rule()
    def reconcile(self) -> None:
        try:
            orders = self.run(self.client.payouts.reconcile())
        except PayerMaxError:
            return
        for order in orders:
            assert order.trade_no == self.gw.ledger.orders[order.out_trade_no].trade_no

    async def _retrieve(self, key: str) -> Any:
        try:
            return await self.client.payouts.retrieve(key)
        except PayerMaxError:
            return None

    # ---------------------------------------------------------------------------------- invariants

    @invariant()
    def check_journal(self) -> None:
        for key in KEYS:
            record = self.run(self.journal.get(key))
            if record is None:
                continue
            previous = self.seen.get(key)
            if previous is not None and previous.state in KNOWN_STATES:
                # Known orders never become open again and their status never rewinds.
                assert record.state in KNOWN_STATES, (previous, record)
                assert previous.status is not None
                assert record.status is not None
                assert record.status is previous.status or is_forward(
                    previous.status, record.status
                )
            if record.state in KNOWN_STATES:
                # Once the journal knows the order, nothing POSTs that number again.
                posts = self.gw.ledger.post_count(api=PAY, out_trade_no=key)
                assert posts == self.known_posts.setdefault(key, posts), key
            if record.state in OPEN_STATES and record.status is not None:
                msg = "an open record must not carry a payout status"
                raise AssertionError(msg)
            self.seen[key] = record
        assert all(o.status in PayoutStatus for o in self.gw.ledger.orders.values())


PayoutMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
TestPayoutMachine = PayoutMachine.TestCase

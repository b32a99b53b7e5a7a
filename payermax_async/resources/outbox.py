"""``client.payouts.send_reserved()`` and ``relay_reserved()``: pay what the outbox holds, once.

A payout reserved with :meth:`PostgresStore.reserve` is journalled as re-sendable and its wire data
kept in the outbox. A relay takes pending rows (``FOR UPDATE SKIP LOCKED``, with a lease, so
concurrent relays on any host take different rows) and sends each through ``create()``: the journal
claim makes a row that two relays took anyway (a lease lapsed) one payout, and a payout that may
have been sent is queried before any resend. A row is done once the journal knows the payout's fate
(accepted, refused, or a conflict); otherwise (in doubt, the database or network down) it is taken
again after ``retry_after`` seconds, and a relay killed mid-way leaves its rows to the next one.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from ..errors import (
    ConfigurationError,
    IdempotencyConflictError,
    PayerMaxError,
    StoreError,
    ValidationError,
)
from ..middleware.idempotency import IdempotencyMiddleware
from ..models.payouts import PayoutResult
from ..stores.base import RecordState
from ..stores.postgres import PostgresStore, Reserved

__all__ = ["RelayReport", "check_relay_arguments", "outbox_store", "relay_forever", "send_reserved"]

logger = logging.getLogger("payermax_async")

Create = Callable[[Mapping[str, object]], Awaitable[PayoutResult]]


class RelayReport(builtins.list[PayoutResult]):
    """What a relay did: the list of the payouts it sent (or found sent), with the rest as
    attributes, each a list of ``outTradeNo`` values.

    Attributes:
        rejected: PayerMax refused the payout for good (the journal says ``REJECTED``); the row is
            done. Fix the cause and ``create()`` the same request again if it should still be paid.
        conflicts: the number stands for another payout; the row is done, nothing was sent.
        invalid: the reserved data no longer passes validation; the row is done, nothing was sent.
        in_doubt: not settled yet (the payout may exist, or the network or database failed): taken
            again after ``retry_after``; ``create()`` queries before any resend.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rejected: builtins.list[str] = []
        self.conflicts: builtins.list[str] = []
        self.invalid: builtins.list[str] = []
        self.in_doubt: builtins.list[str] = []

    @property
    def taken(self) -> int:
        """How many outbox rows this relay took."""
        return (
            len(self)
            + len(self.rejected)
            + len(self.conflicts)
            + len(self.invalid)
            + len(self.in_doubt)
        )

    def merge(self, other: RelayReport) -> None:
        """Add another run's results to this one."""
        self.extend(other)
        for name in ("rejected", "conflicts", "invalid", "in_doubt"):
            getattr(self, name).extend(getattr(other, name))

    def __repr__(self) -> str:
        parts = [f"sent={[result.out_trade_no for result in self]}"]
        for name in ("rejected", "conflicts", "invalid", "in_doubt"):
            numbers = getattr(self, name)
            if numbers:
                parts.append(f"{name}={sorted(numbers)}")
        return f"RelayReport({', '.join(parts)})"


def outbox_store(journal: IdempotencyMiddleware) -> PostgresStore:
    """The client's store, which must hold an outbox.

    Raises:
        ConfigurationError: the client's store is not a :class:`PostgresStore`.
    """
    store = journal.store
    if not isinstance(store, PostgresStore):
        msg = (
            "send_reserved() needs the client's store to be the PostgresStore that reserve() wrote "
            f"to, not {type(store).__name__}"
        )
        raise ConfigurationError(msg)
    return store


def _check_positive(name: str, value: object, *, integer: bool) -> None:
    kinds = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        msg = f"{name} must be a positive {'integer' if integer else 'number'}"
        raise ValidationError(msg, field=name)


def check_relay_arguments(limit: object, concurrency: object, retry_after: object) -> None:
    """Refuse relay arguments that are not positive (before any I/O).

    Raises:
        ValidationError: naming the argument.
    """
    _check_positive("limit", limit, integer=True)
    _check_positive("concurrency", concurrency, integer=True)
    _check_positive("retry_after", retry_after, integer=False)


async def send_reserved(
    journal: IdempotencyMiddleware,
    create: Create,
    *,
    limit: int,
    concurrency: int,
    retry_after: float,
) -> RelayReport:
    """One relay pass over at most ``limit`` pending outbox rows (module docstring)."""
    store = outbox_store(journal)
    check_relay_arguments(limit, concurrency, retry_after)
    owner = journal.journal.token()
    # The relay lease outlasts a create() that first waits out another owner's claim, then runs
    # its own: a row is taken again only once its relay is surely gone.
    lease = journal.wait_timeout + 2 * journal.lease_seconds
    report = RelayReport()
    budget = [limit]

    async def worker() -> None:
        # One row at a time, so no row waits under a lease while others are being paid.
        for _ in range(limit):
            if budget[0] <= 0:
                return
            budget[0] -= 1
            rows = await store.claim_reserved(owner, limit=1, lease_seconds=lease)
            if not rows:
                return
            await _relay_one(store, create, owner, rows[0], report, retry_after)

    # Every worker finishes (no payout is abandoned half-way) before a failure is reported.
    outcomes = await asyncio.gather(
        *(worker() for _ in range(min(concurrency, limit))), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return report


async def _relay_one(
    store: PostgresStore,
    create: Create,
    owner: str,
    row: Reserved,
    report: RelayReport,
    retry_after: float,
) -> None:
    key = row.out_trade_no
    done, outcome = True, "ACCEPTED"
    try:
        result = await create(row.data)
    except ValidationError as exc:
        outcome = f"INVALID {exc.field or ''}".strip()
        report.invalid.append(key)
    except IdempotencyConflictError:
        outcome = "CONFLICT"
        report.conflicts.append(key)
    except PayerMaxError as exc:
        done, outcome = await _settled_by_journal(store, key, exc)
        if not done:
            report.in_doubt.append(key)
        elif outcome == "CONFLICT":
            report.conflicts.append(key)
        else:
            report.rejected.append(key)
    else:
        outcome = f"ACCEPTED {result.status.value}"
        report.append(result)
    retry_at = None if done else store.now() + retry_after
    try:
        await store.finish_reserved(key, owner=owner, outcome=outcome, done=done, retry_at=retry_at)
    except PayerMaxError as exc:
        # The payout's fate is in the journal; the row is taken again when its lease lapses and
        # create() answers from the journal without sending.
        logger.warning(
            "payermax relay could not mark …%s: %s",
            key[-4:],
            type(exc).__name__,
            extra={"out_trade_no": key, "outcome": "outbox_write_failed"},
        )


async def _settled_by_journal(
    store: PostgresStore, key: str, exc: PayerMaxError
) -> tuple[bool, str]:
    """After a failed create(): done only if the journal knows the payout's fate for good."""
    try:
        record = await store.get(key)
    except PayerMaxError:
        record = None
    if record is not None and record.state is RecordState.REJECTED:
        return True, f"REJECTED {record.error_code or ''}".strip()
    if record is not None and record.state is RecordState.CONFLICT:
        return True, "CONFLICT"
    logger.warning(
        "payermax relay left …%s for a later pass: %s",
        key[-4:],
        type(exc).__name__,
        extra={"out_trade_no": key, "outcome": "relay_retry"},
    )
    return False, f"RETRY {type(exc).__name__}"


async def relay_forever(
    one_pass: Callable[[], Awaitable[RelayReport]],
    *,
    stop: asyncio.Event | None,
    poll_interval: float,
    on_report: Callable[[RelayReport], object] | None,
    limit: int,
) -> RelayReport:
    """Run relay passes until ``stop`` is set; sleep ``poll_interval`` when a pass found little."""
    _check_positive("poll_interval", poll_interval, integer=False)
    stop = stop or asyncio.Event()
    total = RelayReport()
    while not stop.is_set():
        try:
            report = await one_pass()
        except StoreError as exc:
            # The database is away for a moment: a worker keeps going and tries again.
            logger.warning(
                "payermax relay pass failed: %s",
                type(exc).__name__,
                extra={"outcome": "relay_pass_failed"},
            )
            report = RelayReport()
        total.merge(report)
        if on_report is not None and report.taken:
            on_report(report)
        if report.taken < limit:
            # Nothing more pending for now: wait for the next poll, or for stop.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval)
    return total

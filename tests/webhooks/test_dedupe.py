"""MemoryNotificationLedger: forward-only records, bounded memory, expected trades."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payermax_async import ConfigurationError, PayoutOrder, PayoutStatus, ValidationError
from payermax_async.webhooks import MemoryNotificationLedger, NotificationLedger


def _order(no: str, status: PayoutStatus) -> PayoutOrder:
    return PayoutOrder(out_trade_no=no, status=status)


def test_memory_ledger_implements_the_protocol() -> None:
    """The in-memory ledger satisfies the NotificationLedger protocol the stores also implement."""
    assert isinstance(MemoryNotificationLedger(), NotificationLedger)
    assert not isinstance(object(), NotificationLedger)


async def test_unknown_payout_has_no_record() -> None:
    """A payout never notified has no last status and no expected trade."""
    ledger = MemoryNotificationLedger()
    assert await ledger.last_notified("PO1") is None
    assert await ledger.expected_trade("PO1") is None
    assert len(ledger) == 0  # reading does not create entries


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        ([PayoutStatus.PENDING, PayoutStatus.SUCCESS], PayoutStatus.SUCCESS),
        ([PayoutStatus.SUCCESS, PayoutStatus.PENDING], PayoutStatus.SUCCESS),
        ([PayoutStatus.SUCCESS, PayoutStatus.BOUNCEBACK], PayoutStatus.BOUNCEBACK),
        ([PayoutStatus.BOUNCEBACK, PayoutStatus.SUCCESS], PayoutStatus.BOUNCEBACK),
        ([PayoutStatus.FAILED, PayoutStatus.SUCCESS], PayoutStatus.FAILED),
    ],
)
async def test_mark_notified_is_forward_only(
    sequence: list[PayoutStatus], final: PayoutStatus
) -> None:
    """A late or backward status never overwrites the recorded one; SUCCESS → BOUNCEBACK advances."""
    ledger = MemoryNotificationLedger()
    for status in sequence:
        await ledger.mark_notified("PO1", _order("PO1", status))
    assert await ledger.last_notified("PO1") is final


async def test_least_recently_used_payout_is_forgotten_first() -> None:
    """The ledger holds at most max_entries payouts and evicts the one untouched longest."""
    ledger = MemoryNotificationLedger(max_entries=2)
    await ledger.mark_notified("A", _order("A", PayoutStatus.SUCCESS))
    await ledger.mark_notified("B", _order("B", PayoutStatus.SUCCESS))
    assert await ledger.last_notified("A") is PayoutStatus.SUCCESS  # A is now the most recent
    await ledger.mark_notified("C", _order("C", PayoutStatus.SUCCESS))
    assert len(ledger) == 2
    assert await ledger.last_notified("B") is None
    assert await ledger.last_notified("A") is PayoutStatus.SUCCESS
    assert await ledger.last_notified("C") is PayoutStatus.SUCCESS


async def test_expected_trade_round_trips_as_decimal() -> None:
    """expect_trade records (amount, currency) with the amount as Decimal, kept alongside the status."""
    ledger = MemoryNotificationLedger()
    await ledger.expect_trade("PO1", "150000.00", "IDR")
    await ledger.mark_notified("PO1", _order("PO1", PayoutStatus.PENDING))
    assert await ledger.expected_trade("PO1") == (Decimal("150000.00"), "IDR")
    assert await ledger.last_notified("PO1") is PayoutStatus.PENDING


async def test_expect_trade_refuses_floats() -> None:
    """A float amount is refused: money is never a float."""
    ledger = MemoryNotificationLedger()
    with pytest.raises(ValidationError):
        await ledger.expect_trade("PO1", 0.1, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, -1, True, 1.5])
def test_max_entries_validated(size: object) -> None:
    """A non-positive or non-int bound is a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        MemoryNotificationLedger(max_entries=size)  # type: ignore[arg-type]

"""Idempotency stores: the journal that makes payouts exactly-once (see ``base`` for the states)."""

from __future__ import annotations

from ._journal import JournalStore
from .base import (
    OPEN_STATES,
    Claim,
    ClaimOutcome,
    DeliveryOutcome,
    OpenRecords,
    PayoutRecord,
    RecordState,
)
from .memory import MemoryStore
from .postgres import PostgresStore, Reserved
from .protocol import IdempotencyStore
from .redis import RedisStore
from .sqlite import SQLiteStore

__all__ = [
    "OPEN_STATES",
    "Claim",
    "ClaimOutcome",
    "DeliveryOutcome",
    "IdempotencyStore",
    "JournalStore",
    "MemoryStore",
    "OpenRecords",
    "PayoutRecord",
    "PostgresStore",
    "RecordState",
    "RedisStore",
    "Reserved",
    "SQLiteStore",
]

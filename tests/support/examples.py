"""Helpers for the example tests: where the examples are, and a Redis key prefix of their own.

The sandbox's notifications reach the FastAPI example, tested in-process, through the
``payermax_webhook_relay`` fixture that payermax-async's pytest plugin provides to every suite.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.support.redis import REDIS_URL, redis_cleanup, redis_or_skip

__all__ = ["EXAMPLES", "REDIS_URL", "redis_cleanup", "redis_prefix_or_skip"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def redis_prefix_or_skip() -> str:
    """A fresh key prefix on the test Redis; skip (or fail under PAYERMAX_REQUIRE_REDIS=1) if none."""
    await redis_or_skip()
    return f"payermax-example-test:{uuid.uuid4().hex}:"

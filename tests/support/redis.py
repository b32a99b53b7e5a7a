"""A real Redis for the tests: where it is, skip (or fail under PAYERMAX_REQUIRE_REDIS=1), clean up."""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("PAYERMAX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_or_skip() -> None:
    """Skip when no Redis answers, unless PAYERMAX_REQUIRE_REDIS=1 (then fail)."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_REDIS") == "1":
            pytest.fail(f"PAYERMAX_REQUIRE_REDIS=1 but Redis at {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    finally:
        await client.aclose()


async def redis_cleanup(prefix: str) -> None:
    """Delete every key under ``prefix``."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()

"""A real RabbitMQ for the tests: where it is, skip (or fail under PAYERMAX_REQUIRE_RABBITMQ=1), clean up."""

from __future__ import annotations

import os

import pytest

AMQP_URL = os.environ.get("PAYERMAX_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def rabbitmq_or_skip() -> None:
    """Skip when no broker answers, unless PAYERMAX_REQUIRE_RABBITMQ=1 (then fail)."""
    import aio_pika

    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=3)
    except Exception as exc:
        if os.environ.get("PAYERMAX_REQUIRE_RABBITMQ") == "1":
            pytest.fail(
                f"PAYERMAX_REQUIRE_RABBITMQ=1 but RabbitMQ at {AMQP_URL} does not answer: {exc}"
            )
        pytest.skip(f"no RabbitMQ at {AMQP_URL}")
    await connection.close()


async def delete_queues(*names: str) -> None:
    """Delete the named queues (those that exist)."""
    import aio_pika

    async with await aio_pika.connect(AMQP_URL) as connection:
        for name in names:
            channel = await connection.channel()
            await channel.queue_delete(name)

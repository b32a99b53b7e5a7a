"""Fixtures for the example tests: a loopback relay that lets the sandbox's webhooks reach an ASGI app.

FastAPI apps are tested in-process through ``httpx.ASGITransport`` (no server, no uvicorn). The sandbox
delivers notifications over real HTTP, so a tiny aiohttp server on 127.0.0.1 passes each delivery's
exact bytes and ``sign`` header on to the app through the same transport, and its answer back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from tests.support.redis import REDIS_URL, redis_cleanup, redis_or_skip

__all__ = ["EXAMPLES", "REDIS_URL", "AsgiRelay", "redis_cleanup", "redis_prefix_or_skip"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class AsgiRelay:
    """Forwards POSTs received on loopback to ``target`` (an httpx client bound to an ASGI app)."""

    def __init__(self) -> None:
        self.target: httpx.AsyncClient | None = None
        self.url = ""
        self.forwarded = 0

    async def handle(self, request: web.Request) -> web.Response:
        """Relay one request byte for byte; 503 while no app is attached."""
        if self.target is None:
            return web.Response(status=503)
        body = await request.read()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("sign", "content-type")
        }
        answer = await self.target.request(
            request.method, request.path, content=body, headers=headers
        )
        self.forwarded += 1
        return web.Response(
            status=answer.status_code,
            body=answer.content,
            headers={"Content-Type": answer.headers.get("content-type", "application/json")},
        )


@pytest.fixture
async def asgi_relay() -> AsyncIterator[AsgiRelay]:
    """A started relay on a free loopback port (``relay.url`` is its origin)."""
    relay = AsgiRelay()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", relay.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    relay.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield relay
    await runner.cleanup()


async def redis_prefix_or_skip() -> str:
    """A fresh key prefix on the test Redis; skip (or fail under PAYERMAX_REQUIRE_REDIS=1) if none."""
    await redis_or_skip()
    return f"payermax-example-test:{uuid.uuid4().hex}:"

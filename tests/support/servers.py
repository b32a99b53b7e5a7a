"""Real servers on loopback for the webhook tests: an aiohttp application, an ASGI app under uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


@asynccontextmanager
async def running_uvicorn(app: Callable[..., Any]) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn (h11) on a loopback socket bound here; yield its port.

    uvicorn comes with the ``test`` extra; without it this fails loudly instead of skipping.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # connections queue here until uvicorn accepts them: no start-up polling
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", http="h11", ws="none", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def running_aiohttp(app: web.Application) -> AsyncIterator[int]:
    """Serve ``app`` with aiohttp's own server on a free loopback port; yield the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()

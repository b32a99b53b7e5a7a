"""asgi_app under real ASGI servers over loopback HTTP: bare uvicorn, and mounted in FastAPI.

uvicorn and FastAPI are not dependencies of payermax-async, but the ``test`` extra installs both, so
these tests run (and fail, never skip, when either is missing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from payermax_async import PayoutStatus, WebhookVerifier
from payermax_async.webhooks import ACK, asgi_app
from tests.support.recorder import Recorder
from tests.support.servers import running_uvicorn
from tests.support.webhooks import Sign, notification


@asynccontextmanager
async def running(app: Callable[..., Any]) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on loopback; yield its base URL."""
    async with running_uvicorn(app) as port:
        yield f"http://127.0.0.1:{port}"


async def _post(url: str, body: bytes, sign: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers={"sign": sign, "Content-Type": "application/json"}
        ) as response,
    ):
        return response.status, await response.read()


async def test_bare_uvicorn_serves_the_asgi_app(verifier: WebhookVerifier, sign: Sign) -> None:
    """Under uvicorn alone (with lifespan on), deliveries are verified, deduplicated and acked."""
    recorder = Recorder()
    async with running(asgi_app(verifier, recorder)) as base:
        body, signature = sign(notification())
        assert await _post(f"{base}/any/path", body, signature) == (200, ACK)
        assert await _post(f"{base}/any/path", body, signature) == (200, ACK)
        forged = body.replace(b"SUCCESS", b"FAILED")
        status, reply = await _post(f"{base}/any/path", forged, signature)
        assert status == 401
        assert reply != ACK
    assert recorder.statuses == [PayoutStatus.SUCCESS]


async def test_fastapi_route_and_mount(verifier: WebhookVerifier, sign: Sign) -> None:
    """In FastAPI the app works as an exact-path route and mounted under a prefix."""
    fastapi = pytest.importorskip("fastapi")
    routing = pytest.importorskip("starlette.routing")
    recorder = Recorder()
    notify = asgi_app(verifier, recorder)
    app = fastapi.FastAPI()
    app.router.routes.append(routing.Route("/payermax/notify", notify, methods=["POST"]))
    app.mount("/hooks", notify)

    async with running(app) as base:
        first, first_sign = sign(notification("PO_ROUTE"))
        assert await _post(f"{base}/payermax/notify", first, first_sign) == (200, ACK)
        second, second_sign = sign(notification("PO_MOUNT"))
        assert await _post(f"{base}/hooks/payermax", second, second_sign) == (200, ACK)
        status, _ = await _post(
            f"{base}/payermax/notify", first.replace(b"IDR", b"USD"), first_sign
        )
        assert status == 401
        # Mounted at an exact path, Starlette redirects it to the trailing-slash form (307):
        # why the README tells users to mount at a prefix or use a Route.
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base}/hooks", data=b"{}", allow_redirects=False) as response,
        ):
            assert response.status == 307
    assert recorder.delivered == [
        ("PO_ROUTE", PayoutStatus.SUCCESS),
        ("PO_MOUNT", PayoutStatus.SUCCESS),
    ]

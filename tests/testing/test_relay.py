"""The ``payermax_webhook_relay`` fixture: the sandbox's notifications reach in-process apps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from fastapi import FastAPI, Request

from payermax_async import (
    ConfigurationError,
    PayerMaxClient,
    PayoutStatus,
    WebhookVerifier,
    generate_keypair,
)
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from payermax_async.testing.relay import WebhookRelay
from payermax_async.webhooks import ACK, aiohttp_handler, asgi_app
from tests.support.recorder import Recorder
from tests.support.sandbox import payout

PATH = "/payermax/notify"


async def pay(gateway: SandboxGateway, number: str, notify_url: str, **extra: str) -> None:
    """One payout through the sandbox with ``notify_url``, then every notification delivered."""
    async with PayerMaxClient(gateway.config(), retry=fast_retry_policy()) as client:
        await client.payouts.create(payout(number, notifyUrl=notify_url, **extra))
    await gateway.settle()


async def test_notifications_reach_an_asgi_app(
    payermax_sandbox: SandboxGateway, payermax_webhook_relay: WebhookRelay
):
    """A bare ``webhooks.asgi_app`` behind the relay gets both notifications and acknowledges them."""
    recorder = Recorder()
    verifier = WebhookVerifier.from_config(payermax_sandbox.config())
    await payermax_webhook_relay.attach(asgi_app(verifier, recorder))
    await pay(
        payermax_sandbox, "relay_asgi_1", payermax_webhook_relay.url_for(PATH), remark="BOUNCEBACK"
    )
    assert recorder.statuses == [PayoutStatus.SUCCESS, PayoutStatus.BOUNCEBACK]
    assert [d.acked for d in payermax_sandbox.notifications] == [True, True]
    assert payermax_webhook_relay.forwarded == 2


async def test_notifications_reach_an_aiohttp_application_with_its_cleanup_ctx(
    payermax_sandbox: SandboxGateway, payermax_webhook_relay: WebhookRelay
):
    """An aiohttp application is served for the relay: its start-up runs, then its clean-up."""
    events: list[str] = []
    recorder = Recorder()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("cleaned up")

    app = web.Application()
    app.cleanup_ctx.append(lifecycle)
    verifier = WebhookVerifier.from_config(payermax_sandbox.config())
    app.router.add_post(PATH, aiohttp_handler(verifier, recorder))
    await payermax_webhook_relay.attach(app)
    await pay(payermax_sandbox, "relay_aio_1", payermax_webhook_relay.url_for(PATH))
    assert recorder.statuses == [PayoutStatus.SUCCESS]
    assert [d.acked for d in payermax_sandbox.notifications] == [True]
    await payermax_webhook_relay.detach()
    assert events == ["started", "cleaned up"]


async def test_a_fastapi_app_runs_its_lifespan_and_sees_its_state(
    payermax_sandbox: SandboxGateway, payermax_webhook_relay: WebhookRelay
):
    """With ``lifespan=True`` the app's start-up state reaches its routes; detach shuts it down."""
    verifier = WebhookVerifier.from_config(payermax_sandbox.config())
    seen: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        yield {"greeting": "started"}
        seen.append("shut down")

    app = FastAPI(lifespan=lifespan)

    @app.get("/state")
    async def state(request: Request) -> dict[str, object]:
        return {"greeting": request.state.greeting}

    recorder = Recorder()
    app.mount("/payermax", asgi_app(verifier, recorder))
    await payermax_webhook_relay.attach(app, lifespan=True)
    async with (
        aiohttp.ClientSession() as http,
        http.get(payermax_webhook_relay.url_for("/state")) as answer,
    ):
        assert await answer.json() == {"greeting": "started"}
    await pay(payermax_sandbox, "relay_fastapi_1", payermax_webhook_relay.url_for(PATH))
    assert recorder.statuses == [PayoutStatus.SUCCESS]
    await payermax_webhook_relay.detach()
    assert seen == ["shut down"]


async def test_answers_pass_through_unchanged(payermax_webhook_relay: WebhookRelay):
    """The app's status and body come back as they are: a forged notification is the app's 401."""
    verifier = WebhookVerifier(generate_keypair().public_key)
    await payermax_webhook_relay.attach(asgi_app(verifier, Recorder()))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            payermax_webhook_relay.url_for(PATH),
            data=b'{"notifyType":"PAYOUT"}',
            headers={"sign": "AAAA"},
        ) as answer,
    ):
        assert answer.status == 401
        assert await answer.read() != ACK


async def test_nothing_attached_is_503_and_a_failing_app_is_500(
    payermax_webhook_relay: WebhookRelay,
):
    """No app yet: 503 (the sandbox retries later); an app that raises: 500 without a traceback."""
    async with aiohttp.ClientSession() as http:
        async with http.post(payermax_webhook_relay.url_for(PATH), data=b"{}") as answer:
            assert answer.status == 503

        async def broken(scope: object, receive: object, send: object) -> None:
            msg = "secret traceback detail"
            raise ValueError(msg)

        await payermax_webhook_relay.attach(broken)
        async with http.post(payermax_webhook_relay.url_for(PATH), data=b"{}") as answer:
            assert answer.status == 500
            assert "secret" not in await answer.text()
    assert payermax_webhook_relay.forwarded == 1


async def test_a_failing_lifespan_start_up_is_reported():
    """An app whose start-up fails makes ``attach`` raise a PayerMaxError saying so."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        msg = "database unreachable"
        raise OSError(msg)
        yield  # pragma: no cover

    async with WebhookRelay() as relay:
        with pytest.raises(ConfigurationError, match="lifespan startup failed"):
            await relay.attach(FastAPI(lifespan=lifespan), lifespan=True)


async def test_url_before_start_is_refused():
    """The relay has no URL until it listens."""
    with pytest.raises(ConfigurationError, match="not started"):
        _ = WebhookRelay().url

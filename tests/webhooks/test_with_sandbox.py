"""The webhook adapters against the sandbox's real notification sender, sharing the client's journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from payermax_async import (
    KeyPair,
    PayerMaxClient,
    PayoutNotification,
    PayoutStatus,
    SQLiteStore,
    WebhookVerifier,
    webhooks,
)
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from payermax_async.webhooks.aiohttp import AiohttpHandler
from tests.support.sandbox import payout


@pytest.fixture
async def sandbox(merchant_keys: KeyPair, platform_keys: KeyPair) -> AsyncIterator[SandboxGateway]:
    """A sandbox whose notification retries are scaled down to milliseconds."""
    async with SandboxGateway(
        merchant_keys=merchant_keys, platform_keys=platform_keys, time_scale=1e-5
    ) as gateway:
        yield gateway


async def _serve(handler: AiohttpHandler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/payermax/notify", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/payermax/notify"


async def test_sandbox_notifications_reach_the_callback_once_each_in_forward_order(
    sandbox: SandboxGateway, tmp_path: Path
) -> None:
    """Real deliveries (duplicates forced) reach the callback once per forward status, are all
    acknowledged, and advance the client's SQLite journal."""
    seen: list[tuple[str, PayoutStatus]] = []

    async def on_notification(notification: PayoutNotification) -> None:
        seen.append((notification.data.out_trade_no, notification.data.status))

    async with SQLiteStore(tmp_path / "journal.db") as store:
        verifier = WebhookVerifier.from_config(sandbox.config())
        runner, url = await _serve(
            webhooks.aiohttp_handler(verifier, on_notification, dedupe=store)
        )
        try:
            async with PayerMaxClient(
                sandbox.config(), store=store, retry=fast_retry_policy()
            ) as client:
                await client.payouts.create(payout("wh_ok") | {"notifyUrl": url})
                await client.payouts.create(payout("wh_fail", amount="11000") | {"notifyUrl": url})
                await client.payouts.create(
                    payout("wh_back") | {"notifyUrl": url, "remark": "BOUNCEBACK"}
                )
                await sandbox.settle()
                for number in ("wh_ok", "wh_fail", "wh_back"):
                    await sandbox.deliver_again(number)
                await sandbox.settle()
            records = {no: await store.get(no) for no in ("wh_ok", "wh_fail", "wh_back")}
        finally:
            await runner.cleanup()

    by_order = {no: [status for n, status in seen if n == no] for no in records}
    assert by_order == {
        "wh_ok": [PayoutStatus.SUCCESS],
        "wh_fail": [PayoutStatus.FAILED],
        "wh_back": [PayoutStatus.SUCCESS, PayoutStatus.BOUNCEBACK],
    }
    assert sandbox.notifications, "the sandbox sent nothing"
    assert all(delivery.acked for delivery in sandbox.notifications)
    assert len(sandbox.notifications) == len(seen) + 3  # each forced repeat acked, not delivered
    assert {no: record.status for no, record in records.items() if record} == {
        "wh_ok": PayoutStatus.SUCCESS,
        "wh_fail": PayoutStatus.FAILED,
        "wh_back": PayoutStatus.BOUNCEBACK,
    }


async def test_a_failing_callback_is_retried_by_the_sandbox_until_it_succeeds(
    sandbox: SandboxGateway,
) -> None:
    """The handler answers 500 while the callback raises; the sandbox's retry then gets the ACK."""
    calls: list[PayoutStatus] = []

    async def flaky(notification: PayoutNotification) -> None:
        calls.append(notification.data.status)
        if len(calls) == 1:
            msg = "database briefly unavailable"
            raise RuntimeError(msg)

    verifier = WebhookVerifier.from_config(sandbox.config())
    runner, url = await _serve(webhooks.aiohttp_handler(verifier, flaky))
    try:
        async with PayerMaxClient(sandbox.config(), retry=fast_retry_policy()) as client:
            await client.payouts.create(payout("wh_flaky") | {"notifyUrl": url})
            await sandbox.settle()
    finally:
        await runner.cleanup()
    attempts = [d for d in sandbox.notifications if d.out_trade_no == "wh_flaky"]
    assert [d.http_status for d in attempts] == [500, 200]
    assert attempts[-1].acked
    assert calls == [PayoutStatus.SUCCESS, PayoutStatus.SUCCESS]


async def test_a_notification_signed_with_another_key_is_refused(
    sandbox: SandboxGateway, platform_keys: KeyPair
) -> None:
    """A receiver configured with someone else's platform key answers 401 and never calls back."""
    from payermax_async import generate_keypair

    called: list[object] = []

    async def on_notification(notification: PayoutNotification) -> None:
        called.append(notification)

    verifier = WebhookVerifier(generate_keypair().public_key)
    runner, url = await _serve(webhooks.aiohttp_handler(verifier, on_notification))
    try:
        async with PayerMaxClient(sandbox.config(), retry=fast_retry_policy()) as client:
            await client.payouts.create(payout("wh_forged") | {"notifyUrl": url})
            await sandbox.settle()
    finally:
        await runner.cleanup()
    attempts = [d for d in sandbox.notifications if d.out_trade_no == "wh_forged"]
    assert attempts
    assert {d.http_status for d in attempts} == {401}
    assert called == []

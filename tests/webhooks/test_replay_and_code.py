"""Signed notifications that must still not be acted on: replays (opt-in max_age) and a code other
than APPLY_SUCCESS. Through WebhookVerifier and both adapters over real servers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from payermax_async import (
    ConfigurationError,
    KeyPair,
    PayoutStatus,
    ValidationError,
    WebhookVerifier,
)
from payermax_async.errors import SuspiciousNotificationError
from payermax_async.webhooks import ACK, aiohttp_handler, asgi_app
from tests.support.recorder import Recorder
from tests.support.servers import running_aiohttp, running_uvicorn
from tests.support.webhooks import APP_ID, MERCHANT_NO, Sign, notification

DAY = timedelta(hours=24)


ISO = "%Y-%m-%dT%H:%M:%S.000+00:00"


def _at(moment: datetime, spelling: str = ISO) -> str:
    return moment.astimezone(timezone.utc).strftime(spelling)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def fresh_only(platform_keys: KeyPair) -> WebhookVerifier:
    """A verifier that refuses notifications older than a day."""
    return WebhookVerifier(
        platform_keys.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID, max_age=DAY
    )


@pytest.mark.parametrize(
    ("offset", "spelling"),
    [
        (timedelta(minutes=-1), ISO),
        (timedelta(hours=-13), ISO),  # PayerMax's last retry comes about 12-13 h later
        (timedelta(hours=-2), "%Y-%m-%dT%H:%M:%S +0000"),  # PayerMax's spaced form
        (timedelta(hours=-2), "%Y-%m-%d %H:%M:%S"),  # no offset: taken as UTC
        (timedelta(minutes=2), ISO),  # a clock a little ahead
    ],
    ids=["1-min", "13-h", "spaced-offset", "no-offset", "2-min-ahead"],
)
async def test_a_notification_within_max_age_is_accepted(
    fresh_only: WebhookVerifier, sign: Sign, offset: timedelta, spelling: str
) -> None:
    """notifyTime within the window, in any of PayerMax's spellings, passes."""
    body, signature = sign(notification(notifyTime=_at(_now() + offset, spelling)))
    parsed = await fresh_only.verify(body, signature)
    assert parsed.data.status is PayoutStatus.SUCCESS


@pytest.mark.parametrize(
    ("notify_time", "problem"),
    [
        ("2019-03-12T02:37:37.000+00:00", "old"),
        (timedelta(hours=-25), "old"),
        (timedelta(hours=1), "future"),
        ("", "missing or unreadable"),
        ("yesterday", "missing or unreadable"),
        (None, "missing or unreadable"),
    ],
    ids=["years-old", "25-h", "1-h-ahead", "empty", "garbage", "absent"],
)
async def test_a_replayed_or_undated_notification_is_refused(
    fresh_only: WebhookVerifier, sign: Sign, notify_time: str | timedelta | None, problem: str
) -> None:
    """A genuine signature on a notification outside max_age (or without a usable notifyTime) is
    SuspiciousNotificationError on field notifyTime."""
    if isinstance(notify_time, timedelta):
        notify_time = _at(_now() + notify_time)
    document = notification(notifyTime=notify_time)
    if notify_time is None:
        del document["notifyTime"]
    body, signature = sign(document)
    with pytest.raises(SuspiciousNotificationError, match=problem) as info:
        await fresh_only.verify(body, signature)
    assert info.value.field == "notifyTime"
    assert isinstance(info.value, ValidationError)


async def test_without_max_age_an_old_notification_still_verifies(
    verifier: WebhookVerifier, sign: Sign
) -> None:
    """Freshness is opt-in: the default verifier checks no age (compatible with earlier releases)."""
    body, signature = sign(notification(notifyTime="2019-03-12T02:37:37.000+00:00"))
    assert (await verifier.verify(body, signature)).data.out_trade_no == "PO20261129000001"
    assert verifier.max_age is None


@pytest.mark.parametrize("bad", [timedelta(0), timedelta(hours=-1), 3600, "13h", True])
def test_max_age_is_validated(platform_keys: KeyPair, bad: Any) -> None:
    """max_age must be a positive timedelta (or None)."""
    with pytest.raises(ConfigurationError, match="max_age"):
        WebhookVerifier(platform_keys.public_key, max_age=bad)


@pytest.mark.parametrize("code", ["SYSTEM_ERROR", "", "apply_success", 0, None])
async def test_a_signed_notification_whose_code_is_not_success_is_refused(
    verifier: WebhookVerifier, sign: Sign, code: object
) -> None:
    """code other than APPLY_SUCCESS (or missing) is SuspiciousNotificationError on field code,
    even though the signature is PayerMax's."""
    document = notification(code=code)
    if code is None:
        del document["code"]
    body, signature = sign(document)
    with pytest.raises(SuspiciousNotificationError, match="code") as info:
        await verifier.verify(body, signature)
    assert info.value.field == "code"


# ------------------------------------------------------------------------------- the adapters


async def _post(url: str, body: bytes, sign: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={"sign": sign}) as response,
    ):
        return response.status, await response.read()


@pytest.mark.parametrize("kind", ["aiohttp", "asgi"])
@pytest.mark.parametrize(
    "change",
    [{"notifyTime": "2019-03-12T02:37:37.000+00:00"}, {"code": "SYSTEM_ERROR"}],
    ids=["replay", "code"],
)
async def test_the_adapters_answer_400_and_log_a_security_event(
    kind: str,
    fresh_only: WebhookVerifier,
    sign: Sign,
    change: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both adapters answer 400 NOTIFICATION_REFUSED to a replayed or unsuccessful notification,
    never call the app, log a "security:" warning, and still acknowledge a fresh one."""
    caplog.set_level(logging.WARNING, logger="payermax_async.webhooks")
    recorder = Recorder()
    stale, stale_sign = sign(notification("PO_OLD", **change))
    fresh, fresh_sign = sign(notification("PO_NEW", notifyTime=_at(_now())))
    if kind == "aiohttp":
        app = web.Application()
        app.router.add_post("/notify", aiohttp_handler(fresh_only, recorder))
        server = running_aiohttp(app)
    else:
        pytest.importorskip("uvicorn")
        server = running_uvicorn(asgi_app(fresh_only, recorder))
    async with server as port:
        url = f"http://127.0.0.1:{port}/notify"
        status, answer = await _post(url, stale, stale_sign)
        assert (status, b"NOTIFICATION_REFUSED" in answer) == (400, True)
        assert await _post(url, fresh, fresh_sign) == (200, ACK)
    assert recorder.delivered == [("PO_NEW", PayoutStatus.SUCCESS)]
    security = [r for r in caplog.records if r.getMessage().startswith("security:")]
    assert len(security) == 1
    assert "PO_OLD" not in security[0].getMessage()

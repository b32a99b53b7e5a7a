"""Signed ``PAYOUT`` result notifications, POSTed to the order's ``notifyUrl`` with PayerMax's retries.

PayerMax retries a notification on the schedule 0 s, 30 s, 5 min, 10 min, 1 h, 12 h until the merchant
answers HTTP 200 with a JSON body whose ``code`` is ``SUCCESS`` (docs/protocol.md §7). PayerMax's text
does not say whether those are offsets from the first attempt or gaps between attempts; the sandbox
**[decided]** takes them as gaps (:data:`NOTIFY_SCHEDULE`): each is the wait before an attempt, counted
from the previous attempt (the first from the status change), so the attempts happen at the offsets
:data:`NOTIFY_OFFSETS` = 0 s, 30 s, 5 min 30 s, 15 min 30 s, 1 h 15 min 30 s and 13 h 15 min 30 s.
The sandbox multiplies the gaps by ``time_scale`` so tests run in milliseconds. It only ever posts to
loopback addresses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
import attrs

from .._config import is_loopback_host
from ..models.payouts import PayoutStatus
from ..signing import RsaSigner
from ._tasks import TaskTracker
from .ledger import SandboxOrder, format_wire_time

__all__ = ["NOTIFY_OFFSETS", "NOTIFY_SCHEDULE", "Delivery", "Notifier", "is_loopback_url"]

#: The gaps: seconds waited before each delivery attempt, counted from the previous attempt (the
#: first from the status change), before ``time_scale``.
NOTIFY_SCHEDULE: tuple[float, ...] = (0.0, 30.0, 300.0, 600.0, 3600.0, 43200.0)
#: The same schedule as offsets: seconds from the status change to each attempt.
NOTIFY_OFFSETS: tuple[float, ...] = tuple(itertools.accumulate(NOTIFY_SCHEDULE))
#: How long the sandbox waits for the merchant's reply to one delivery.
DELIVERY_TIMEOUT = aiohttp.ClientTimeout(total=10.0)
_MAX_REPLY_BYTES = 64 * 1024


@attrs.frozen
class Delivery:
    """One delivery attempt of a notification (``gw.notifications``).

    Attributes:
        out_trade_no: the payout it is about.
        status: the payout status it announced.
        attempt: 1 for the first attempt of this notification, counting up (forced repeats included).
        http_status: the merchant's HTTP status, ``None`` when no answer arrived.
        acked: whether the merchant answered HTTP 200 with ``{"code":"SUCCESS",...}``.
        at: when the attempt was made (the gateway's clock).
        error: why no answer arrived (connection refused, timeout, not a loopback URL), else ``None``.
    """

    out_trade_no: str
    status: PayoutStatus
    attempt: int
    http_status: int | None
    acked: bool
    at: datetime
    error: str | None = None


@attrs.define
class _Notification:
    out_trade_no: str
    status: PayoutStatus
    url: str
    body: bytes
    sign: str
    attempts: int = 0


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is http(s) to 127.0.0.0/8, ::1 or localhost: the only places the sandbox posts."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and is_loopback_host(host)


def _acknowledged(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and document.get("code") == "SUCCESS"


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The reply body, cut at ``_MAX_REPLY_BYTES`` (an acknowledgement is a few bytes)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(8192):
        size += len(chunk)
        if size > _MAX_REPLY_BYTES:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class Notifier:
    """Builds, signs and delivers notifications for one sandbox gateway."""

    def __init__(
        self,
        *,
        signer: RsaSigner,
        app_id: str,
        merchant_no: str,
        time_scale: float,
        clock: Callable[[], datetime],
        tasks: TaskTracker,
    ) -> None:
        self._signer = signer
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._time_scale = time_scale
        self._clock = clock
        self._tasks = tasks
        self._session: aiohttp.ClientSession | None = None
        self._latest: dict[str, _Notification] = {}
        self.deliveries: list[Delivery] = []

    async def aclose(self) -> None:
        """Close the HTTP session (the caller has already cancelled the delivery tasks)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=DELIVERY_TIMEOUT)
        return self._session

    def body_for(self, order: SandboxOrder) -> bytes:
        """The notification body for the order's current state (compact JSON, docs/protocol.md §7)."""
        document = {
            "code": "APPLY_SUCCESS",
            "msg": "Success.",
            "keyVersion": "1",
            "appId": self._app_id,
            "merchantNo": self._merchant_no,
            "notifyTime": format_wire_time(self._clock()),
            "notifyType": "PAYOUT",
            "data": order.to_wire(),
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def notify(self, order: SandboxOrder) -> None:
        """Announce the order's current status: schedule its deliveries on the scaled schedule."""
        if order.notify_url is None:
            return
        body = self.body_for(order)
        notification = _Notification(
            out_trade_no=order.out_trade_no,
            status=order.status,
            url=order.notify_url,
            body=body,
            sign=self._signer.sign_sync(body),
        )
        self._latest[order.out_trade_no] = notification
        if not is_loopback_url(order.notify_url):
            # The sandbox never talks to the network: the attempt is logged as refused instead.
            self._log(notification, None, acked=False, error="notifyUrl is not a loopback address")
            return
        self._tasks.spawn(
            self._deliver(notification), name=f"payermax-sandbox-notify-{order.status.value}"
        )

    async def _deliver(self, notification: _Notification) -> None:
        for pause in NOTIFY_SCHEDULE:  # gaps: each wait counts from the previous attempt
            await asyncio.sleep(pause * self._time_scale)
            if (await self._attempt(notification)).acked:
                return

    async def _attempt(self, notification: _Notification) -> Delivery:
        headers = {"Content-Type": "application/json", "sign": notification.sign}
        try:
            async with self._get_session().post(
                notification.url, data=notification.body, headers=headers, allow_redirects=False
            ) as response:
                reply = await _read_limited(response)
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return self._log(notification, None, acked=False, error=type(exc).__name__)
        return self._log(notification, status, acked=_acknowledged(status, reply))

    def _log(
        self,
        notification: _Notification,
        http_status: int | None,
        *,
        acked: bool,
        error: str | None = None,
    ) -> Delivery:
        notification.attempts += 1
        delivery = Delivery(
            out_trade_no=notification.out_trade_no,
            status=notification.status,
            attempt=notification.attempts,
            http_status=http_status,
            acked=acked,
            at=self._clock(),
            error=error,
        )
        self.deliveries.append(delivery)
        return delivery

    async def deliver_again(self, out_trade_no: str) -> Delivery:
        """Send the latest notification of a payout once more, byte for byte (a duplicate).

        Raises:
            KeyError: no notification was ever made for this payout.
        """
        notification = self._latest.get(out_trade_no)
        if notification is None:
            msg = f"no notification has been sent for …{out_trade_no[-4:]}"
            raise KeyError(msg)
        if not is_loopback_url(notification.url):
            return self._log(
                notification, None, acked=False, error="notifyUrl is not a loopback address"
            )
        return await self._attempt(notification)

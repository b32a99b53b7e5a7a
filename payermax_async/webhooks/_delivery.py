"""What both HTTP adapters do with a received notification: verify, check, deduplicate, deliver, ack.

The adapters only move bytes (reading the body up to the size cap, writing the reply); every decision
about a notification is made here, once, so aiohttp and ASGI answer exactly alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal

import attrs

from .._redact import mask
from ..errors import (
    ConfigurationError,
    SuspiciousNotificationError,
    ValidationError,
    WebhookSignatureError,
)
from ..models.notifications import PayoutNotification
from ..models.payouts import PayoutOrder, is_forward
from ..protocol.content_coding import ContentCodingError, decode_content
from ..stores.base import DeliveryOutcome
from .dedupe import MemoryNotificationLedger, NotificationLedger
from .verifier import WebhookVerifier

__all__ = ["ACK", "DEFAULT_READ_TIMEOUT", "NotificationCallback", "NotificationReceiver", "Reply"]

logger = logging.getLogger("payermax_async.webhooks")

#: The exact body PayerMax expects back; anything else counts as "not delivered" and is retried.
ACK = b'{"code":"SUCCESS","msg":"Success"}'

#: Seconds a sender has to deliver the whole body before the adapters answer 408 and hang up. Real
#: notifications are 1-3 KiB and arrive in milliseconds; a client trickling bytes is cut off.
DEFAULT_READ_TIMEOUT = 10.0

#: What the app passes to receive notifications: an async function, called once per forward status.
NotificationCallback = Callable[[PayoutNotification], Awaitable[object]]


@attrs.frozen
class Reply:
    """An HTTP answer: status code and JSON body."""

    status: int
    body: bytes


def _reply(status: int, code: str, msg: str) -> Reply:
    return Reply(status, json.dumps({"code": code, "msg": msg}, separators=(",", ":")).encode())


ACKNOWLEDGED = Reply(200, ACK)
UNAUTHORIZED = _reply(401, "SIGN_INVALID", "signature verification failed")
MALFORMED = _reply(400, "NOTIFICATION_INVALID", "malformed or foreign notification")
MISMATCH = _reply(400, "TRADE_MISMATCH", "amount or currency differs from the payout sent")
REFUSED = _reply(400, "NOTIFICATION_REFUSED", "stale or unsuccessful notification")
TOO_LARGE = _reply(413, "BODY_TOO_LARGE", "notification body is too large")
TIMED_OUT = _reply(408, "REQUEST_TIMEOUT", "notification body not received in time")
UNSUPPORTED = _reply(415, "UNSUPPORTED_ENCODING", "content encoding not supported")
NOT_ALLOWED = _reply(405, "METHOD_NOT_ALLOWED", "only POST is accepted")
NOT_PROCESSED = _reply(500, "NOT_PROCESSED", "notification not processed; please retry")
#: How long a receiver holds a payout's delivery slot in a shared journal if it dies delivering.
_SLOT_SECONDS = 120.0


class _Slot:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class _KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it.

    The table never holds more entries than there are requests in flight, so it stays bounded however
    many payouts pass through.
    """

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
        slot.users += 1
        try:
            async with slot.lock:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[key]


def _matches(order: PayoutOrder, expected: tuple[Decimal, str]) -> bool:
    trade = order.trade
    if trade is None or trade.amount is None or trade.currency is None:
        return False
    amount, currency = expected
    # Numeric comparison: "150000" and "150000.00" are the same amount.
    return trade.amount == amount and trade.currency == currency


def _frames(exc: BaseException) -> str:
    """The traceback's frames without the exception message (which may quote payee data)."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


class NotificationReceiver:
    """Turns one received body and its ``sign`` header values into the HTTP reply.

    Args:
        verifier: checks signatures and parses notifications.
        on_notification: the app's async callback.
        dedupe: the ledger of delivered results; ``None`` means a fresh in-memory one.
        read_timeout: seconds the adapters allow for receiving the whole body (answer 408 after).

    Raises:
        ConfigurationError: an argument has the wrong type.
    """

    __slots__ = ("_callback", "_ledger", "_locks", "_owner", "_read_timeout", "_verifier")

    def __init__(
        self,
        verifier: WebhookVerifier,
        on_notification: NotificationCallback,
        dedupe: NotificationLedger | None = None,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if (
            isinstance(read_timeout, bool)
            or not isinstance(read_timeout, int | float)
            or not 0 < read_timeout < math.inf
        ):
            msg = "read_timeout must be a positive, finite number of seconds"
            raise ConfigurationError(msg)
        if not isinstance(verifier, WebhookVerifier):
            msg = f"verifier must be a WebhookVerifier, not {type(verifier).__name__}"
            raise ConfigurationError(msg)
        if not callable(on_notification):
            msg = "on_notification must be an async callable taking a PayoutNotification"
            raise ConfigurationError(msg)
        if dedupe is not None and not isinstance(dedupe, NotificationLedger):
            msg = (
                "dedupe must implement NotificationLedger "
                "(last_notified, mark_notified, expected_trade)"
            )
            raise ConfigurationError(msg)
        self._verifier = verifier
        self._callback = on_notification
        self._ledger: NotificationLedger = (
            dedupe if dedupe is not None else MemoryNotificationLedger()
        )
        self._locks = _KeyedLocks()
        self._read_timeout = float(read_timeout)
        # Who holds a delivery slot in a shared journal: this receiver, in this process.
        self._owner = f"webhook:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    @property
    def max_body_bytes(self) -> int:
        """The body size above which the adapters answer 413 without reading further."""
        return self._verifier.max_body_bytes

    @property
    def read_timeout(self) -> float:
        """Seconds allowed for receiving the whole body; the adapters answer 408 after it."""
        return self._read_timeout

    def decode(self, body: bytes, content_encoding: str | None) -> bytes | Reply:
        """The body with its ``Content-Encoding`` undone, capped at ``max_body_bytes`` decoded bytes.

        Returns the reply to send instead when it cannot be: 413 past the cap (the bomb is never
        inflated further), 415 for a coding other than gzip/deflate, 400 for a corrupt stream.
        """
        try:
            return decode_content(body, content_encoding, limit=self.max_body_bytes)
        except ContentCodingError as exc:
            logger.warning("notification refused: %s", exc)
            if exc.reason == "too_large":
                return TOO_LARGE
            return UNSUPPORTED if exc.reason == "unsupported" else MALFORMED

    async def handle(self, body: bytes, sign_values: Sequence[str]) -> Reply:
        """Verify, check, deduplicate and deliver one notification; never raises."""
        if len(body) > self._verifier.max_body_bytes:
            return TOO_LARGE
        if len(sign_values) > 1:
            logger.warning("notification refused (401): more than one sign header")
            return UNAUTHORIZED
        sign = sign_values[0] if sign_values else None
        try:
            notification = await self._verifier.verify(body, sign)
        except WebhookSignatureError as exc:
            logger.warning("notification refused (401): %s", exc)
            return UNAUTHORIZED
        except SuspiciousNotificationError as exc:
            # Correctly signed yet not to be acted on: a replayed old notification looks like this.
            logger.warning("security: signed notification refused (400): %s", exc)
            return REFUSED
        except ValidationError as exc:
            logger.warning("notification refused (400): %s", exc)
            return MALFORMED
        except Exception as exc:
            logger.error("notification verification failed unexpectedly: %s", type(exc).__name__)
            return NOT_PROCESSED
        out_trade_no = notification.data.out_trade_no
        try:
            return await self._deliver(notification)
        except Exception as exc:
            logger.error(
                "notification for outTradeNo %s not processed: the ledger raised %s; "
                "answered 500 so PayerMax redelivers",
                mask(out_trade_no),
                type(exc).__name__,
            )
            return NOT_PROCESSED

    async def _deliver(self, notification: PayoutNotification) -> Reply:
        order = notification.data
        out_trade_no = order.out_trade_no
        # One delivery per outTradeNo at a time in this process: two copies of one notification
        # arriving together must not both reach the callback (across hosts, the journal's delivery
        # slot does the same; see _claim_slot).
        async with self._locks.hold(out_trade_no):
            expected = await self._ledger.expected_trade(out_trade_no)
            if expected is not None and not _matches(order, expected):
                logger.warning(
                    "security: notification for outTradeNo %s names an amount or currency other "
                    "than the payout sent; refused (400) and not delivered",
                    mask(out_trade_no),
                )
                return MISMATCH
            slot = await self._claim_slot(order)
            if slot is DeliveryOutcome.BUSY:
                logger.info(
                    "notification for outTradeNo %s (%s) arrived while another receiver delivers "
                    "this payout; answered 500 so PayerMax redelivers it later",
                    mask(out_trade_no),
                    order.status.value,
                )
                return NOT_PROCESSED
            if slot is DeliveryOutcome.DUPLICATE:
                logger.debug(
                    "notification for outTradeNo %s (%s) acknowledged without delivery: not newer "
                    "than what was delivered",
                    mask(out_trade_no),
                    order.status.value,
                )
                return ACKNOWLEDGED
            delivered = False
            try:
                await self._callback(notification)
                delivered = True
            except Exception as exc:
                logger.error(
                    "on_notification raised %s for outTradeNo %s (status %s); answered 500 so "
                    "PayerMax redelivers\n%s",
                    type(exc).__name__,
                    mask(out_trade_no),
                    order.status.value,
                    _frames(exc),
                )
                return NOT_PROCESSED
            finally:
                # Recorded only after the callback: had it failed, the redelivery must reach it.
                await self._release_slot(order, delivered=delivered)
        logger.debug(
            "notification for outTradeNo %s (%s) delivered and acknowledged",
            mask(out_trade_no),
            order.status.value,
        )
        return ACKNOWLEDGED

    async def _claim_slot(self, order: PayoutOrder) -> DeliveryOutcome:
        """Decide, atomically in a shared journal, whether this status is delivered now.

        A journal store checks "does it move the payout forward?" and takes the payout's delivery
        slot in one step, so two hosts sharing it never deliver an older status after a newer one.
        A plain ledger is checked here, under this process's lock.
        """
        begin = getattr(self._ledger, "begin_delivery", None)
        if begin is not None:
            outcome: DeliveryOutcome = await begin(
                order.out_trade_no, order, owner=self._owner, lease_seconds=_SLOT_SECONDS
            )
            return outcome
        last = await self._ledger.last_notified(order.out_trade_no)
        return (
            DeliveryOutcome.DELIVER if is_forward(last, order.status) else DeliveryOutcome.DUPLICATE
        )

    async def _release_slot(self, order: PayoutOrder, *, delivered: bool) -> None:
        end = getattr(self._ledger, "end_delivery", None)
        if end is not None:
            await asyncio.shield(
                end(order.out_trade_no, order, owner=self._owner, delivered=delivered)
            )
        elif delivered:
            await self._ledger.mark_notified(order.out_trade_no, order)

"""Verifying and parsing PayerMax's payout result notifications.

A notification is trusted only after its ``sign`` header verifies over the exact bytes that arrived.
The checks run cheapest-and-safest first, so that nothing an attacker sends is parsed or costs an RSA
operation before it has to be:

1. the body is raw bytes (a ``str`` or parsed JSON is refused: it has been re-encoded already);
2. the body is at most ``max_body_bytes`` long (before any parsing or RSA);
3. the ``sign`` header is present and base64;
4. the signature verifies over the raw bytes, with the key named by the body's ``keyVersion``;
5. the body is a well-formed JSON object whose top-level ``keyVersion`` is the one whose key was used;
6. ``notifyType`` is ``PAYOUT`` and ``code`` is ``APPLY_SUCCESS``;
7. ``merchantNo`` / ``appId`` are ours (when configured);
8. ``notifyTime`` is within ``max_age`` (when configured: the opt-in defence against replays);
9. the payload has the shape of a :class:`~payermax_async.models.PayoutNotification`.

Steps 1, 3 and 4 (and a top-level ``keyVersion`` other than the one used) raise
:class:`~payermax_async.errors.WebhookSignatureError`; 2 and 5-9 raise
:class:`~payermax_async.errors.ValidationError`, the code and freshness checks its subclass
:class:`~payermax_async.errors.SuspiciousNotificationError`. The body is read by the same strict
reader as gateway answers (:mod:`payermax_async.protocol.strict_json`). Messages never quote the body
or the signature.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._redact import mask
from ..errors import (
    ConfigurationError,
    SignatureError,
    SuspiciousNotificationError,
    ValidationError,
    WebhookSignatureError,
)
from ..models._fast import structure_fast
from ..models.notifications import PayoutNotification
from ..models.values import parse_time
from ..protocol.strict_json import read_json
from ..signing import RsaVerifier, peek_key_version
from ..signing.keys import KeyMaterial

if TYPE_CHECKING:
    from .._config import PayerMaxConfig

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "NOTIFY_CODE_SUCCESS",
    "NOTIFY_TYPE_PAYOUT",
    "WebhookVerifier",
    "verify_file",
]

#: The default cap on a notification body. Real notifications are 1-3 KiB.
DEFAULT_MAX_BODY_BYTES = 65536
#: The only ``notifyType`` this verifier accepts.
NOTIFY_TYPE_PAYOUT = "PAYOUT"
#: The only ``code`` a payout notification carries (docs/protocol.md §7).
NOTIFY_CODE_SUCCESS = "APPLY_SUCCESS"
#: How far in the future a ``notifyTime`` may lie when ``max_age`` is set: clocks differ a little.
_FUTURE_SKEW = timedelta(minutes=5)
# A base64 RSA-4096 signature is 684 characters; anything far longer is not a signature and is refused
# before it is decoded.
_MAX_SIGN_CHARS = 2048


class WebhookVerifier:
    """Verifies the ``sign`` of a PayerMax notification and parses it into a typed model.

    Args:
        platform_public_key: PayerMax's public key (one-line base64, PEM, DER or a loaded key), or a
            mapping ``{keyVersion: key}`` while PayerMax rotates its key. With a mapping, only the key
            named by the body's ``keyVersion`` is tried.
        merchant_no: when given, a notification for another ``merchantNo`` is refused.
        app_id: when given, a notification for another ``appId`` is refused.
        max_body_bytes: bodies longer than this are refused before any parsing or RSA work.
        max_age: opt-in replay defence. When set, a notification whose ``notifyTime`` is older than
            this (or more than 5 minutes in the future, or missing) is refused with
            :class:`~payermax_async.errors.SuspiciousNotificationError`. PayerMax retries a delivery
            for up to 12 hours (about 13 h 16 min if its documented delays are gaps between
            attempts), so keep it well above that: ``timedelta(hours=24)`` is a safe choice.
            ``None`` (the default) checks no age; deduplication still keeps a replayed status from
            moving a payout backwards.

    Raises:
        ConfigurationError: at construction, if a key does not load or an argument is invalid.

    Example::

        verifier = WebhookVerifier(platform_public_key, merchant_no="010213834123456")
        notification = await verifier.verify(await request.read(), request.headers.get("sign"))
    """

    __slots__ = ("_app_id", "_keyed", "_max_age", "_max_body_bytes", "_merchant_no", "_rsa")

    def __init__(
        self,
        platform_public_key: KeyMaterial | Mapping[str, KeyMaterial],
        *,
        merchant_no: str | None = None,
        app_id: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_age: timedelta | None = None,
    ) -> None:
        if max_age is not None and (not isinstance(max_age, timedelta) or max_age <= timedelta(0)):
            msg = "max_age must be a positive datetime.timedelta or None"
            raise ConfigurationError(msg)
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            msg = "max_body_bytes must be an int"
            raise ConfigurationError(msg)
        if max_body_bytes < 1:
            msg = "max_body_bytes must be positive"
            raise ConfigurationError(msg)
        for name, value in (("merchant_no", merchant_no), ("app_id", app_id)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                msg = f"{name} must be a non-empty string or None"
                raise ConfigurationError(msg)
        self._rsa = RsaVerifier(platform_public_key)
        self._keyed = isinstance(platform_public_key, Mapping)
        self._merchant_no = merchant_no
        self._app_id = app_id
        self._max_body_bytes = max_body_bytes
        self._max_age = max_age

    @classmethod
    def from_config(
        cls,
        config: PayerMaxConfig,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_age: timedelta | None = None,
    ) -> WebhookVerifier:
        """A verifier with the config's platform key(s), checking its ``merchantNo`` and ``appId``.

        Raises:
            ConfigurationError: ``max_body_bytes`` or ``max_age`` is invalid.
        """
        return cls(
            config.platform_public_key,
            merchant_no=config.merchant_no,
            app_id=config.app_id,
            max_body_bytes=max_body_bytes,
            max_age=max_age,
        )

    @property
    def max_body_bytes(self) -> int:
        """The largest body accepted, in bytes; the HTTP adapters answer 413 above it."""
        return self._max_body_bytes

    @property
    def max_age(self) -> timedelta | None:
        """The freshness window for ``notifyTime``, or ``None`` when age is not checked."""
        return self._max_age

    async def verify(self, body: bytes, sign: str | None) -> PayoutNotification:
        """Verify a notification and return it parsed.

        RSA verification takes about 30 µs, so it runs inline rather than hopping to a thread.

        Args:
            body: the raw request body exactly as received (``await request.read()`` in aiohttp,
                ``await request.body()`` in Starlette/FastAPI). ``bytearray`` and ``memoryview`` are
                accepted too.
            sign: the value of the ``sign`` request header, or ``None`` if it was absent.

        Returns:
            The verified notification; ``data`` is the payout as PayerMax now sees it.

        Raises:
            WebhookSignatureError: the body is not bytes, or the signature is missing, malformed, made
                with an unknown or other ``keyVersion``'s key, or does not match the body.
            ValidationError: the body is too large, not a JSON object, not a ``PAYOUT`` notification,
                for another merchant or app, or not shaped like a payout notification.
            SuspiciousNotificationError: (a ``ValidationError``) signed, but its ``code`` is not
                ``APPLY_SUCCESS``, or it is outside ``max_age`` (a replay).
        """
        return self.verify_sync(body, sign)

    def verify_sync(self, body: bytes, sign: str | None) -> PayoutNotification:
        """The same as :meth:`verify`, for synchronous callers (the CLI, a WSGI app)."""
        raw = self._raw_bytes(body)
        if len(raw) > self._max_body_bytes:
            msg = (
                f"notification body is {len(raw)} bytes, over the limit of "
                f"{self._max_body_bytes} bytes"
            )
            raise ValidationError(msg)
        signature = self._check_sign(sign)
        # Pick the key ourselves so that, after parsing, we can insist the top-level keyVersion is the
        # one whose key verified (the quick scan could otherwise meet a nested "keyVersion" first).
        version = peek_key_version(raw) if self._keyed else None
        try:
            self._rsa.verify(raw, signature, key_version=version)
        except SignatureError as exc:
            raise WebhookSignatureError(str(exc)) from None
        document = read_json(raw, what="notification body")
        if not isinstance(document, dict):
            msg = "notification body must be a JSON object"
            raise ValidationError(msg)
        if self._keyed and document.get("keyVersion") != version:
            msg = "the top-level keyVersion is not the one whose key verified the signature"
            raise WebhookSignatureError(msg)
        return self._parse(document)

    @staticmethod
    def _raw_bytes(body: object) -> bytes:
        if isinstance(body, bytes):
            return body
        if isinstance(body, bytearray | memoryview):
            return bytes(body)
        if isinstance(body, str):
            msg = (
                "notification body must be the raw request bytes, not str: decoding and re-encoding "
                "can change the bytes PayerMax signed (use `await request.read()` / `await request.body()`)"
            )
            raise WebhookSignatureError(msg)
        msg = (
            f"notification body must be the raw request bytes, not {type(body).__name__}: verify "
            "before parsing, never a re-serialised body (use `await request.read()` / "
            "`await request.body()`)"
        )
        raise WebhookSignatureError(msg)

    @staticmethod
    def _check_sign(sign: object) -> str:
        if sign is None:
            msg = "the sign header is missing"
            raise WebhookSignatureError(msg)
        if not isinstance(sign, str):
            msg = f"the sign header must be a str, not {type(sign).__name__}"
            raise WebhookSignatureError(msg)
        if not sign.strip():
            msg = "the sign header is empty"
            raise WebhookSignatureError(msg)
        if len(sign) > _MAX_SIGN_CHARS:
            msg = "the sign header is too long to be a signature"
            raise WebhookSignatureError(msg)
        return sign

    def _parse(self, document: dict[str, Any]) -> PayoutNotification:
        notify_type = document.get("notifyType")
        if notify_type != NOTIFY_TYPE_PAYOUT:
            shown = repr(notify_type[:32]) if isinstance(notify_type, str) else "missing"
            msg = f"notifyType is {shown}, expected 'PAYOUT'"
            raise ValidationError(msg, field="notifyType")
        code = document.get("code")
        if code != NOTIFY_CODE_SUCCESS:
            shown = repr(code[:32]) if isinstance(code, str) else "missing"
            msg = f"notification code is {shown}, expected {NOTIFY_CODE_SUCCESS!r}"
            raise SuspiciousNotificationError(msg, field="code")
        for wire, expected in (("merchantNo", self._merchant_no), ("appId", self._app_id)):
            if expected is None:
                continue
            actual = document.get(wire)
            if actual != expected:
                shown = mask(actual) if isinstance(actual, str) else "missing"
                msg = f"notification {wire} is {shown}, not this merchant's {mask(expected)}"
                raise ValidationError(msg, field=wire)
        if self._max_age is not None:
            self._check_fresh(document.get("notifyTime"), self._max_age)
        data = document.get("data")
        if not isinstance(data, dict):
            msg = "notification data must be a JSON object"
            raise ValidationError(msg, field="data")
        out_trade_no = data.get("outTradeNo")
        if not isinstance(out_trade_no, str) or not out_trade_no.strip():
            msg = "notification data.outTradeNo is missing or empty"
            raise ValidationError(msg, field="data.outTradeNo")
        return structure_fast(document, PayoutNotification, what="notification")

    @staticmethod
    def _check_fresh(value: object, max_age: timedelta) -> None:
        notify_time = parse_time(value)
        if notify_time is None:
            msg = "notification notifyTime is missing or unreadable, so its age cannot be checked"
            raise SuspiciousNotificationError(msg, field="notifyTime")
        age = datetime.now(timezone.utc) - notify_time
        if age > max_age:
            msg = (
                f"notification notifyTime is {age.total_seconds() / 3600:.1f} h old, over the "
                f"max_age of {max_age.total_seconds() / 3600:.1f} h (a replay?)"
            )
            raise SuspiciousNotificationError(msg, field="notifyTime")
        if -age > _FUTURE_SKEW:
            msg = (
                f"notification notifyTime is {-age.total_seconds() / 60:.0f} min in the future "
                "(a wrong clock here or a forged date)"
            )
            raise SuspiciousNotificationError(msg, field="notifyTime")

    def __repr__(self) -> str:
        return (
            f"WebhookVerifier({self._rsa!r}, max_body_bytes={self._max_body_bytes}, "
            f"max_age={self._max_age!r})"
        )


def verify_file(
    verifier: WebhookVerifier, path: str | os.PathLike[str], sign: str | None
) -> PayoutNotification:
    """Verify a notification body saved to a file (what ``payermax webhook verify`` runs).

    The file is read as raw bytes, never as text, and no more than ``max_body_bytes + 1`` bytes are read.

    Raises:
        WebhookSignatureError: as :meth:`WebhookVerifier.verify`.
        ValidationError: as :meth:`WebhookVerifier.verify`, or the file cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            body = handle.read(verifier.max_body_bytes + 1)
    except OSError as exc:
        msg = f"cannot read the notification body file: {exc.strerror or type(exc).__name__}"
        raise ValidationError(msg) from None
    return verifier.verify_sync(body, sign)

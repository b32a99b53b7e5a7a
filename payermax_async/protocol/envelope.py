"""The bytes on the wire: request envelopes out, response envelopes in.

A request body is serialised once per attempt and those exact bytes are signed and sent. The ``data``
part is serialised once per call (it never changes across retries); only ``requestTime`` is fresh.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal

import attrs

from .._fastjson import compact_encoder
from ..errors import InvalidResponseError, ValidationError
from .strict_json import read_json

__all__ = [
    "EnvelopeWriter",
    "ResponseEnvelope",
    "encode_data",
    "format_request_time",
    "parse_response",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time in UTC (the default clock; tests inject their own)."""
    return datetime.now(timezone.utc)


def format_request_time(moment: datetime) -> str:
    """Format ``moment`` as PayerMax's ``requestTime``: RFC 3339 with milliseconds and an offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # A Decimal amount in a mapping request goes out as the decimal string PayerMax expects.
        return format(value, "f")
    msg = f"{type(value).__name__} is not JSON serialisable"
    raise TypeError(msg)


# Built once (json.dumps(data, **options) builds an encoder per call). Without a circular check:
# a cycle recurses until RecursionError, refused below like any other unsendable data. That is safe
# only while the recursion limit is one the C stack can take, so above _SAFE_RECURSION_LIMIT (an app
# that raised it) the standard encoder, which finds cycles without recursing, does the work.
_encode = compact_encoder(ensure_ascii=False, allow_nan=False, default=_json_default)
_CHECKED_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
)
_SAFE_RECURSION_LIMIT = 10_000


def encode_data(data: Mapping[str, object]) -> bytes:
    """Serialise a request's ``data`` compactly, UTF-8, keys in the caller's order.

    Raises:
        ValidationError: ``data`` holds something JSON cannot carry.
    """
    try:
        if sys.getrecursionlimit() <= _SAFE_RECURSION_LIMIT:
            text = _encode(data)
        else:
            text = _CHECKED_ENCODER.encode(data)
    except (TypeError, ValueError) as exc:
        msg = f"request data cannot be serialised to JSON: {exc}"
        raise ValidationError(msg) from None
    except RecursionError:
        msg = "request data cannot be serialised to JSON: it nests too deeply or contains itself"
        raise ValidationError(msg) from None
    return text.encode("utf-8")


def _json_string(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class _UtcStamps:
    """``format_request_time(utc_now())`` as ASCII bytes, quicker: the date and time up to the
    second are formatted once per second, the milliseconds from the same clock ``datetime.now``
    reads (nanoseconds, floored to microseconds as it floors them, then truncated to milliseconds
    as ``isoformat`` truncates)."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        # (second, its formatted prefix) in one attribute: a writer shared by threads never pairs
        # one second's prefix with another's check.
        self._second: tuple[int, bytes] = (-1, b"")

    def __call__(self) -> bytes:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        cached, prefix = self._second
        if second != cached:
            moment = datetime.fromtimestamp(second, timezone.utc)
            prefix = moment.strftime("%Y-%m-%dT%H:%M:%S.").encode("ascii")
            self._second = (second, prefix)
        return prefix + b"%03d+00:00" % (micro // 1000)


class EnvelopeWriter:
    """Builds request bodies for one merchant: ``version``, ``keyVersion``, ``requestTime``, ``appId``,
    ``merchantNo`` and ``data``, in that order (the order PayerMax's own SDKs write).

    The constant parts are encoded once, so each attempt costs one time format and a concatenation.
    """

    __slots__ = ("_clock", "_head", "_stamps", "_tail")

    def __init__(
        self,
        *,
        app_id: str,
        merchant_no: str,
        version: str = "1.4",
        key_version: str = "1",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._head = b'{"version":%s,"keyVersion":%s,"requestTime":' % (
            _json_string(version),
            _json_string(key_version),
        )
        self._tail = b',"appId":%s,"merchantNo":%s,"data":' % (
            _json_string(app_id),
            _json_string(merchant_no),
        )
        self._clock = clock
        self._stamps = _UtcStamps() if clock is utc_now else None

    def body(self, data_json: bytes, *, request_time: datetime | None = None) -> bytes:
        """Return the envelope bytes around already-serialised ``data_json``, with a fresh time."""
        if request_time is None and self._stamps is not None:
            stamp = self._stamps()  # the default clock: every attempt's, so formatted quicker
        else:
            moment = request_time if request_time is not None else self._clock()
            # An ISO 8601 time is plain ASCII with nothing to escape: quoted as is.
            stamp = format_request_time(moment).encode("ascii")
        return b"".join((self._head, b'"', stamp, b'"', self._tail, data_json, b"}"))


@attrs.frozen
class ResponseEnvelope:
    """A parsed gateway answer: ``code``, ``msg`` and ``data`` (``None`` for most errors)."""

    code: str
    msg: str
    data: Mapping[str, object] | None


def parse_response(raw: bytes, *, http_status: int, content_type: str = "") -> ResponseEnvelope:
    """Parse a gateway response body into its envelope.

    The body is read by :func:`~payermax_async.protocol.strict_json.read_json`, the reader the
    webhook verifier uses: duplicate member names are refused and numbers with a fraction become
    ``Decimal`` (a numeric amount keeps every digit).

    Raises:
        InvalidResponseError: the body is not a JSON object with a string ``code`` (an HTML page from
            a proxy, a truncated body, a repeated member name, ...). The message describes the body,
            never quotes it.
    """
    kind = content_type or "unknown content type"
    try:
        document = read_json(raw, what="body")
    except ValidationError as exc:
        msg = f"HTTP {http_status} answer ({kind}, {len(raw)} bytes) is not a PayerMax JSON envelope: {exc}"
        raise InvalidResponseError(msg, http_status=http_status) from None
    if not isinstance(document, dict) or not isinstance(document.get("code"), str):
        msg = (
            f"HTTP {http_status} answer ({kind}, {len(raw)} bytes) is not a PayerMax JSON envelope"
        )
        raise InvalidResponseError(msg, http_status=http_status)
    data = document.get("data")
    message = document.get("msg")
    return ResponseEnvelope(
        code=document["code"],
        msg=message if isinstance(message, str) else "",
        data=data if isinstance(data, dict) else None,
    )

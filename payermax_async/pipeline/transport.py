"""The only place that does network I/O: POST signed bytes, read bytes, verify, map failures.

Every failure becomes a :class:`TransportError` that says whether the request may have reached the
gateway (``maybe_sent``), or a typed :class:`APIError` for a gateway ``code``. Nothing aiohttp- or
asyncio-specific escapes, except cancellation.
"""

from __future__ import annotations

import asyncio
import math
import platform
import ssl
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

import aiohttp
import yarl
from multidict import CIMultiDictProxy

from .._version import __version__
from ..errors import (
    ClientClosedError,
    ConnectError,
    ConnectionLostError,
    InvalidResponseError,
    RequestTimeoutError,
    ResponseSignatureError,
    SignatureError,
    TransportError,
    error_for_code,
)
from ..protocol.content_coding import ACCEPT_ENCODING, ContentCodingError, decode_content
from ..protocol.envelope import parse_response, utc_now
from ..signing import RsaVerifier
from .chain import Call, Reply, build_reply

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "USER_AGENT",
    "AiohttpTransport",
    "unverified_tls_reason",
]

#: Default limits: a payout answer normally takes well under a second. One total timer per request
#: (a ``sock_read`` limit would re-arm a timer on every chunk read); ``connect`` bounds getting a
#: connection, which aiohttp arms only when the pool has none ready.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
#: Responses larger than this, on the wire or once decoded, are refused before parsing (a full batch
#: page is ~200 KB).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
USER_AGENT = (
    f"payermax-async/{__version__} python/{platform.python_version()} aiohttp/{aiohttp.__version__}"
)
_SUCCESS = "APPLY_SUCCESS"


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date) into seconds, if present and sane."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            # RFC 5322's "-0000" zone parses as a naive datetime; HTTP dates are always UTC.
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - utc_now()).total_seconds()
    # "nan", "inf" and "1e999" parse as floats but are no usable delay.
    return max(0.0, seconds) if math.isfinite(seconds) else None


def unverified_tls_reason(session: aiohttp.ClientSession) -> str | None:
    """Why ``session`` would not verify a server's TLS certificate, or ``None`` if it would.

    aiohttp keeps a connector's TLS setting (``TCPConnector(ssl=...)``) in ``connector._ssl``:
    ``True`` (the default: verify), ``False``, a ``Fingerprint`` (pinning without chain or host
    checks) or an ``SSLContext``. The floor and newest aiohttp versions are both tested in CI.
    """
    setting = getattr(session.connector, "_ssl", True)
    if setting is False:
        return "its connector was built with ssl=False"
    if isinstance(setting, aiohttp.Fingerprint):
        return "its connector pins a certificate fingerprint instead of verifying the chain"
    if isinstance(setting, ssl.SSLContext):
        if setting.verify_mode == ssl.CERT_NONE:
            return "its SSLContext has verify_mode CERT_NONE"
        if not setting.check_hostname:
            return "its SSLContext has check_hostname off"
    return None


class AiohttpTransport:
    """POSTs signed envelopes to the gateway and returns verified replies.

    Args:
        base_url: the gateway prefix; requests go to ``<base_url>/<apiName>``.
        verifier: checks the ``sign`` header of every response.
        session: an ``aiohttp.ClientSession`` to borrow; it is never closed by the transport. Without
            one, the transport opens its own on first use and closes it in :meth:`aclose`.
        timeout: the default timeout of every request (a call may override it).
        limit: the connection pool size of an owned session.
        max_response_bytes: answers larger than this are refused unread.
    """

    def __init__(
        self,
        base_url: str,
        verifier: RsaVerifier,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        limit: int = 100,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._verifier = verifier
        self._session = session
        self._owns_session = session is None
        self._timeout = timeout
        self._limit = limit
        self._max_response_bytes = max_response_bytes
        self._closed = False
        # Only the codings decode_content reads, whatever compression libraries are installed.
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._urls: dict[str, yarl.URL] = {}

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            msg = "the PayerMax client is closed"
            raise ClientClosedError(msg)
        if self._session is None:
            # Created lazily inside a running loop, as aiohttp requires. TLS verification stays at
            # aiohttp's default (on); nothing here can turn it off.
            connector = aiohttp.TCPConnector(limit=self._limit)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def aclose(self) -> None:
        """Close the owned session (a borrowed one stays open). Safe to call more than once."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def __call__(self, call: Call) -> Reply:
        """Send ``call.body`` as is, and return the verified reply or raise a typed error."""
        if call.body is None:
            msg = "call reached the transport unsigned; SigningMiddleware must run innermost"
            raise RuntimeError(msg)
        session = self._get_session()
        url = self._urls.get(call.api)
        if url is None:
            # Parsed once per API: aiohttp would otherwise parse the URL string on every request.
            url = self._urls[call.api] = yarl.URL(f"{self._base_url}/{call.api}")
        headers = {**self._headers, **call.headers}
        timeout = call.timeout or self._timeout
        try:
            # auto_decompress=False: the body is decoded here with an explicit cap (decode_content),
            # never inflated by the library on our behalf, whatever a borrowed session says.
            async with session.post(
                url,
                data=call.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                auto_decompress=False,
            ) as response:
                raw = await self._read_body(response)
                status = response.status
                response_headers = response.headers
        except TransportError:
            raise
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # DNS failure, refused connection, TLS handshake failure, connect timeout: the request
            # never left this process, so it is safe to send again.
            msg = f"could not connect to the PayerMax gateway: {type(exc).__name__}"
            raise ConnectError(msg) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            msg = f"no complete answer from the gateway in time ({call.api})"
            raise RequestTimeoutError(msg) from exc
        except (
            aiohttp.ClientOSError,
            aiohttp.ServerDisconnectedError,
            # The answer was cut short (fewer bytes than Content-Length, a broken chunk): the
            # connection broke after the request went out.
            aiohttp.ClientPayloadError,
        ) as exc:
            msg = f"connection lost during {call.api}: {type(exc).__name__}"
            raise ConnectionLostError(msg) from exc
        except aiohttp.ClientError as exc:
            msg = f"HTTP exchange failed during {call.api}: {type(exc).__name__}"
            raise TransportError(msg, maybe_sent=True) from exc
        return self._to_reply(call, status, raw, response_headers)

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._max_response_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            msg = (
                f"HTTP {response.status} answer of {declared} bytes exceeds the {limit}-byte limit"
            )
            raise InvalidResponseError(msg, http_status=response.status)
        encoding = response.headers.get("Content-Encoding")
        if declared is not None:
            # Exactly Content-Length bytes (within the limit, checked above): one read instead of
            # a chunk loop.
            raw = await response.read()
        else:
            raw = await self._read_chunks(response, limit)
        try:
            return decode_content(raw, encoding, limit=limit)
        except ContentCodingError as exc:
            msg = f"HTTP {response.status} answer refused: {exc}"
            raise InvalidResponseError(msg, http_status=response.status) from None

    @staticmethod
    async def _read_chunks(response: aiohttp.ClientResponse, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                msg = f"HTTP {response.status} answer exceeds the {limit}-byte limit"
                raise InvalidResponseError(msg, http_status=response.status)
            chunks.append(chunk)
        return b"".join(chunks)

    def _to_reply(
        self, call: Call, status: int, raw: bytes, headers: CIMultiDictProxy[str]
    ) -> Reply:
        content_type = headers.get("Content-Type", "")
        try:
            envelope = parse_response(raw, http_status=status, content_type=content_type)
        except InvalidResponseError:
            if status == 429 or status >= 500:
                # A proxy's or load balancer's own error page: classify by status so retries and
                # outcome rules apply (a 5xx after a payout was sent leaves its outcome unknown).
                raise error_for_code(
                    f"HTTP_{status}",
                    f"HTTP {status} with a non-JSON body",
                    http_status=status,
                    retry_after=parse_retry_after(headers.get("Retry-After")),
                    verified=False,
                ) from None
            raise
        signature = headers.get("sign")
        if signature is not None:
            # Whenever the gateway signs, we check, whatever the code says.
            try:
                self._verifier.verify(raw, signature)
            except SignatureError as exc:
                msg = f"{call.api} response signature is invalid: {exc}"
                raise ResponseSignatureError(msg) from None
        if envelope.code != _SUCCESS:
            # An unsigned error answer is passed on marked unverified: the layers above never let
            # one settle a payout (it could come from anything on the network path).
            raise error_for_code(
                envelope.code,
                envelope.msg,
                http_status=status,
                retry_after=parse_retry_after(headers.get("Retry-After")),
                verified=signature is not None,
            )
        if signature is None:
            msg = f"{call.api} response claims {_SUCCESS} but carries no sign header"
            raise ResponseSignatureError(msg)
        if not 200 <= status < 300:
            msg = f"{call.api} answered {_SUCCESS} with HTTP {status}"
            raise InvalidResponseError(msg, http_status=status)
        return build_reply(
            call.api,
            envelope.code,
            envelope.msg,
            envelope.data,
            status,
            raw,
            _plain_headers(headers),
        )


def _plain_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    # The response's sign value is dropped: it has been checked, and signatures stay out of anything
    # a logging middleware might print.
    plain = {key.lower(): value for key, value in headers.items()}
    plain.pop("sign", None)
    return plain

"""The gateway's request processing: envelope checks, then the four payout APIs.

Request → answer-document logic over the ledger, free of faults and of answering (``gateway.py``
owns those); :func:`read_body` only reads a request body within its size limit. Every refusal is a
:class:`Rejected` turned into PayerMax's ``{"code","msg"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from aiohttp import web

from ..errors import SignatureError
from ..models.payouts import PayoutStatus
from ..models.wire import parse_time
from ..signing import RsaVerifier
from ._validation import Rejected, check_batch_query, check_payout, check_query, field_verdicts
from .ledger import Ledger, SandboxOrder

__all__ = [
    "APIS",
    "KEY_VERSIONS",
    "MAX_CLOCK_SKEW",
    "MAX_REQUEST_BYTES",
    "VERSIONS",
    "PayoutApis",
    "parse_body",
    "read_body",
]

#: The apiNames served under ``/aggregate-pay/api/gateway/``.
APIS = frozenset(
    {"paymentFieldValidation", "paymentOrderPay", "paymentOrderQry", "paymentOrderBatchQry"}
)
#: PayerMax refuses a requestTime further than this from its clock (REQ_TIME_OVER_TIME).
MAX_CLOCK_SKEW = timedelta(minutes=2)
#: Request bodies larger than this are refused before parsing.
MAX_REQUEST_BYTES = 1024 * 1024
#: The payout API versions the gateway speaks (docs/protocol.md §2).
VERSIONS = frozenset({"1.4"})
#: The merchant key versions the gateway holds a key for (the sandbox has one merchant key).
KEY_VERSIONS = frozenset({"1"})
# requestTime as PayerMax documents it, yyyy-MM-dd'T'HH:mm:ss.SSSXXX: milliseconds and an offset
# ("Z" or ±hh:mm) are required; a time without an offset means nothing to a gateway abroad.
_REQUEST_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}(Z|[+-][0-9]{2}:[0-9]{2})"
)
_SUCCESS_MSG = "Success."


class PayoutApis:
    """Answers one merchant's requests from the ledger.

    Args:
        app_id: the appId accepted.
        merchant_no: the merchantNo accepted.
        verifier: verifies request signatures with the merchant public key.
        clock: the gateway's clock.
        ledger: where orders are committed.
        default_notify_url: the dashboard's notification URL, for orders without ``notifyUrl``.
        on_commit: called with each newly committed payout (schedules its outcome).
    """

    def __init__(
        self,
        *,
        app_id: str,
        merchant_no: str,
        verifier: RsaVerifier,
        clock: Callable[[], datetime],
        ledger: Ledger,
        default_notify_url: str | None,
        on_commit: Callable[[SandboxOrder], None],
    ) -> None:
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._verifier = verifier
        self._clock = clock
        self._ledger = ledger
        self._notify_url = default_notify_url
        self._on_commit = on_commit
        self._apis: dict[str, Callable[[Mapping[str, object]], Mapping[str, object]]] = {
            "paymentFieldValidation": field_verdicts,
            "paymentOrderPay": self._pay,
            "paymentOrderQry": self._query,
            "paymentOrderBatchQry": self._batch_query,
        }

    def process(
        self,
        api: str,
        raw: bytes,
        document: Mapping[str, object] | None,
        sign: str | None,
    ) -> Mapping[str, object]:
        """Check the envelope and run ``api``; return the answer document (refusals included)."""
        try:
            data = self._check_envelope(raw, document, sign)
            result = self._apis[api](data)
        except Rejected as rejected:
            return {"code": rejected.code, "msg": rejected.msg}
        return {"code": "APPLY_SUCCESS", "msg": _SUCCESS_MSG, "data": result}

    def _check_envelope(
        self, raw: bytes, document: Mapping[str, object] | None, sign: str | None
    ) -> Mapping[str, object]:
        if document is None:
            msg = "The request body is not valid JSON."
            raise Rejected(msg)
        merchant_no = document.get("merchantNo")
        if document.get("appId") != self._app_id or merchant_no not in (None, self._merchant_no):
            msg = "The appId or merchantNo is invalid."
            raise Rejected(msg, code="MERCHANT_APP_INVALID")
        try:
            self._verifier.verify(raw, sign or "")
        except SignatureError:
            msg = "Signature verification failed."
            raise Rejected(msg, code="SIGN_VERIFY_FAILED") from None
        for key in ("version", "keyVersion", "requestTime"):
            if not isinstance(document.get(key), str) or not document[key]:
                msg = f"The {key} is required."
                raise Rejected(msg)
        if document["version"] not in VERSIONS:
            msg = "The version is incorrect."
            raise Rejected(msg)
        if document["keyVersion"] not in KEY_VERSIONS:
            msg = "The keyVersion is incorrect."
            raise Rejected(msg)
        request_time = str(document["requestTime"])
        sent_at = parse_time(request_time) if _REQUEST_TIME.fullmatch(request_time) else None
        if sent_at is None:
            msg = "The requestTime is incorrect."
            raise Rejected(msg)
        if abs(self._clock() - sent_at) > MAX_CLOCK_SKEW:
            msg = "The request time is over time."
            raise Rejected(msg, code="REQ_TIME_OVER_TIME")
        data = document.get("data")
        if not isinstance(data, Mapping):
            msg = "The data is required."
            raise Rejected(msg)
        return data

    # ------------------------------------------------------------------------------------ the APIs

    def _pay(self, data: Mapping[str, object]) -> Mapping[str, object]:
        check_payout(data)
        out_trade_no = str(data["outTradeNo"])
        if out_trade_no in self._ledger.orders:
            msg = "The order already exists, outTradeNo is repeated."
            raise Rejected(msg, code="ORDER_REPEAT")
        notify_url = data.get("notifyUrl")
        order = self._ledger.commit(
            data,
            status=PayoutStatus.PENDING,
            created_at=self._clock(),
            notify_url=notify_url
            if isinstance(notify_url, str) and notify_url
            else self._notify_url,
        )
        self._on_commit(order)
        return {"outTradeNo": order.out_trade_no, "tradeNo": order.trade_no, "status": "PENDING"}

    def _query(self, data: Mapping[str, object]) -> Mapping[str, object]:
        order = self._ledger.orders.get(check_query(data))
        if order is None:
            msg = "The order does not exist."
            raise Rejected(msg, code="ORDER_NOT_EXIST")
        return order.to_wire()

    def _batch_query(self, data: Mapping[str, object]) -> Mapping[str, object]:
        query = check_batch_query(data)
        orders = self._ledger.window(
            query.begin, query.end, status=query.status, country=query.country
        )
        start = (query.page - 1) * query.page_size
        return {
            "totalCount": len(orders),
            "pageSize": query.page_size,
            "currentPageIndex": query.page,
            "orderList": [order.to_wire() for order in orders[start : start + query.page_size]],
        }


def parse_body(raw: bytes) -> Mapping[str, object] | None:
    """The request body as a JSON object, or ``None`` if it is not one (including JSON nested
    too deep to read, and escapes of lone surrogates, which no UTF-8 answer could carry back)."""
    try:
        document = json.loads(raw)
        if b"\\u" in raw:  # only an escape can smuggle a lone surrogate into valid UTF-8
            json.dumps(document, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError: refused
    except (ValueError, RecursionError):  # ValueError covers the decoding errors
        return None
    return document if isinstance(document, dict) else None


async def read_body(request: web.BaseRequest) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``MAX_REQUEST_BYTES`` (a declared
    length is refused before reading; a chunked body is read no further than the limit)."""
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

"""Response handling of the transport, below a mocked gateway (aioresponses)."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aioresponses import aioresponses

from payermax_async import KeyPair, PayerMaxClient, PayerMaxConfig, RsaSigner, generate_keypair
from payermax_async.errors import (
    APIError,
    AuthenticationError,
    DuplicateOrderError,
    GatewayError,
    InvalidRequestError,
    InvalidResponseError,
    OrderNotFoundError,
    RateLimitError,
    RequestTimeSkewError,
    ResponseSignatureError,
    error_for_code,
)
from payermax_async.pipeline.transport import USER_AGENT, parse_retry_after
from payermax_async.protocol.envelope import utc_now
from tests.support.mock_gateway import GATEWAY, SINGLE_ATTEMPT, reply_with

QUERY_URL = f"{GATEWAY}/paymentOrderQry"
ORDER = {"outTradeNo": "PO1", "tradeNo": "T1", "status": "SUCCESS"}

#: docs/protocol.md §4, code by code, with the error class the client must raise.
PROTOCOL_CODES: dict[str, type[APIError]] = {
    "ORDER_REPEAT": DuplicateOrderError,
    "ORDER_NOT_EXIST": OrderNotFoundError,
    "PARAMS_INVALID": InvalidRequestError,
    "AMOUNT_INVALID": InvalidRequestError,
    "COUNTRY_INVALID": InvalidRequestError,
    "CURRENCY_INVALID": InvalidRequestError,
    "CONTRACT_INVALID": InvalidRequestError,
    "CONTRACT_NOT_SIGNED": InvalidRequestError,
    "PAYMENT_METHOD_NOT_AVAILABLE": InvalidRequestError,
    "PAYMENT_METHOD_NOT_EXIST": InvalidRequestError,
    "TRANSACTION_EXCEED_LIMIT": InvalidRequestError,
    "AMOUNT_NOT_ENOUGH": InvalidRequestError,
    "BALANCE_INSUFFICIENT": InvalidRequestError,
    "PAYEE_AMOUNT_EXCEED_LIMIT": InvalidRequestError,
    "MERCHANT_INVALID": InvalidRequestError,
    "SIGN_VERIFY_FAILED": AuthenticationError,
    "MERCHANT_APP_INVALID": AuthenticationError,
    "ILLEGAL_IP_REQUEST": AuthenticationError,
    "REQ_TIME_OVER_TIME": RequestTimeSkewError,
    "TOO_MANY_REQUEST": RateLimitError,
    "SYSTEM_ERROR": GatewayError,
    "UNEXPECTED_ERROR": GatewayError,
    "REQUEST_TIMEOUT": GatewayError,
}


def _plain(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


async def test_apply_success_is_returned(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """A signed APPLY_SUCCESS answer becomes the parsed result."""
    gateway_mock.post(
        QUERY_URL,
        callback=reply_with(platform_signer, {"code": "APPLY_SUCCESS", "msg": "", "data": ORDER}),
    )
    order = await client.payouts.retrieve("PO1")
    assert (order.out_trade_no, order.trade_no, order.status.value) == ("PO1", "T1", "SUCCESS")


async def test_apply_success_without_sign_is_refused(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """APPLY_SUCCESS with no sign header is never trusted."""
    gateway_mock.post(QUERY_URL, body=_plain({"code": "APPLY_SUCCESS", "data": ORDER}))
    with pytest.raises(ResponseSignatureError, match="no sign"):
        await client.payouts.retrieve("PO1")


async def test_apply_success_signed_by_another_key_is_refused(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """APPLY_SUCCESS signed by a key that is not PayerMax's is refused."""
    impostor = RsaSigner(generate_keypair().private_key)
    gateway_mock.post(
        QUERY_URL, callback=reply_with(impostor, {"code": "APPLY_SUCCESS", "data": ORDER})
    )
    with pytest.raises(ResponseSignatureError):
        await client.payouts.retrieve("PO1")


async def test_bad_sign_on_an_error_response_is_refused(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """An error answer that carries a sign is verified too: a bad one is ResponseSignatureError."""
    body = _plain({"code": "ORDER_NOT_EXIST", "msg": "The order does not exist."})
    gateway_mock.post(QUERY_URL, body=body, headers={"sign": "AAAA" * 86 + "AA=="})
    with pytest.raises(ResponseSignatureError):
        await client.payouts.retrieve("PO1")


async def test_signed_error_response_maps_to_its_code(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """A correctly signed error answer raises the typed error of its code."""
    gateway_mock.post(
        QUERY_URL,
        callback=reply_with(
            platform_signer, {"code": "ORDER_NOT_EXIST", "msg": "The order does not exist."}
        ),
    )
    with pytest.raises(OrderNotFoundError) as info:
        await client.payouts.retrieve("PO1")
    assert (info.value.code, info.value.msg, info.value.http_status) == (
        "ORDER_NOT_EXIST",
        "The order does not exist.",
        200,
    )


@pytest.mark.parametrize("code", sorted(PROTOCOL_CODES))
async def test_unsigned_error_responses_map_to_typed_errors(
    client: PayerMaxClient, gateway_mock: aioresponses, code: str
) -> None:
    """Every code of docs/protocol.md §4 raises its APIError subclass, as error_for_code maps it."""
    gateway_mock.post(QUERY_URL, body=_plain({"msg": f"about {code}", "code": code}))
    with pytest.raises(APIError) as info:
        await client.payouts.retrieve("PO1")
    assert type(info.value) is PROTOCOL_CODES[code]
    assert type(info.value) is type(error_for_code(code, "m"))
    assert (info.value.code, info.value.msg, info.value.http_status) == (code, f"about {code}", 200)


async def test_an_unknown_code_is_a_plain_api_error(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """A code the SDK does not know stays a plain APIError (outcome unknown for a payout)."""
    gateway_mock.post(QUERY_URL, body=_plain({"code": "SOMETHING_NEW", "msg": "?"}))
    with pytest.raises(APIError) as info:
        await client.payouts.retrieve("PO1")
    assert type(info.value) is APIError


async def test_html_502_is_a_gateway_error(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """A proxy's HTML 502 page becomes GatewayError with http_status 502."""
    gateway_mock.post(
        QUERY_URL,
        status=502,
        body=b"<html><body>502 Bad Gateway</body></html>",
        content_type="text/html",
    )
    with pytest.raises(GatewayError) as info:
        await client.payouts.retrieve("PO1")
    assert info.value.http_status == 502


async def test_html_200_is_an_invalid_response(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """An HTML page with HTTP 200 is InvalidResponseError (maybe sent), never a JSON error."""
    gateway_mock.post(
        QUERY_URL, status=200, body=b"<html>captive portal</html>", content_type="text/html"
    )
    with pytest.raises(InvalidResponseError) as info:
        await client.payouts.retrieve("PO1")
    assert info.value.http_status == 200
    assert info.value.maybe_sent is True


async def test_429_with_retry_after_seconds(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """HTTP 429 with Retry-After in seconds is a RateLimitError with that retry_after."""
    gateway_mock.post(
        QUERY_URL,
        status=429,
        body=_plain({"code": "TOO_MANY_REQUEST", "msg": "slow down"}),
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimitError) as info:
        await client.payouts.retrieve("PO1")
    assert info.value.retry_after == 7.0
    assert info.value.http_status == 429


async def test_429_html_with_retry_after_http_date(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """HTTP 429 with a non-JSON body and an HTTP-date Retry-After still gives retry_after."""
    moment = utc_now() + timedelta(seconds=120)
    gateway_mock.post(
        QUERY_URL,
        status=429,
        body=b"Too Many Requests",
        headers={"Retry-After": format_datetime(moment, usegmt=True)},
    )
    with pytest.raises(RateLimitError) as info:
        await client.payouts.retrieve("PO1")
    assert info.value.retry_after is not None
    assert 60 < info.value.retry_after <= 120


def test_parse_retry_after_forms() -> None:
    """Retry-After: seconds, HTTP dates (GMT and -0000), past dates, junk and non-finite values."""
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0
    future = format_datetime(utc_now() + timedelta(seconds=300), usegmt=True)
    result = parse_retry_after(future.replace("GMT", "-0000"))
    assert result is not None
    assert 200 < result <= 300
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None
    assert parse_retry_after("1e999") is None


async def test_user_agent_and_content_type_are_sent(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """Requests carry the SDK's User-Agent, JSON content type and a sign header."""
    gateway_mock.post(
        QUERY_URL,
        callback=reply_with(platform_signer, {"code": "APPLY_SUCCESS", "data": ORDER}),
    )
    await client.payouts.retrieve("PO1")
    [call] = next(iter(gateway_mock.requests.values()))
    headers = call.kwargs["headers"]
    assert headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("payermax-async/")
    assert headers["Content-Type"] == "application/json"
    assert len(headers["sign"]) == 344
    assert call.kwargs["allow_redirects"] is False


async def test_reply_keeps_raw_bytes_and_drops_the_sign(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """The Reply holds the verified raw bytes; the response sign is not kept in its headers."""
    from payermax_async.pipeline import Call

    callback = reply_with(platform_signer, {"code": "APPLY_SUCCESS", "data": ORDER})
    gateway_mock.post(QUERY_URL, callback=callback)
    reply = await client.send(Call.build("paymentOrderQry", {"outTradeNo": "PO1"}))
    assert json.loads(reply.raw)["data"] == ORDER
    assert "sign" not in reply.headers
    assert reply.data == ORDER


async def test_response_key_is_picked_by_key_version(
    merchant_keys: KeyPair, gateway_mock: aioresponses
) -> None:
    """With a {keyVersion: key} config, a response naming keyVersion 2 must be signed by key 2."""
    old, new = generate_keypair(), generate_keypair()
    config = PayerMaxConfig(
        app_id="a",
        merchant_no="m",
        merchant_private_key=merchant_keys.private_key,
        platform_public_key={"1": old.public_key, "2": new.public_key},
    )
    document = {"code": "APPLY_SUCCESS", "keyVersion": "2", "data": ORDER}
    gateway_mock.post(QUERY_URL, callback=reply_with(RsaSigner(new.private_key), document))
    gateway_mock.post(QUERY_URL, callback=reply_with(RsaSigner(old.private_key), document))
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        assert (await client.payouts.retrieve("PO1")).trade_no == "T1"
        with pytest.raises(ResponseSignatureError):
            await client.payouts.retrieve("PO1")


def test_gateway_messages_echoing_payee_data_are_masked_in_str() -> None:
    """An APIError's str (what logs and tracebacks show) masks account numbers and emails the
    gateway may echo back; .msg keeps the gateway's text as received."""
    from payermax_async.errors import error_for_code

    error = error_for_code(
        "PARAMS_INVALID", "The accountNo 081234567890 of jane.doe@example.com is invalid"
    )
    assert "081234567890" not in str(error)
    assert "jane.doe@example.com" not in str(error)
    assert str(error).startswith("PARAMS_INVALID: The accountNo …7890")
    assert error.msg == "The accountNo 081234567890 of jane.doe@example.com is invalid"

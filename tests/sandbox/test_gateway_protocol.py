"""The sandbox gateway speaks PayerMax's wire protocol: envelopes, signatures, codes (raw HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from payermax_async import KeyPair, generate_keypair
from payermax_async.sandbox import SandboxGateway
from payermax_async.signing import RsaSigner, RsaVerifier
from tests.support.sandbox import envelope, payout, raw_post


def verified(gw: SandboxGateway, answer_body: bytes, sign: str | None) -> None:
    RsaVerifier(gw.platform_public_key).verify(answer_body, sign or "")


async def test_pay_answers_pending_signed_over_exact_bytes(gateway, merchant_signer):
    """A payout is answered APPLY_SUCCESS/PENDING, signed with the platform key over the raw body."""
    body, headers = envelope(gateway, payout("raw_1"), merchant_signer)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    verified(gateway, answer.body, answer.headers.get("sign"))
    assert answer.status == 200
    doc = answer.json()
    assert doc["code"] == "APPLY_SUCCESS"
    assert doc["data"]["outTradeNo"] == "raw_1"
    assert doc["data"]["status"] == "PENDING"
    assert "PO" in doc["data"]["tradeNo"]
    assert b'": ' not in answer.body
    assert b', "' not in answer.body


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda body, headers: (body + b" ", headers), "SIGN_VERIFY_FAILED"),
        (lambda body, headers: (body, {"Content-Type": "application/json"}), "SIGN_VERIFY_FAILED"),
        (
            lambda body, headers: (body, {**headers, "sign": "bm90IGEgc2lnbg=="}),
            "SIGN_VERIFY_FAILED",
        ),
    ],
)
async def test_bad_request_signatures_are_refused_and_nothing_is_committed(
    gateway, merchant_signer, mutate, code
):
    """A tampered body, a missing or a wrong sign header gives SIGN_VERIFY_FAILED (signed)."""
    body, headers = mutate(*envelope(gateway, payout("raw_sig"), merchant_signer))
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    verified(gateway, answer.body, answer.headers.get("sign"))
    assert answer.json()["code"] == code
    assert "raw_sig" not in gateway.ledger.orders


async def test_a_foreign_merchant_key_is_refused(gateway):
    """A request signed with a key other than the registered merchant key does not verify."""
    stranger = RsaSigner(generate_keypair().private_key)
    body, headers = envelope(gateway, payout("raw_foreign"), stranger)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    assert answer.json()["code"] == "SIGN_VERIFY_FAILED"


@pytest.mark.parametrize("field", ["appId", "merchantNo"])
async def test_wrong_app_or_merchant_is_refused(gateway, merchant_signer, field):
    """A request for another appId or merchantNo gives MERCHANT_APP_INVALID."""
    body, headers = envelope(gateway, payout("raw_app"), merchant_signer, **{field: "other"})
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    assert answer.json()["code"] == "MERCHANT_APP_INVALID"


@pytest.mark.parametrize("skew", [timedelta(minutes=3), timedelta(minutes=-3)])
async def test_request_time_further_than_two_minutes_is_refused(gateway, merchant_signer, skew):
    """requestTime more than two minutes off the gateway clock gives REQ_TIME_OVER_TIME."""
    stamp = (datetime.now(timezone.utc) + skew).isoformat(timespec="milliseconds")
    body, headers = envelope(gateway, payout("raw_time"), merchant_signer, request_time=stamp)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    verified(gateway, answer.body, answer.headers.get("sign"))
    assert answer.json()["code"] == "REQ_TIME_OVER_TIME"
    assert "raw_time" not in gateway.ledger.orders


async def test_request_time_within_two_minutes_in_z_form_is_accepted(gateway, merchant_signer):
    """A requestTime 90 s off, written with Z, is within the window."""
    moment = datetime.now(timezone.utc) - timedelta(seconds=90)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    body, headers = envelope(gateway, payout("raw_z"), merchant_signer, request_time=stamp)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    assert answer.json()["code"] == "APPLY_SUCCESS"


async def test_unparseable_body_is_params_invalid_and_signed(gateway):
    """A body that is not JSON is refused with a signed PARAMS_INVALID."""
    answer = await raw_post(gateway, "paymentOrderQry", b"<xml/>", {"sign": "x"})
    verified(gateway, answer.body, answer.headers.get("sign"))
    assert answer.json()["code"] == "PARAMS_INVALID"


async def test_unknown_api_and_wrong_method_are_http_errors(gateway):
    """Only the four payout APIs exist, and only for POST."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.base_url}/paymentOrderRefund", data=b"{}") as response:
            assert response.status == 404
        async with session.get(f"{gateway.base_url}/paymentOrderQry") as response:
            assert response.status == 405


async def test_params_invalid_uses_payermax_messages(gateway, merchant_signer):
    """A malformed payout is refused with PayerMax's message naming the field."""
    data = payout("raw_org")
    data["payeeInfo"]["targetOrg"] = "dana wallet!"
    body, headers = envelope(gateway, data, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderPay", body, headers)
    assert answer.json() == {"code": "PARAMS_INVALID", "msg": "The targetOrg is incorrect."}


async def test_order_repeat_and_order_not_exist(gateway, merchant_signer):
    """A reused outTradeNo gives ORDER_REPEAT; querying an unknown one gives ORDER_NOT_EXIST."""
    for expected in ("APPLY_SUCCESS", "ORDER_REPEAT"):
        body, headers = envelope(gateway, payout("raw_repeat"), merchant_signer)
        answer = await raw_post(gateway, "paymentOrderPay", body, headers)
        assert answer.json()["code"] == expected
    assert len(gateway.ledger.orders) == 1
    body, headers = envelope(gateway, {"outTradeNo": "nope"}, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderQry", body, headers)
    verified(gateway, answer.body, answer.headers.get("sign"))
    assert answer.json() == {"code": "ORDER_NOT_EXIST", "msg": "The order does not exist."}


async def test_batch_query_pages_are_one_based_and_ordered(gateway, merchant_signer):
    """The batch query returns totalCount, pageSize, currentPageIndex and orders oldest first."""
    start = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)
    for index in (2, 0, 1):
        gateway.ledger.add_order(payout(f"b_{index}"), created_at=start + timedelta(minutes=index))
    query = {
        "queryBeginTime": "2026-01-10 00:00:00",
        "queryEndTime": "2026-01-11 00:00:00",
        "pageSize": 2,
        "currentPageIndex": 2,
    }
    body, headers = envelope(gateway, query, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderBatchQry", body, headers)
    verified(gateway, answer.body, answer.headers.get("sign"))
    data = answer.json()["data"]
    assert (data["totalCount"], data["pageSize"], data["currentPageIndex"]) == (3, 2, 2)
    assert [order["outTradeNo"] for order in data["orderList"]] == ["b_2"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"queryBeginTime": "2026-01-10 00:00:00", "queryEndTime": "2026-01-11 00:00:01"},
            "The query time range should not exceed 1 day.",
        ),
        (
            {
                "queryBeginTime": "2026-01-10 00:00:00",
                "queryEndTime": "2026-01-10 01:00:00",
                "pageSize": 101,
            },
            "The pageSize should not exceed 100.",
        ),
        (
            {"queryBeginTime": "2026-01-10T00:00:00Z", "queryEndTime": "2026-01-10 01:00:00"},
            "The queryBeginTime is incorrect.",
        ),
    ],
)
async def test_batch_query_limits(gateway, merchant_signer, query, message):
    """Windows over a day, pages over 100 and malformed times are refused."""
    body, headers = envelope(gateway, query, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderBatchQry", body, headers)
    assert answer.json() == {"code": "PARAMS_INVALID", "msg": message}


async def test_gateway_clock_is_injectable(merchant_keys: KeyPair, platform_keys: KeyPair):
    """With a clock five minutes ahead, a correct client time is stale for the gateway."""
    ahead = lambda: datetime.now(timezone.utc) + timedelta(minutes=5)  # noqa: E731
    async with SandboxGateway(
        merchant_keys=merchant_keys, platform_keys=platform_keys, clock=ahead
    ) as gw:
        body, headers = envelope(gw, payout("clock_1"), RsaSigner(merchant_keys.private_key))
        answer = await raw_post(gw, "paymentOrderPay", body, headers)
    assert answer.json()["code"] == "REQ_TIME_OVER_TIME"

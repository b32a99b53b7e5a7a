"""The sandbox, closer to PayerMax (issue 12): strict envelopes, every request counted, known filter
values only, PENDING notifications on demand, the documented order fields, and the same amount
verdicts as the client."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest

from payermax_async import PayoutStatus, ValidationError, WebhookVerifier
from payermax_async.errors import InvalidRequestError
from payermax_async.sandbox import NOTIFY_OFFSETS, NOTIFY_SCHEDULE, Fault, FaultKind
from tests.support.sandbox import envelope, payout, raw_post


async def _pay(gateway, signer, data, **overrides):
    body, headers = envelope(gateway, data, signer, **overrides)
    return (await raw_post(gateway, "paymentOrderPay", body, headers)).json()


@pytest.mark.parametrize(
    ("overrides", "msg"),
    [
        ({"version": "1.5"}, "The version is incorrect."),
        ({"version": "1.4 "}, "The version is incorrect."),
        ({"keyVersion": "2"}, "The keyVersion is incorrect."),
        ({"request_time": "2026-12-01T10:00:00.000"}, "The requestTime is incorrect."),
        ({"request_time": "2026-12-01T10:00:00+00:00"}, "The requestTime is incorrect."),
        ({"request_time": "2026-12-01 10:00:00.000+00:00"}, "The requestTime is incorrect."),
    ],
)
async def test_envelopes_are_checked_as_strictly_as_the_gateway(
    gateway, merchant_signer, overrides, msg
):
    """Unknown version or keyVersion, requestTime without offset or ms: PARAMS_INVALID, no order."""
    answer = await _pay(gateway, merchant_signer, payout("env_1"), **overrides)
    assert (answer["code"], answer["msg"]) == ("PARAMS_INVALID", msg)
    assert gateway.ledger.orders == {}


async def test_a_client_configured_for_another_version_is_refused(gateway):
    """Through the SDK: api_version="1.5" is refused by the gateway (a signed refusal)."""
    from payermax_async import PayerMaxClient
    from payermax_async.testing import fast_retry_policy

    async with PayerMaxClient(gateway.config(api_version="1.5"), retry=fast_retry_policy()) as c:
        with pytest.raises(InvalidRequestError) as caught:
            await c.payouts.create(payout("env_2"))
    assert caught.value.msg == "The version is incorrect."


async def test_every_request_is_counted(gateway, merchant_signer):
    """404s, 405s, declared and chunked oversized bodies are all counted, and answered."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.base_url}/paymentOrderRefund", data=b"{}") as answer:
            assert answer.status == 404
        async with session.get(f"{gateway.base_url}/paymentOrderQry") as answer:
            assert answer.status == 405
        big = io.BytesIO(b"x" * (1024 * 1024 + 1))
        async with session.post(f"{gateway.base_url}/paymentOrderPay", data=big) as answer:
            assert (await answer.json(content_type=None))["msg"] == "The request is too large."

        async def chunks():
            for _ in range(20):
                yield b"y" * 65536

        async with session.post(f"{gateway.base_url}/paymentOrderPay", data=chunks()) as answer:
            assert (await answer.json(content_type=None))["msg"] == "The request is too large."
    assert gateway.ledger.post_count() == 4
    assert gateway.ledger.post_count(api="paymentOrderPay") == 2
    assert gateway.ledger.orders == {}


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"data":{"outTradeNo":"\\ud800"}}'],
    ids=["nested too deep", "a lone surrogate escape"],
)
async def test_unreadable_json_is_refused_not_a_crash(gateway, merchant_signer, body):
    """JSON nested too deep, or escaping a lone surrogate, gets a signed PARAMS_INVALID."""
    answer = await raw_post(
        gateway, "paymentOrderPay", body, {"sign": merchant_signer.sign_sync(body)}
    )
    assert answer.status == 200
    assert answer.json() == {"code": "PARAMS_INVALID", "msg": "The request body is not valid JSON."}


@pytest.mark.parametrize(
    ("filters", "msg"),
    [
        ({"status": "DONE"}, "The status is incorrect."),
        ({"status": "pending"}, "The status is incorrect."),
        ({"status": 1}, "The status is incorrect."),
        ({"country": "idn"}, "The country is incorrect."),
        ({"country": ["ID"]}, "The country is incorrect."),
    ],
)
async def test_batch_query_filters_with_unknown_values_are_refused(
    gateway, merchant_signer, filters, msg
):
    """A status or country the gateway does not know is refused, not silently matched to nothing."""
    query = {
        "queryBeginTime": "2026-01-01 00:00:00",
        "queryEndTime": "2026-01-01 12:00:00",
        "pageSize": 10,
        "currentPageIndex": 1,
    } | filters
    body, headers = envelope(gateway, query, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderBatchQry", body, headers)
    assert answer.json() == {"code": "PARAMS_INVALID", "msg": msg}


AMOUNTS = [
    ("IDR", "150000"),
    ("IDR", "150000.00"),
    ("IDR", "150000.5"),
    ("COP", "1000"),
    ("COP", "1000.00"),
    ("PKR", "100.50"),
    ("KMF", "10.0"),
    ("KWD", "0.125"),
    ("KWD", "0.1255"),
    ("USD", "12.34"),
    ("USD", "12.340"),
    ("USD", "0012.50"),
    ("JPY", "10.0"),
    ("USD", "١٠٠"),
    ("USD", "1e3"),
]


@pytest.mark.parametrize(("currency", "amount"), AMOUNTS)
async def test_the_client_and_the_sandbox_agree_on_every_amount(
    gateway, client, merchant_signer, currency, amount
):
    """For each amount text the client refuses locally exactly when the sandbox refuses it."""
    trade = {"amount": amount, "currency": currency}
    raw = await _pay(gateway, merchant_signer, payout("agree_raw") | {"trade": trade})
    if raw["code"] == "APPLY_SUCCESS":
        await client.payouts.create(payout("agree_sdk") | {"trade": trade})
        assert gateway.ledger.orders["agree_sdk"].data["trade"]["amount"] == amount  # unchanged
    else:
        with pytest.raises(ValidationError) as refused:
            await client.payouts.create(payout("agree_sdk") | {"trade": trade})
        assert refused.value.field == "trade.amount"


async def test_pending_can_be_notified_before_the_outcome(gateway, merchant_signer, receiver):
    """NOTIFY_PENDING: a signed PENDING notification with its sub-status, then SUCCESS; both read."""
    gateway.faults.add(Fault(FaultKind.NOTIFY_PENDING, api="paymentOrderPay", times=1))
    answer = await _pay(gateway, merchant_signer, payout("pend_1", notifyUrl=receiver.url))
    assert answer["code"] == "APPLY_SUCCESS"
    await gateway.settle()
    verifier = WebhookVerifier(gateway.platform_public_key)
    seen = [await verifier.verify(item.body, item.sign) for item in receiver.received]
    assert sorted((n.data.status, n.data.sub_status) for n in seen) == [
        (PayoutStatus.PENDING, "TRANSMIT"),
        (PayoutStatus.SUCCESS, None),
    ]
    assert {d.status for d in gateway.notifications} == {PayoutStatus.PENDING, PayoutStatus.SUCCESS}


async def test_orders_carry_the_documented_optional_fields(gateway, merchant_signer):
    """Orders carry fundsFreezeTime, fundsReturnTime, additionalIdentifier; plain decimal amounts."""
    await _pay(gateway, merchant_signer, payout("field_ok"))
    await _pay(gateway, merchant_signer, payout("field_no", amount="110"))
    usd = payout("field_usd") | {"trade": {"amount": "10.00", "currency": "USD"}, "country": "US"}
    await _pay(gateway, merchant_signer, usd)
    await gateway.settle()
    ok, failed = (
        gateway.ledger.orders["field_ok"].to_wire(),
        gateway.ledger.orders["field_no"].to_wire(),
    )
    assert ok["fundsFreezeTime"]
    assert ok["fundsReturnTime"] == ""
    assert ok["additionalIdentifier"]["referenceId"]
    assert failed["fundsReturnTime"]
    assert failed["additionalIdentifier"] == {"referenceId": ""}
    assert (ok["source"]["amount"], ok["source"]["fee"], ok["source"]["tax"]) == (
        "15150",
        "150",
        "0",
    )
    dollars = gateway.ledger.orders["field_usd"].to_wire()
    assert (dollars["source"]["amount"], dollars["source"]["fee"]) == ("10.10", "0.10")
    assert dollars["destination"]["tax"] == "0.00"
    assert json.loads(json.dumps(ok)) == ok


def test_the_retry_schedule_is_gaps_and_its_offsets_are_derived():
    """NOTIFY_SCHEDULE holds the waits between attempts; NOTIFY_OFFSETS the times from the change."""
    assert NOTIFY_SCHEDULE == (0.0, 30.0, 300.0, 600.0, 3600.0, 43200.0)
    assert NOTIFY_OFFSETS == (0.0, 30.0, 330.0, 930.0, 4530.0, 47730.0)

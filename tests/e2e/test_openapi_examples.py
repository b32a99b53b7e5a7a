"""PayerMax's own OpenAPI request examples go through the client and are accepted by the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payermax_async import PayoutStatus
from payermax_async.errors import OrderNotFoundError
from tests.support.reference import REFERENCE

OPENAPI = REFERENCE / "payermax-payout-openapi.json"
PREFIX = "/aggregate-pay/api/gateway/"


def example(api: str) -> dict[str, Any]:
    if not OPENAPI.exists():
        pytest.skip(f"PayerMax's OpenAPI file is not at {OPENAPI}")
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    body = document["paths"][PREFIX + api]["post"]["requestBody"]["content"]["application/json"]
    return body["example"]["data"]


async def test_pay_example_is_accepted_as_sent(client, gateway):
    """The paymentOrderPay example is accepted; the gateway receives its data unchanged."""
    data = example("paymentOrderPay")
    result = await client.payouts.create(data)
    assert result.out_trade_no == data["outTradeNo"]
    order = gateway.ledger.orders[data["outTradeNo"]]
    assert (
        order.data == data
    )  # empty strings, "expiryDays": "3", the odd "payeeType " key: all kept
    await gateway.settle()
    assert order.status is PayoutStatus.PENDING  # amount 100: UAT keeps it processing
    assert gateway.notifications == []  # and http://example.com is never contacted anyway


async def test_validation_example_is_answered_with_field_verdicts(client):
    """The paymentFieldValidation example gets APPLY_SUCCESS with per-field verdicts."""
    verdict = await client.payouts.validate(example("paymentFieldValidation"))
    # As in PayerMax's own example answer: a BCA account with letters must be numbers.
    assert ("payeeInfo.accountInfo.accountNo", "Please enter numbers.") in [
        (item.field, item.error_msg) for item in verdict.failed_fields
    ]
    assert verdict.validation_code == "PARAMS_INVALID"
    assert "payeeInfo.name.fullName" in verdict.passed_fields


async def test_query_example_is_answered(client):
    """The paymentOrderQry example's outTradeNo is well-formed; unknown here, so ORDER_NOT_EXIST."""
    data = example("paymentOrderQry")
    with pytest.raises(OrderNotFoundError):
        await client.payouts.retrieve(data["outTradeNo"])

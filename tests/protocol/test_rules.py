"""Local validation before any I/O, PayerMax's own examples sent unchanged, and the OpenAPI schemas."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import jsonschema
import pytest
from aioresponses import aioresponses

from payermax_async import PayerMaxClient, RsaSigner
from payermax_async.errors import ValidationError
from payermax_async.models import (
    AccountInfo,
    FieldValidationRequest,
    PayeeInfo,
    PayoutRequest,
    Trade,
)
from payermax_async.models.wire import unstructure
from payermax_async.protocol.envelope import EnvelopeWriter, encode_data
from tests.models.test_models import _full_model
from tests.support.mock_gateway import (
    GATEWAY,
    load_json,
    reply_with,
    request_count,
    sent_bodies,
    valid_payout,
)

PAY = "/aggregate-pay/api/gateway/paymentOrderPay"
VALIDATE = "/aggregate-pay/api/gateway/paymentFieldValidation"
QUERY = "/aggregate-pay/api/gateway/paymentOrderQry"


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    result = copy.deepcopy(data)
    node = result
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return result


_DELETE = object()


async def _refused(
    client: PayerMaxClient, mock: aioresponses, request: object, field: str
) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        await client.payouts.create(request)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)
    assert request_count(mock) == 0
    return info.value


REFUSED: list[tuple[str, object, str]] = [
    ("outTradeNo", _DELETE, "outTradeNo"),
    ("outTradeNo", "", "outTradeNo"),
    ("outTradeNo", "PO-1", "outTradeNo"),
    ("outTradeNo", "PO 1", "outTradeNo"),
    ("outTradeNo", "PÖ1", "outTradeNo"),
    ("outTradeNo", "A" * 64, "outTradeNo"),
    ("outTradeNo", 12345, "outTradeNo"),
    ("country", _DELETE, "country"),
    ("country", "id", "country"),
    ("country", "I1", "country"),
    ("country", "IDN", "country"),
    ("trade.currency", "idr", "trade.currency"),
    ("trade.currency", "ID", "trade.currency"),
    ("trade.currency", _DELETE, "trade.currency"),
    ("trade.amount", _DELETE, "trade.amount"),
    ("trade.amount", "", "trade.amount"),
    ("trade.amount", "0", "trade.amount"),
    ("trade.amount", "0.00", "trade.amount"),
    ("trade.amount", "-1", "trade.amount"),
    ("trade.amount", "1e5", "trade.amount"),
    ("trade.amount", " 1", "trade.amount"),
    ("trade.amount", "1 ", "trade.amount"),
    ("trade.amount", "1.", "trade.amount"),
    ("trade.amount", ".5", "trade.amount"),
    ("trade.amount", "1,000", "trade.amount"),
    ("trade.amount", "１００", "trade.amount"),
    ("trade.amount", "١٠٠", "trade.amount"),
    ("trade.amount", "1234567890123", "trade.amount"),
    ("trade.amount", "150000.5", "trade.amount"),
    ("trade.amount", 150000, "trade.amount"),
    ("trade.amount", 1.5, "trade.amount"),
    ("trade", _DELETE, "trade"),
    ("payeeInfo", _DELETE, "payeeInfo"),
    ("payeeInfo.paymentMethodType", _DELETE, "payeeInfo.paymentMethodType"),
    ("payeeInfo.paymentMethodType", "  ", "payeeInfo.paymentMethodType"),
    ("payeeInfo.accountInfo", _DELETE, "payeeInfo.accountInfo.accountNo"),
    ("payeeInfo.accountInfo.accountNo", _DELETE, "payeeInfo.accountInfo.accountNo"),
    ("payeeInfo.accountInfo.accountNo", "", "payeeInfo.accountInfo.accountNo"),
    ("payeeInfo.accountInfo", "0812", "payeeInfo.accountInfo"),
    ("notifyUrl", "ftp://example.com/cb", "notifyUrl"),
    ("notifyUrl", "example.com/cb", "notifyUrl"),
    ("notifyUrl", "http://[::1", "notifyUrl"),
    ("notifyUrl", "https://", "notifyUrl"),
    ("payeeInfo.email", "not-an-email", "payeeInfo.email"),
    ("payeeInfo.email", "a@b", "payeeInfo.email"),
    ("payeeInfo.email", "a b@example.com", "payeeInfo.email"),
    ("notifyEmail", "x@@example.com", "notifyEmail"),
    ("payeeInfo.birthDate", "01-09-1996", "payeeInfo.birthDate"),
    ("payeeInfo.birthDate", "1996-02-30", "payeeInfo.birthDate"),
    ("clearingRail", "ACH", "clearingRail"),
    ("sourceAccount", "usd", "sourceAccount"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    REFUSED,
    ids=[f"{p}={v if v is not _DELETE else '<missing>'}" for p, v, _ in REFUSED],
)
async def test_mapping_refused_before_io(
    client: PayerMaxClient, gateway_mock: aioresponses, path: str, value: object, field: str
) -> None:
    """Each broken rule of issue 2 raises ValidationError naming the dotted path; nothing is sent."""
    await _refused(client, gateway_mock, _set(valid_payout(), path, value), field)


@pytest.mark.parametrize(
    ("currency", "amount", "ok"),
    [
        ("IDR", "150000", True),
        ("IDR", "150000.00", False),
        ("VND", "1.5", False),
        ("KRW", "1.0", False),
        ("CLP", "10.1", False),
        ("JPY", "10.1", False),
        ("BHD", "1.234", True),
        ("BHD", "1.2345", False),
        ("KWD", "0.125", True),
        ("OMR", "0.1255", False),
        ("JOD", "12.345", True),
        ("TND", "12.3456", False),
        ("USD", "12.34", True),
        ("USD", "12.345", False),
        ("PHP", "3223.59", True),
        ("USD", "123456789.12", True),
    ],
)
async def test_currency_precision(
    client: PayerMaxClient,
    gateway_mock: aioresponses,
    platform_signer: RsaSigner,
    currency: str,
    amount: str,
    ok: bool,
) -> None:
    """Decimals allowed: 0 for IDR/VND/KRW/CLP/JPY, 3 for BHD/KWD/OMR/JOD/TND, 2 otherwise."""
    data = _set(valid_payout(), "trade", {"amount": amount, "currency": currency})
    if not ok:
        error = await _refused(client, gateway_mock, data, "trade.amount")
        assert currency in str(error)
        return
    gateway_mock.post(
        f"{GATEWAY}/paymentOrderPay",
        callback=reply_with(
            platform_signer, {"code": "APPLY_SUCCESS", "data": {"outTradeNo": data["outTradeNo"]}}
        ),
    )
    await client.payouts.create(data)
    assert sent_bodies(gateway_mock)[0]["data"]["trade"]["amount"] == amount


def _model(**changes: Any) -> PayoutRequest:
    base = PayoutRequest(
        out_trade_no="PO20261129000001",
        country="ID",
        trade=Trade(amount=Decimal("150000"), currency="IDR"),
        payee_info=PayeeInfo(
            payment_method_type="WALLET", account_info=AccountInfo("0812"), target_org="DANA"
        ),
    )
    return attrs.evolve(base, **changes)


def _wallet(**fields: Any) -> PayeeInfo:
    return PayeeInfo(payment_method_type="WALLET", target_org="DANA", **fields)


# Each case builds its changes when run: a Trade refuses a bad amount when it is made (issue 12).
MODEL_REFUSED: list[tuple[Callable[[], dict[str, Any]], str]] = [
    (lambda: {"out_trade_no": "PO-1"}, "outTradeNo"),
    (lambda: {"country": "id"}, "country"),
    (lambda: {"trade": Trade(amount=Decimal("100.5"), currency="IDR")}, "trade.amount"),
    (lambda: {"trade": Trade(amount=Decimal("0"), currency="USD")}, "trade.amount"),
    (lambda: {"trade": Trade(amount=Decimal("-1"), currency="USD")}, "trade.amount"),
    (lambda: {"trade": Trade(amount=Decimal("1.2345"), currency="BHD")}, "trade.amount"),
    (lambda: {"trade": Trade(amount=Decimal("1234567890123"), currency="IDR")}, "trade.amount"),
    (lambda: {"trade": Trade(amount=Decimal("1"), currency="usd")}, "trade.currency"),
    (lambda: {"notify_url": "ftp://example.com"}, "notifyUrl"),
    (
        lambda: {"payee_info": PayeeInfo(payment_method_type="", account_info=AccountInfo("1"))},
        "payeeInfo.paymentMethodType",
    ),
    (lambda: {"payee_info": _wallet()}, "payeeInfo.accountInfo.accountNo"),
    (
        lambda: {
            "payee_info": PayeeInfo(payment_method_type="WALLET", account_info=AccountInfo("1"))
        },
        "payeeInfo.targetOrg",
    ),
    (
        lambda: {"payee_info": _wallet(account_info=AccountInfo("1"), email="nope")},
        "payeeInfo.email",
    ),
    (
        lambda: {"payee_info": _wallet(account_info=AccountInfo("1" * 129))},
        "payeeInfo.accountInfo.accountNo",
    ),
]


@pytest.mark.parametrize(("changes", "field"), MODEL_REFUSED, ids=[f for _, f in MODEL_REFUSED])
async def test_model_refused_before_io(
    client: PayerMaxClient,
    gateway_mock: aioresponses,
    changes: Callable[[], dict[str, Any]],
    field: str,
) -> None:
    """A model gets the same verdicts as a mapping (when it is built, or at create()), before I/O."""
    with pytest.raises(ValidationError) as info:
        await client.payouts.create(_model(**changes()))
    assert info.value.field == field
    assert field in str(info.value)
    assert request_count(gateway_mock) == 0


# -------------------------------------------------------------------- maxLength from OpenAPI


def _max_lengths(schema: dict[str, Any], prefix: str = "") -> dict[str, int]:
    found: dict[str, int] = {}
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name.strip()}"
        if "properties" in prop:
            found |= _max_lengths(prop, f"{path}.")
        elif "maxLength" in prop:
            found[path] = prop["maxLength"]
    return found


def _request_schema(path: str) -> dict[str, Any]:
    document = load_json("payermax-payout-openapi.json")
    schema: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


PAY_LENGTHS = _max_lengths(_request_schema(PAY)["properties"]["data"])
VALIDATE_LENGTHS = _max_lengths(_request_schema(VALIDATE)["properties"]["data"])


def test_the_length_table_is_not_empty() -> None:
    """The OpenAPI file yields limits for nested fields (guards the parametrisation below)."""
    assert PAY_LENGTHS["payeeInfo.accountInfo.accountNo"] == 128
    assert PAY_LENGTHS["payeeInfo.name.fullName"] == 512
    assert PAY_LENGTHS["trade.amount"] == 12
    assert len(PAY_LENGTHS) > 30


@pytest.mark.parametrize(("path", "limit"), sorted(PAY_LENGTHS.items()))
async def test_every_openapi_max_length_is_enforced(
    client: PayerMaxClient, gateway_mock: aioresponses, path: str, limit: int
) -> None:
    """A value one character over the OpenAPI maxLength is refused, naming the field."""
    error = await _refused(
        client, gateway_mock, _set(valid_payout(), path, "9" * (limit + 1)), path
    )
    assert str(limit) in str(error)


@pytest.mark.parametrize(
    "path",
    ["payeeInfo.bankInfo.bankName", "payeeInfo.address.zipCode", "payeeInfo.document.documentId"],
)
async def test_max_length_on_validate(
    client: PayerMaxClient, gateway_mock: aioresponses, path: str
) -> None:
    """validate() applies the same limits (sampled nested fields)."""
    data = {"country": "ID", "payeeInfo": {"paymentMethodType": "BANK_TRANSFER"}}
    with pytest.raises(ValidationError) as info:
        await client.payouts.validate(_set(data, path, "x" * (VALIDATE_LENGTHS[path] + 1)))
    assert info.value.field == path
    assert request_count(gateway_mock) == 0


async def test_validate_refuses_before_io(
    client: PayerMaxClient, gateway_mock: aioresponses
) -> None:
    """validate() checks country and paymentMethodType locally too."""
    for data, field in (
        ({"country": "ID", "payeeInfo": {}}, "payeeInfo.paymentMethodType"),
        ({"payeeInfo": {"paymentMethodType": "WALLET"}}, "country"),
        ({"country": "ID"}, "payeeInfo"),
    ):
        with pytest.raises(ValidationError) as info:
            await client.payouts.validate(data)
        assert info.value.field == field
    assert request_count(gateway_mock) == 0


# ------------------------------------------------------------- PayerMax's examples, unchanged


def _request_example(path: str) -> dict[str, Any]:
    document = load_json("payermax-payout-openapi.json")
    example: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    return example


async def test_pay_example_goes_through_unchanged(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """paymentOrderPay's own example is sent with exactly its data: same keys and order."""
    example = _request_example(PAY)["data"]
    assert "payeeType " in example["payeeInfo"]
    gateway_mock.post(
        f"{GATEWAY}/paymentOrderPay",
        callback=reply_with(
            platform_signer,
            {"code": "APPLY_SUCCESS", "data": {"outTradeNo": example["outTradeNo"]}},
        ),
    )
    result = await client.payouts.create(example)
    assert result.out_trade_no == example["outTradeNo"]
    [call] = next(iter(gateway_mock.requests.values()))
    sent = call.kwargs["data"]
    assert json.loads(sent)["data"] == example
    assert encode_data(example) in sent  # same key order, strings stay strings
    assert b'"payeeType ":"PERSONAL"' in sent
    assert b'"expiryDays":"3"' in sent
    assert b'"accountType":""' in sent


async def test_validation_example_goes_through_unchanged(
    client: PayerMaxClient, gateway_mock: aioresponses, platform_signer: RsaSigner
) -> None:
    """paymentFieldValidation's own example is sent with exactly its data."""
    example = _request_example(VALIDATE)["data"]
    gateway_mock.post(
        f"{GATEWAY}/paymentFieldValidation",
        callback=reply_with(
            platform_signer,
            {"code": "APPLY_SUCCESS", "data": {"validationCode": "PASS"}},
        ),
    )
    result = await client.payouts.validate(example)
    assert result.ok
    [call] = next(iter(gateway_mock.requests.values()))
    assert json.loads(call.kwargs["data"])["data"] == example
    assert encode_data(example) in call.kwargs["data"]


# ----------------------------------------------------------------------------- JSON schemas


def _stripped(schema: Any) -> Any:
    """The schema with whitespace stripped from property names (the file has "payeeType ")."""
    if isinstance(schema, dict):
        result = {}
        for key, value in schema.items():
            if key == "properties":
                result[key] = {name.strip(): _stripped(sub) for name, sub in value.items()}
            elif key == "required":
                result[key] = [name.strip() for name in value]
            else:
                result[key] = _stripped(value)
        return result
    if isinstance(schema, list):
        return [_stripped(item) for item in schema]
    return schema


def _validator(path: str) -> jsonschema.protocols.Validator:
    schema = _stripped(_request_schema(path))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)  # type: ignore[no-any-return]


def _envelope(data: dict[str, Any]) -> Any:
    writer = EnvelopeWriter(app_id="3b242b56a8b64274bcc37dac281120e3", merchant_no="0102138")
    return json.loads(writer.body(encode_data(data)))


def test_serialised_models_validate_against_the_openapi_schemas() -> None:
    """Envelopes around data serialised from our models pass PayerMax's request schemas."""
    full = _full_model()
    _validator(PAY).validate(_envelope(unstructure(full)))
    _validator(PAY).validate(_envelope(unstructure(_model())))
    validation = FieldValidationRequest(country="ID", payee_info=full.payee_info)
    _validator(VALIDATE).validate(_envelope(unstructure(validation)))
    _validator(QUERY).validate(_envelope({"outTradeNo": full.out_trade_no}))


def test_the_schema_check_can_fail() -> None:
    """The schema check rejects a numeric amount and a missing payeeInfo (it is not vacuous)."""
    bad = unstructure(_model())
    bad["trade"]["amount"] = 150000
    with pytest.raises(jsonschema.ValidationError):
        _validator(PAY).validate(_envelope(bad))
    missing = unstructure(_model())
    del missing["payeeInfo"]
    with pytest.raises(jsonschema.ValidationError):
        _validator(PAY).validate(_envelope(missing))

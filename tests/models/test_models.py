"""Models and the converter: camelCase wire names, Decimal money, lenient times, kept extras."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from payermax_async.errors import ValidationError
from payermax_async.models import (
    AccountInfo,
    AdditionalIdentifier,
    Address,
    BankInfo,
    Document,
    FieldValidationResult,
    FundsDetail,
    Name,
    PayeeInfo,
    PayerInfo,
    PayerName,
    PayoutNotification,
    PayoutOrder,
    PayoutRequest,
    PayoutResult,
    PayoutStatus,
    RiskParams,
    Trade,
)
from payermax_async.models.wire import parse_time, structure, unstructure

FULL_WIRE: dict[str, Any] = {
    "outTradeNo": "orderorder1650532228089613",
    "country": "ID",
    "trade": {"amount": "100", "currency": "IDR"},
    "payeeInfo": {
        "paymentMethodType": "BANK_TRANSFER",
        "accountInfo": {"accountNo": "0812323233332", "accountType": "SAVING", "checkDigit": "7"},
        "targetOrg": "BCA",
        "payeeType": "PERSONAL",
        "bankInfo": {
            "bankCode": "NCBKSAJE",
            "bankName": "Raiffeisenbank",
            "bankBranch": "001",
            "bankCity": "Jakarta",
            "corAccountNo": "30101810200000000700",
        },
        "name": {
            "firstName": "James",
            "middleName": "Shri Williams",
            "lastName": "Kanta",
            "fullName": "James Shri Williams Kanta",
        },
        "document": {
            "documentType": "PASSPORT",
            "documentId": "X1234567",
            "documentIssueDate": "2020-01-01",
            "documentExpireDate": "2030-01-01",
        },
        "address": {
            "address": "Jl. Sudirman 1",
            "city": "Jakarta",
            "state": "DKI",
            "zipCode": "10110",
        },
        "payeePhone": "08123456789",
        "birthDate": "1996-09-01",
        "email": "payee@example.com",
        "payeeNationality": "ID",
        "payeeGender": "M",
        "payeeBirthCountry": "ID",
    },
    "payerInfo": {
        "subMerchantNo": "SUB1",
        "businessLegalName": "Acme Pte Ltd",
        "registrationCountry": "SG",
        "merchantCategoryCode": "5816",
        "payerId": "P1",
        "name": {"firstName": "Ann", "middleName": "B", "lastName": "Lee", "fullName": "Ann B Lee"},
    },
    "riskParams": {
        "registerName": "lily",
        "registerNo": "R1",
        "nickName": "lil",
        "thirdAccountNoType": "EMAIL",
        "thirdAccountNo": "lily@example.com",
        "bindEmail": "lily@example.com",
        "bindPhoneNo": "987654232432",
        "accountLevel": "3",
        "vipLevel": "2",
        "regTime": "2023-07-01 12:08:34",
        "lastLoginTime": "2023-07-02 12:08:34",
        "liveCountry": "VN",
        "taxId": "1234567890",
        "cumPayoutAmount": "100.00",
        "cumPayoutTxn": "3",
        "accountBalance": "12.00",
        "expressMerchantID": "EM1",
    },
    "sourceAccount": "USD",
    "destinationCurrency": "IDR",
    "chargeOption": "SHA",
    "clearingRail": "LOCAL",
    "userId": "abc123456789",
    "expiryDays": "3",
    "remark": "this is remark",
    "reference": "this is reference",
    "notifyUrl": "https://example.com/callback/",
    "notifyEmail": "notify@example.com",
    "notifyPhone": "0811111111",
    "purpose": "GAME",
}


def _full_model() -> PayoutRequest:
    return PayoutRequest(
        out_trade_no="orderorder1650532228089613",
        country="ID",
        trade=Trade(amount=Decimal("100"), currency="IDR"),
        payee_info=PayeeInfo(
            payment_method_type="BANK_TRANSFER",
            account_info=AccountInfo(
                account_no="0812323233332", account_type="SAVING", check_digit="7"
            ),
            target_org="BCA",
            payee_type="PERSONAL",
            bank_info=BankInfo(
                bank_code="NCBKSAJE",
                bank_name="Raiffeisenbank",
                bank_branch="001",
                bank_city="Jakarta",
                cor_account_no="30101810200000000700",
            ),
            name=Name(
                first_name="James",
                middle_name="Shri Williams",
                last_name="Kanta",
                full_name="James Shri Williams Kanta",
            ),
            document=Document(
                document_type="PASSPORT",
                document_id="X1234567",
                document_issue_date="2020-01-01",
                document_expire_date="2030-01-01",
            ),
            address=Address(
                address="Jl. Sudirman 1", city="Jakarta", state="DKI", zip_code="10110"
            ),
            payee_phone="08123456789",
            birth_date="1996-09-01",
            email="payee@example.com",
            payee_nationality="ID",
            payee_gender="M",
            payee_birth_country="ID",
        ),
        payer_info=PayerInfo(
            sub_merchant_no="SUB1",
            business_legal_name="Acme Pte Ltd",
            registration_country="SG",
            merchant_category_code="5816",
            payer_id="P1",
            name=PayerName(
                first_name="Ann", middle_name="B", last_name="Lee", full_name="Ann B Lee"
            ),
        ),
        risk_params=RiskParams(
            register_name="lily",
            register_no="R1",
            nick_name="lil",
            third_account_no_type="EMAIL",
            third_account_no="lily@example.com",
            bind_email="lily@example.com",
            bind_phone_no="987654232432",
            account_level="3",
            vip_level="2",
            reg_time="2023-07-01 12:08:34",
            last_login_time="2023-07-02 12:08:34",
            live_country="VN",
            tax_id="1234567890",
            cum_payout_amount="100.00",
            cum_payout_txn="3",
            account_balance="12.00",
            express_merchant_id="EM1",
        ),
        source_account="USD",
        destination_currency="IDR",
        charge_option="SHA",
        clearing_rail="LOCAL",
        user_id="abc123456789",
        expiry_days="3",
        remark="this is remark",
        reference="this is reference",
        notify_url="https://example.com/callback/",
        notify_email="notify@example.com",
        notify_phone="0811111111",
        purpose="GAME",
    )


def test_full_request_unstructures_to_camel_case() -> None:
    """Every nested object of a full PayoutRequest serialises to PayerMax's camelCase names."""
    assert unstructure(_full_model()) == FULL_WIRE


def test_full_request_round_trip() -> None:
    """wire → model → wire is lossless for a full request."""
    model = structure(FULL_WIRE, PayoutRequest, what="payout")
    assert model == _full_model()
    assert unstructure(model) == FULL_WIRE


def test_optional_fields_are_left_out() -> None:
    """None fields are not sent; empty strings are."""
    model = PayoutRequest(
        out_trade_no="A1",
        country="ID",
        trade=Trade(amount="10", currency="IDR"),
        payee_info=PayeeInfo(payment_method_type="WALLET", account_info=AccountInfo("1"), email=""),
    )
    assert unstructure(model) == {
        "outTradeNo": "A1",
        "country": "ID",
        "trade": {"amount": "10", "currency": "IDR"},
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "accountInfo": {"accountNo": "1"},
            "email": "",
        },
    }


def test_amounts_are_decimal_never_float() -> None:
    """Amounts are Decimal in the model and strings on the wire; a float is refused as trade.amount."""
    trade = Trade(amount="150000.50", currency="USD")
    assert trade.amount == Decimal("150000.50")
    assert unstructure(trade) == {"amount": "150000.50", "currency": "USD"}
    with pytest.raises(ValidationError, match=r"trade\.amount") as info:
        Trade(amount=1.5, currency="USD")  # type: ignore[arg-type]
    assert info.value.field == "trade.amount"
    with pytest.raises(ValidationError) as info:
        structure(
            FULL_WIRE | {"trade": {"amount": 100.0, "currency": "IDR"}}, PayoutRequest, what="p"
        )
    assert "trade.amount" in str(info.value)


def test_decimal_amounts_keep_their_scale() -> None:
    """ "1.0000000000" stays Decimal("1.0000000000") and goes out with its trailing zeros."""
    detail = structure({"amount": "3223.00", "exchangeRate": "1.0000000000"}, FundsDetail, what="d")
    assert str(detail.exchange_rate) == "1.0000000000"
    assert unstructure(detail) == {"amount": "3223.00", "exchangeRate": "1.0000000000"}


UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-12-02T11:35:17 +0000", datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)),
        ("2022-12-02T11:35:17Z", datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)),
        ("2022-12-02T19:35:17+08:00", datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)),
        ("2022-12-02T19:35:17+0800", datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)),
        ("2023-03-12 02:37:37", datetime(2023, 3, 12, 2, 37, 37, tzinfo=UTC)),
        ("2026-11-29T04:00:00.123+00:00", datetime(2026, 11, 29, 4, 0, 0, 123000, tzinfo=UTC)),
        ("2022-12-02T06:35:17-05:00", datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)),
    ],
)
def test_times_parse_leniently(text: str, expected: datetime) -> None:
    """Every time spelling PayerMax uses parses to the same instant, timezone-aware."""
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["", "   ", "yesterday", "2022-13-40T11:35:17Z", "2022-12-02T11:35:17+99:00", None, 5]
)
def test_unparseable_times_are_none(text: object) -> None:
    """Empty, malformed, impossible dates and impossible offsets give None, never an exception."""
    assert parse_time(text) is None


# ------------------------------------------------------------------ responses from the OpenAPI


def _example(openapi: dict[str, Any], path: str) -> dict[str, Any]:
    operation = openapi["paths"][path]["post"]
    content = operation["responses"]["200"]["content"]["application/json"]
    examples = content.get("examples")
    return examples["1"]["value"] if examples else content["example"]  # type: ignore[no-any-return]


def test_openapi_query_example_structures(openapi: dict[str, Any]) -> None:
    """The paymentOrderQry example becomes a PayoutOrder with exact Decimals and parsed times."""
    data = _example(openapi, "/aggregate-pay/api/gateway/paymentOrderQry")["data"]
    order = structure(data, PayoutOrder, what="paymentOrderQry data")
    assert order.status is PayoutStatus.SUCCESS
    assert order.is_final
    assert order.trade is not None
    assert order.trade.amount == Decimal("3223.59")
    assert order.trade.currency == "PHP"
    assert order.destination is not None
    assert order.source is not None
    assert str(order.destination.exchange_rate) == "1.0000000000"
    assert order.destination.fee == Decimal("0.59")
    assert str(order.source.tax) == "0.00"
    assert order.transaction_utc_time == datetime(2022, 12, 2, 11, 35, 17, tzinfo=UTC)
    assert order.pay_finish_time == datetime(2022, 12, 2, 11, 35, 23, tzinfo=UTC)
    assert order.bounce_back_time is None
    assert order.expiry_time is None
    assert order.response_code == ""
    assert order.additional_identifier == AdditionalIdentifier(
        reference_id="2024041710121481030100166528590615003"
    )
    assert order.extra == {}


def test_openapi_notification_example_structures(openapi: dict[str, Any]) -> None:
    """The notification example becomes a PayoutNotification whose data is a PayoutOrder."""
    operation = openapi["paths"]["/disbursementResultNotifyUrl"]["post"]
    document = operation["requestBody"]["content"]["application/json"]["example"]
    notification = structure(document, PayoutNotification, what="notification")
    assert notification.notify_type == "PAYOUT"
    assert notification.merchant_no == "010213834123456"
    assert notification.key_version == "1"
    assert notification.notify_time == datetime(2023, 3, 8, 16, 22, 5, tzinfo=UTC)
    order = notification.data
    assert order.status is PayoutStatus.SUCCESS
    assert order.source is not None
    assert order.source.amount == Decimal("31.00")
    assert order.source.fee == Decimal("1.00")
    assert str(order.source.exchange_rate) == "1.0000000000"
    assert order.expiry_time == datetime(2023, 3, 12, 2, 37, 37, tzinfo=UTC)
    assert order.redeem_code == "123456"
    assert notification.extra == {}


def test_unknown_fields_are_kept_at_every_level(openapi: dict[str, Any]) -> None:
    """Unknown response fields land in ``extra`` of the order, its funds details and identifiers."""
    data = _example(openapi, "/aggregate-pay/api/gateway/paymentOrderQry")["data"]
    data = data | {
        "newTopField": {"nested": [1, 2]},
        "source": data["source"] | {"newFundsField": "x"},
        "destination": data["destination"] | {"fxProvider": "Y"},
        "additionalIdentifier": {"referenceId": "R", "rrn": "123"},
    }
    order = structure(data, PayoutOrder, what="order")
    assert order.extra == {"newTopField": {"nested": [1, 2]}}
    assert order.source is not None
    assert order.source.extra == {"newFundsField": "x"}
    assert order.destination is not None
    assert order.destination.extra == {"fxProvider": "Y"}
    assert order.additional_identifier is not None
    assert order.additional_identifier.extra == {"rrn": "123"}
    result = structure({"outTradeNo": "A", "tradeNo": "T", "newThing": 1}, PayoutResult, what="r")
    assert result.extra == {"newThing": 1}
    assert result.status is PayoutStatus.PENDING
    validation = structure(
        {"validationCode": "PASS", "traceId": "t"}, FieldValidationResult, what="v"
    )
    assert validation.extra == {"traceId": "t"}
    notification = structure(
        {
            "notifyType": "PAYOUT",
            "merchantNo": "m",
            "appId": "a",
            "data": {"outTradeNo": "A", "status": "FAILED"},
            "bizType": "X",
        },
        PayoutNotification,
        what="n",
    )
    assert notification.extra == {"bizType": "X"}


def test_extra_is_written_back_on_unstructure() -> None:
    """A model's extra fields go back out on unstructure (forward compatible round trip)."""
    order = structure({"outTradeNo": "A", "status": "PENDING", "x": "1"}, PayoutOrder, what="o")
    assert unstructure(order) == {"outTradeNo": "A", "status": "PENDING", "x": "1"}


def test_validation_result_from_the_openapi_example(openapi: dict[str, Any]) -> None:
    """The paymentFieldValidation example gives failed, passed and ignored fields."""
    data = _example(openapi, "/aggregate-pay/api/gateway/paymentFieldValidation")["data"]
    result = structure(data, FieldValidationResult, what="validation")
    assert not result.ok
    assert result.validation_code == "PARAMS_INVALID"
    assert result.passed_fields == ("payeeInfo.name.fullName",)
    assert "remark" in result.ignored_fields
    assert [f.field for f in result.failed_fields] == [
        "payeeInfo.name.firstName",
        "payeeInfo.accountInfo.accountNo",
    ]
    assert result.failed_fields[1].error_msg == "Please enter numbers."


def test_malformed_response_data_is_a_validation_error() -> None:
    """Data without a required field or with an unknown status is a ValidationError."""
    with pytest.raises(ValidationError):
        structure({"status": "SUCCESS"}, PayoutOrder, what="order")
    with pytest.raises(ValidationError):
        structure({"outTradeNo": "A", "status": "WEIRD"}, PayoutOrder, what="order")
    with pytest.raises(ValidationError):
        structure(["not", "an", "object"], PayoutOrder, what="order")


# ------------------------------------------------------------------------------------ masking


def test_request_repr_masks_payee_data() -> None:
    """repr of a full request shows no account number, name, phone, email, document or address."""
    text = repr(_full_model())
    secrets = [
        "0812323233332",
        "James",
        "Kanta",
        "08123456789",
        "payee@example.com",
        "notify@example.com",
        "X1234567",
        "Jl. Sudirman",
        "1996-09-01",
        "30101810200000000700",
        "lily@example.com",
        "987654232432",
        "1234567890",
        "Ann B Lee",
    ]
    for secret in secrets:
        assert secret not in text, secret
    assert "…3332" in text  # the last four characters help to tell payouts apart


def test_order_repr_masks_contact_data(openapi: dict[str, Any]) -> None:
    """repr of a queried order does not show the notify email/phone or the redeem code."""
    data = _example(openapi, "/aggregate-pay/api/gateway/paymentOrderQry")["data"]
    text = repr(structure(data | {"redeemCode": "RC-998877"}, PayoutOrder, what="o"))
    for secret in ("example@gmail.com", "79189772406", "RC-998877"):
        assert secret not in text


def test_status_helpers() -> None:
    """PayoutStatus is a str enum; PENDING is the only non-final status."""
    assert PayoutStatus("SUCCESS") == "SUCCESS"
    assert [s.is_final for s in PayoutStatus] == [False, True, True, True]
    assert PayoutOrder(out_trade_no="A", status=PayoutStatus.PENDING).is_final is False
    assert datetime(2020, 1, 1, tzinfo=UTC) + timedelta(0) == parse_time("2020-01-01")

"""The masking point: payee fields come from PayerMax's schema, and a DEBUG log holds no payee value."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from payermax_async import PayerMaxClient
from payermax_async._redact import (
    _SCHEMA_PAYEE_FIELDS,
    PAYEE_SECTIONS,
    ROUTING_CODES,
    redact,
    redact_message,
)
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.payee_fields import OPENAPI, payee_fields, python_block
from tests.support.sandbox import gateway

__all__ = ["gateway"]

#: Top-level fields of a payout that hold personal data or free text (not in a payee section).
FREE_TEXT_AND_CONTACTS = ("remark", "reference", "userId", "notifyEmail", "notifyPhone")


def test_the_masked_payee_fields_are_the_schemas() -> None:
    """_redact's generated list is exactly the leaves of the schema's payee sections (no drift)."""
    expected = payee_fields()
    assert expected == _SCHEMA_PAYEE_FIELDS, (
        "PayerMax's schema changed: paste this into payermax_async/_redact.py\n"
        + python_block(expected)
    )
    # The generator is not vacuous: it finds the fields the issue named.
    assert {"city", "state", "zipCode", "payeeGender", "payeeNationality"} <= set(expected)


def test_routing_codes_are_schema_fields_and_nothing_personal() -> None:
    """The few fields logged in clear inside a payee section exist in the schema and name no one."""
    assert set(ROUTING_CODES) <= set(_SCHEMA_PAYEE_FIELDS)
    for personal in ("accountNo", "fullName", "email", "payeeGender", "city", "documentId"):
        assert personal not in ROUTING_CODES


def full_payout() -> dict[str, Any]:
    """PayerMax's own example with every payee, payer and risk field filled with a distinct value."""
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    path = "/aggregate-pay/api/gateway/paymentOrderPay"
    data = copy.deepcopy(
        document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"][
            "data"
        ]
    )
    data["outTradeNo"] = "redact_full_0001"
    payee = data["payeeInfo"]
    payee["accountInfo"]["checkDigit"] = "77"
    payee["bankInfo"].update(
        bankBranch="Kebayoran Baru Branch", bankCity="Tangerang Selatan", corAccountNo="5566778899"
    )
    payee["document"].update(
        documentType="PASSPORT",
        documentId="X9912345",
        documentIssueDate="2020-01-02",
        documentExpireDate="2030-01-01",
    )
    payee["address"].update(
        address="Jalan Melati 12", city="Quezonville", state="Banten Raya", zipCode="15413"
    )
    data["payerInfo"].update(
        businessLegalName="Warung Sejahtera Abadi", registrationCountry="SG", payerId="P77661"
    )
    data["riskParams"].update(nickName="lilybird", registerNo="reg-88121", thirdAccountNo="fb-9931")
    data.update(
        remark="bonus for Lily Tanoto",
        reference="invoice Lily 2026-11",
        notifyPhone="6281299988877",
    )
    return data


def personal_values(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(dotted path, value)`` of every non-empty value that identifies the payee or payer."""

    def walk(node: object, path: str, inside: bool) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            for key, value in node.items():
                name = key.strip()
                yield from walk(value, f"{path}{name}.", inside or name in PAYEE_SECTIONS)
        elif (
            inside
            and node not in ("", None)
            and path.rstrip(".").split(".")[-1] not in (ROUTING_CODES)
        ):
            yield path.rstrip("."), str(node)

    yield from walk({k: v for k, v in data.items() if k not in FREE_TEXT_AND_CONTACTS}, "", False)
    for name in FREE_TEXT_AND_CONTACTS:
        if data.get(name):
            yield name, str(data[name])


def at(document: object, path: str) -> object:
    """The value at a dotted path of a nested mapping."""
    for part in path.split("."):
        assert isinstance(document, dict)
        document = document[part] if part in document else document[part + " "]
    return document


async def test_a_debug_log_of_a_full_payout_holds_none_of_its_payee_values(
    gateway: SandboxGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Every payee, payer and risk value, the address, gender, nationality, remark and reference
    of a payout sent at DEBUG are masked to at most their last four characters in the log."""
    data = full_payout()
    values = list(personal_values(data))
    assert len(values) >= 35  # the request really is full
    with caplog.at_level(logging.DEBUG, logger="payermax_async"):
        async with PayerMaxClient(gateway.config(), retry=fast_retry_policy()) as client:
            await client.payouts.create(data)
    [record] = [r for r in caplog.records if r.getMessage().startswith("payermax request pay")]
    logged = record.args[-1] if isinstance(record.args, tuple) else None
    assert isinstance(logged, dict)
    text = caplog.text
    for path, value in values:
        shown = at(logged, path)
        assert shown in ("****", f"…{value[-4:]}"), path
        if len(value) > 4:
            assert value not in text, path
    assert at(logged, "payeeInfo.paymentMethodType") == "WALLET"  # routing codes stay readable
    assert at(logged, "trade.amount") == "100"


def test_gateway_messages_fields_are_masked_in_logged_answers() -> None:
    """An answer's msg or responseMsg echoing a name is masked when logged; codes stay readable."""
    safe = redact({"code": "PARAMS_INVALID", "msg": "Name 'lily tanoto' does not match"})
    assert safe == {"code": "PARAMS_INVALID", "msg": "Name '…noto' does not match"}
    order = redact({"status": "FAILED", "responseMsg": "Account holder LILY TANOTO mismatch"})
    assert order == {"status": "FAILED", "responseMsg": "Account holder …NOTO mismatch"}


@pytest.mark.parametrize(
    ("message", "hidden", "kept"),
    [
        ("Name 'siti rahayu' does not match", "siti rahayu", "does not match"),
        ('Payee "Budi" is blocked', "Budi", "is blocked"),
        ("Account holder SITI RAHAYU mismatch", "SITI RAHAYU", "Account holder"),
        ("Siti Rahayu is not the account holder", "Siti Rahayu", "is not the account holder"),
        ("Jean-Luc O'Brien mismatch", "Jean-Luc O'Brien", "mismatch"),
        ("The targetOrg is incorrect.", None, "The targetOrg is incorrect."),
        ("Field 'payeeInfo.accountInfo.accountNo' is invalid", None, "payeeInfo.accountInfo"),
        ("The field 'amount' is invalid", None, "'amount'"),
        ('Field "trade.amount" is wrong', None, '"trade.amount"'),
    ],
)
def test_redact_message_masks_names_and_keeps_field_names(
    message: str, hidden: str | None, kept: str
) -> None:
    """Quoted values and capitalised name runs are masked; field names and plain prose are kept."""
    masked = redact_message(message)
    if hidden is not None:
        assert hidden not in masked
    assert kept in masked

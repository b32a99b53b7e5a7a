"""Issue 12 end to end: every class of hostile input ends as a ValidationError naming the field by
its wire path, without payee data in the message, before anything reaches the (real, loopback)
sandbox gateway and before anything is written to the journal."""

from __future__ import annotations

import math
from collections.abc import Awaitable
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import aiohttp
import pytest

from payermax_async import PayerMaxClient, PayoutRequest, ValidationError
from payermax_async.models import AccountInfo, Name, PayeeInfo, Trade
from payermax_async.sandbox import SandboxGateway
from tests.support.sandbox import payout

#: Payee data in every request below; no message may contain any of it.
PAYEE_DATA = ("081234567890", "Siti Rahayu", "7890")


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["x"] = {}
        node = node["x"]
    return root


def _with(path: str, value: object, base: dict[str, Any] | None = None) -> dict[str, Any]:
    data = base if base is not None else payout("bad_1")
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


async def refused(
    gateway: SandboxGateway, client: PayerMaxClient, call: Awaitable[object], field: str | None
) -> ValidationError:
    """Await ``call``, expecting a ValidationError for ``field`` and no trace anywhere."""
    with pytest.raises(ValidationError) as info:
        await call
    error = info.value
    assert error.field == field
    if field is not None:
        assert field in str(error)
    for secret in PAYEE_DATA:
        assert secret not in str(error)
    assert gateway.ledger.post_count() == 0
    assert await client.store.get("bad_1") is None
    return error


MAPPING_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "surrogate in a name",
        _with("payeeInfo.name.fullName", "Siti \ud800"),
        "payeeInfo.name.fullName",
    ),
    ("surrogate in remark", _with("remark", "\udfff"), "remark"),
    ("surrogate in an unknown key", _with("extra.note", "a\ud800"), "extra.note"),
    ("surrogate as a key", _with("extra", {"\ud800": 1}), "extra.\\ud800"),
    ("nesting 100,000 deep", _with("extra", _nested(100_000)), "extra" + ".x" * 15),
    (
        "nesting in a known field",
        _with("payeeInfo.name.fullName", _nested(100_000)),
        "payeeInfo.name.fullName",
    ),
    (
        "a list nested deep",
        _with("extra", [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]),
        "extra" + "[0]" * 15,
    ),
    ("NaN", _with("extra", math.nan), "extra"),
    ("infinity", _with("riskParams.extraScore", math.inf), "riskParams.extraScore"),
    ("an int no JSON reader holds", _with("extra", 10**40), "extra"),
    ("a huge Decimal amount", _with("trade.amount", Decimal("1E+999999999")), "trade.amount"),
    ("a huge Decimal elsewhere", _with("extra", Decimal("1E+999999")), "extra"),
    ("a non-string key", _with("extra", {1: "x"}), "extra"),
    ("a mapping that is not a dict", _with("extra", MappingProxyType({})), "extra"),
    ("bytes", _with("extra", b"x"), "extra"),
    ("a 10 MB remark", _with("remark", "x" * 10_000_000), "remark"),
    ("10 MB under an unknown key", _with("blob", "x" * 10_000_000), "blob"),
    (
        "a control character in a name",
        _with("payeeInfo.name.fullName", "Siti\nRahayu"),
        "payeeInfo.name.fullName",
    ),
    (
        "a bidi override in a name",
        _with("payeeInfo.name.lastName", "\u202eayahaR"),
        "payeeInfo.name.lastName",
    ),
    (
        "a bidi isolate in the payer",
        _with("payerInfo.name.fullName", "\u2067x"),
        "payerInfo.name.fullName",
    ),
    (
        "a zero byte in the account",
        _with("payeeInfo.accountInfo.accountNo", "0812\x00"),
        "payeeInfo.accountInfo.accountNo",
    ),
    ("WALLET without targetOrg", _with("payeeInfo.targetOrg", None), "payeeInfo.targetOrg"),
    ("WALLET with a blank targetOrg", _with("payeeInfo.targetOrg", "  "), "payeeInfo.targetOrg"),
    (
        "CASH without targetOrg",
        _with("payeeInfo.paymentMethodType", "CASH", _with("payeeInfo.targetOrg", None)),
        "payeeInfo.targetOrg",
    ),
    (
        "ATM_CARD without targetOrg",
        _with("payeeInfo.paymentMethodType", "ATM_CARD", _with("payeeInfo.targetOrg", None)),
        "payeeInfo.targetOrg",
    ),
    ("payeeGender X", _with("payeeInfo.payeeGender", "X"), "payeeInfo.payeeGender"),
    ("payeeGender lower case", _with("payeeInfo.payeeGender", "f"), "payeeInfo.payeeGender"),
    (
        "payeeNationality lower case",
        _with("payeeInfo.payeeNationality", "id"),
        "payeeInfo.payeeNationality",
    ),
    (
        "payeeBirthCountry alpha-3",
        _with("payeeInfo.payeeBirthCountry", "IDN"),
        "payeeInfo.payeeBirthCountry",
    ),
    (
        "registrationCountry lower case",
        _with("payerInfo.registrationCountry", "sg"),
        "payerInfo.registrationCountry",
    ),
    (
        "registrationCountry a name",
        _with("payerInfo.registrationCountry", "Singapore"),
        "payerInfo.registrationCountry",
    ),
    (
        "notifyUrl with credentials",
        _with("notifyUrl", "https://user:pw@example.com/cb"),
        "notifyUrl",
    ),
    ("notifyUrl with a space", _with("notifyUrl", "https://exa mple.com/cb"), "notifyUrl"),
    ("notifyUrl with a bad port", _with("notifyUrl", "https://example.com:99999/cb"), "notifyUrl"),
    ("notifyUrl not ASCII", _with("notifyUrl", "https://exämple.com/cb"), "notifyUrl"),
    ("notifyUrl without a host", _with("notifyUrl", "https:///cb"), "notifyUrl"),
    ("notifyUrl with a bad host", _with("notifyUrl", "https://-bad-.example/cb"), "notifyUrl"),
    ("notifyUrl of another scheme", _with("notifyUrl", "javascript:alert(1)"), "notifyUrl"),
    ("amount 1e3", _with("trade.amount", "1e3"), "trade.amount"),
    ("amount 1_000", _with("trade.amount", "1_000"), "trade.amount"),
    ("amount with spaces", _with("trade.amount", " 2000 "), "trade.amount"),
    ("amount in Arabic-Indic digits", _with("trade.amount", "١٠٠٠"), "trade.amount"),
    ("IDR with decimals", _with("trade.amount", "150000.00"), "trade.amount"),
    ("COP with decimals", _with("trade", {"amount": "1000.50", "currency": "COP"}), "trade.amount"),
    ("PKR with decimals", _with("trade", {"amount": "100.5", "currency": "PKR"}), "trade.amount"),
    ("KMF with decimals", _with("trade", {"amount": "10.5", "currency": "KMF"}), "trade.amount"),
]


@pytest.mark.parametrize(
    ("data", "field"), [c[1:] for c in MAPPING_CASES], ids=[c[0] for c in MAPPING_CASES]
)
async def test_hostile_mappings_are_refused_before_anything_leaves(gateway, client, data, field):
    """Each class of hostile mapping is a ValidationError naming its field; zero requests sent."""
    await refused(gateway, client, client.payouts.create(data), field)


async def test_a_bank_transfer_needs_no_target_org(gateway, client):
    """The targetOrg rule is PayerMax's per method: a BANK_TRANSFER without one is sent (control)."""
    data = _with("payeeInfo.paymentMethodType", "BANK_TRANSFER", _with("payeeInfo.targetOrg", None))
    await client.payouts.create(data)
    assert gateway.ledger.post_count() == 1


def _model(**changes: Any) -> PayoutRequest:
    fields: dict[str, Any] = {
        "out_trade_no": "bad_1",
        "country": "ID",
        "trade": Trade(amount="15000", currency="IDR"),
        "payee_info": PayeeInfo(
            payment_method_type="WALLET",
            target_org="DANA",
            account_info=AccountInfo(account_no="081234567890"),
            name=Name(full_name="Siti Rahayu"),
        ),
    }
    return PayoutRequest(**(fields | changes))


MODEL_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("trade as a dict", {"trade": {"amount": "15000", "currency": "IDR"}}, "trade"),
    ("payee as a dict", {"payee_info": {"paymentMethodType": "WALLET"}}, "payeeInfo"),
    ("a number as outTradeNo", {"out_trade_no": 12345}, "outTradeNo"),
    ("a number as remark", {"remark": 7}, "remark"),
    (
        "name as a dict",
        {
            "payee_info": PayeeInfo(
                "WALLET", AccountInfo("1"), target_org="DANA", name={"fullName": "x"}
            )
        },
        "payeeInfo.name",
    ),
    (
        "account number None",
        {"payee_info": PayeeInfo("WALLET", AccountInfo(None), target_org="DANA")},
        "payeeInfo.accountInfo.accountNo",
    ),
    ("a surrogate in a model", {"remark": "\ud800"}, "remark"),
    (
        "a bidi override in a model name",
        {
            "payee_info": PayeeInfo(
                "WALLET", AccountInfo("1"), target_org="DANA", name=Name(full_name="\u202ex")
            )
        },
        "payeeInfo.name.fullName",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES]
)
async def test_badly_typed_models_are_refused_naming_the_field(gateway, client, changes, field):
    """A wrongly typed model field (trade=dict, ...) is a ValidationError for its path; none sent."""
    await refused(gateway, client, client.payouts.create(_model(**changes)), field)


TIMEOUTS: list[tuple[object, str]] = [
    (math.nan, "timeout"),
    (math.inf, "timeout"),
    (-1.0, "timeout"),
    (0, "timeout"),
    (10**400, "timeout"),
    ("30", "timeout"),
    (aiohttp.ClientTimeout(total=math.inf), "timeout.total"),
    (aiohttp.ClientTimeout(total=None, sock_read=math.nan), "timeout.sock_read"),
]


@pytest.mark.parametrize(("timeout", "field"), TIMEOUTS, ids=[repr(t)[:40] for t, _ in TIMEOUTS])
async def test_unusable_timeouts_are_refused_and_leave_nothing_in_doubt(
    gateway, client, timeout, field
):
    """NaN, infinite, non-positive, absurd timeouts: refused, none sent, nothing left IN_DOUBT."""
    await refused(gateway, client, client.payouts.create(payout("bad_1"), timeout=timeout), field)


async def test_other_operations_refuse_hostile_input_before_io(gateway, client):
    """validate(), retrieve() and wait_until_final() refuse their hostile inputs the same way."""
    data = _with("payeeInfo.name.fullName", "\ud800", payout("bad_1"))
    del data["outTradeNo"], data["trade"]
    await refused(gateway, client, client.payouts.validate(data), "payeeInfo.name.fullName")
    deep = {"country": "ID", "payeeInfo": {"paymentMethodType": "BANK_TRANSFER"}} | {
        "x": _nested(10**5)
    }
    await refused(gateway, client, client.payouts.validate(deep), "x" + ".x" * 15)
    await refused(gateway, client, client.payouts.retrieve("\ud800"), "outTradeNo")
    await refused(
        gateway, client, client.payouts.wait_until_final("bad_1", timeout=10**400), "timeout"
    )
    await refused(
        gateway,
        client,
        client.payouts.wait_until_final("bad_1", timeout=5, poll_interval=math.nan),
        "poll_interval",
    )

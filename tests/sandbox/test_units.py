"""The sandbox's pure parts: UAT outcome rules, fees, the ledger, field checks and the fault RNG."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from payermax_async import PayoutStatus
from payermax_async.sandbox import Fault, FaultKind, FaultSet, Ledger
from payermax_async.sandbox._validation import (
    Rejected,
    check_batch_query,
    check_payout,
    field_verdicts,
)
from payermax_async.sandbox.ledger import outcome_for
from tests.support.sandbox import payout


@pytest.mark.parametrize(
    ("amount", "remark", "outcome"),
    [
        ("110", None, PayoutStatus.FAILED),
        ("110.00", None, PayoutStatus.FAILED),
        ("11000", None, PayoutStatus.FAILED),
        ("100", None, PayoutStatus.PENDING),
        ("10000.0", None, PayoutStatus.PENDING),
        ("15000", None, PayoutStatus.SUCCESS),
        ("1100", None, PayoutStatus.SUCCESS),
        ("110", "SUCCESS", PayoutStatus.SUCCESS),
        ("15000", "FAILED", PayoutStatus.FAILED),
        ("100", "BOUNCEBACK", PayoutStatus.BOUNCEBACK),
        ("110", "bounceback", PayoutStatus.FAILED),
    ],
)
def test_uat_outcome_triggers(amount, remark, outcome):
    """docs/protocol.md §9: remark wins (exact match), amounts compare numerically."""
    data = payout("u_1", amount)
    if remark is not None:
        data["remark"] = remark
    assert outcome_for(data) is outcome


def test_order_wire_shape_and_fees():
    """Query data: source = trade amount + fee at the currency's precision; times in +0000 form."""
    ledger = Ledger()
    data = payout("u_fee", "3223.59")
    data["trade"]["currency"] = "PHP"
    moment = datetime(2026, 3, 8, 10, 22, 5, tzinfo=timezone.utc)
    order = ledger.add_order(data, status=PayoutStatus.SUCCESS, created_at=moment)
    wire = order.to_wire()
    assert wire["trade"] == {"amount": "3223.59", "currency": "PHP"}
    assert wire["source"]["fee"] == "32.24"
    assert wire["source"]["amount"] == "3255.83"
    assert wire["destination"]["amount"] == "3223.59"
    assert wire["transactionUtcTime"] == "2026-03-08T10:22:05 +0000"
    assert wire["status"] == "SUCCESS"
    assert "subStatus" not in wire


def test_ledger_window_filters_and_orders_by_creation():
    """window() keeps [begin, end] by whole seconds, oldest first, filtered by status/country."""
    ledger = Ledger()
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ledger.add_order(payout("w_late"), created_at=base + timedelta(hours=2))
    ledger.add_order(payout("w_early"), created_at=base + timedelta(hours=1, microseconds=900))
    ledger.add_order(payout("w_failed"), status=PayoutStatus.FAILED, created_at=base)
    ledger.add_order(payout("w_out"), created_at=base + timedelta(days=2))
    end = base + timedelta(hours=2)
    assert [o.out_trade_no for o in ledger.window(base, end)] == ["w_failed", "w_early", "w_late"]
    assert [o.out_trade_no for o in ledger.window(base, end, status="FAILED")] == ["w_failed"]
    assert ledger.window(base, end, country="PH") == []
    with pytest.raises(ValueError, match="already exists"):
        ledger.add_order(payout("w_late"))


def test_post_count_filters():
    """post_count() counts by API and outTradeNo."""
    ledger = Ledger()
    ledger.record_post("paymentOrderPay", "a")
    ledger.record_post("paymentOrderPay", "a")
    ledger.record_post("paymentOrderQry", "a")
    ledger.record_post("paymentOrderBatchQry", None)
    assert ledger.post_count() == 4
    assert ledger.post_count(api="paymentOrderPay") == 2
    assert ledger.post_count(out_trade_no="a") == 3
    assert ledger.post_count(api="paymentOrderQry", out_trade_no="b") == 0


@pytest.mark.parametrize(
    ("change", "code", "msg"),
    [
        (lambda d: d.pop("outTradeNo"), "PARAMS_INVALID", "The outTradeNo is required."),
        (
            lambda d: d.update(outTradeNo="has-dash"),
            "PARAMS_INVALID",
            "The outTradeNo is incorrect.",
        ),
        (lambda d: d.update(country="id"), "PARAMS_INVALID", "The country is incorrect."),
        (lambda d: d["trade"].update(amount="12.5"), "AMOUNT_INVALID", "The amount is invalid."),
        (lambda d: d["trade"].update(amount="0"), "AMOUNT_INVALID", "The amount is invalid."),
        (lambda d: d["trade"].update(amount=15000), "PARAMS_INVALID", "The amount is incorrect."),
        (
            lambda d: d["payeeInfo"].pop("targetOrg"),
            "PARAMS_INVALID",
            "The targetOrg is incorrect.",
        ),
        (
            lambda d: d["payeeInfo"]["accountInfo"].update(accountNo="08ab"),
            "PARAMS_INVALID",
            "The payment account info format is incorrect.",
        ),
        (
            lambda d: d["payeeInfo"]["name"].update(fullName="x" * 513),
            "PARAMS_INVALID",
            "The fullName should not exceed 512 characters",
        ),
        (lambda d: d.update(notifyUrl="ftp://x"), "PARAMS_INVALID", "The notifyUrl is incorrect."),
    ],
)
def test_payout_checks_answer_like_payermax(change, code, msg):
    """Each broken rule yields PayerMax's code and message."""
    data = payout("v_1")
    change(data)
    with pytest.raises(Rejected) as caught:
        check_payout(data)
    assert (caught.value.code, caught.value.msg) == (code, msg)


def test_payout_checks_keep_empty_strings_and_unknown_keys():
    """Empty optional strings and unknown keys are accepted, as PayerMax's own examples need."""
    data = payout("v_ok", bankInfo={"bankCode": ""}, expiryDays="3", surprise={"x": 1})
    data["payeeInfo"]["payeeType "] = "PERSONAL"
    data["payeeInfo"]["document"] = {"documentType": "", "documentIssueDate": ""}
    assert check_payout(data) is data


def test_field_validation_verdicts():
    """A non-numeric DANA account fails with "Please enter numbers."; empty fields are not listed."""
    data = {
        "country": "ID",
        "payeeInfo": {
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "accountInfo": {"accountNo": "08-AB", "accountType": ""},
            "name": {"fullName": "Siti Rahayu"},
            "address": {"city": "Jakarta"},
        },
    }
    verdict = field_verdicts(data)
    assert verdict["validationCode"] == "PARAMS_INVALID"
    assert verdict["validationFailedFields"] == [
        {"field": "payeeInfo.accountInfo.accountNo", "errorMsg": "Please enter numbers."}
    ]
    assert verdict["validationPassedFields"] == [{"field": "payeeInfo.name.fullName"}]
    assert verdict["ignoredFields"] == [{"field": "payeeInfo.address.city"}]
    data["payeeInfo"]["accountInfo"]["accountNo"] = "081234567890"
    assert field_verdicts(data)["validationCode"] == "PASS"


def test_field_validation_needs_a_country_and_payee():
    """Without country or payeeInfo the request itself is PARAMS_INVALID."""
    with pytest.raises(Rejected, match="payeeInfo"):
        field_verdicts({"country": "ID"})
    with pytest.raises(Rejected, match="country"):
        field_verdicts({"payeeInfo": {"paymentMethodType": "WALLET", "targetOrg": "DANA"}})


def test_batch_query_defaults():
    """pageSize defaults to 20 and currentPageIndex to 1; numeric strings are accepted."""
    query = check_batch_query(
        {"queryBeginTime": "2026-01-01 00:00:00", "queryEndTime": "2026-01-02 00:00:00"}
    )
    assert (query.page_size, query.page) == (20, 1)
    query = check_batch_query(
        {
            "queryBeginTime": "2026-01-01 00:00:00",
            "queryEndTime": "2026-01-01 00:00:00",
            "pageSize": "100",
            "currentPageIndex": "3",
        }
    )
    assert (query.page_size, query.page) == (100, 3)
    with pytest.raises(Rejected, match="currentPageIndex"):
        check_batch_query(
            {
                "queryBeginTime": "2026-01-01 00:00:00",
                "queryEndTime": "2026-01-01 00:00:00",
                "currentPageIndex": 0,
            }
        )


def test_fault_draws_are_reproducible_for_a_seed():
    """The same seed and requests give the same faults; a different seed differs."""

    def pattern(seed):
        faults = FaultSet(seed)
        faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, rate=0.5))
        return [faults.draw("paymentOrderPay", str(i)) is not None for i in range(40)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 5 < sum(pattern(7)) < 35


def test_first_fault_that_fires_wins_and_times_bound_it():
    """Registration order decides; a spent fault lets the next one act."""
    faults = FaultSet()
    first = faults.add(Fault(FaultKind.RESET_BEFORE_READ, times=2))
    second = faults.add(Fault(FaultKind.RATE_LIMIT))
    drawn = [faults.draw("paymentOrderPay", None) for _ in range(3)]
    assert drawn == [first, first, second]
    assert (first.fired, second.fired, len(faults)) == (2, 1, 2)


@pytest.mark.parametrize("kwargs", [{"rate": 1.5}, {"rate": -0.1}, {"times": -1}, {"delay": -1.0}])
def test_fault_arguments_are_checked(kwargs):
    """Impossible rates, counts and delays are refused at construction."""
    with pytest.raises(ValueError):  # noqa: PT011
        Fault(FaultKind.DELAY, **kwargs)


def test_fault_kind_accepts_its_name():
    """A kind may be given by name; before_commit tells which kinds commit nothing."""
    assert Fault("DELAY").kind is FaultKind.DELAY
    assert {kind for kind in FaultKind if kind.before_commit} == {
        FaultKind.RESET_BEFORE_READ,
        FaultKind.HTTP_503_BEFORE_COMMIT,
        FaultKind.SYSTEM_ERROR_BEFORE_COMMIT,
        FaultKind.RATE_LIMIT,
        FaultKind.REJECT,
        FaultKind.UNSIGNED_ERROR,
    }

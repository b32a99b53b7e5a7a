"""The sandbox gateway's own checks of request ``data``, with PayerMax-style verdicts.

Independent of the client's local checks (``payermax_async.protocol.rules``) on purpose: the sandbox plays the
server, so its rules are written from the OpenAPI file (required fields, max lengths, formats) and
answer the way PayerMax does: one ``PARAMS_INVALID`` message per refused request ("The targetOrg is
incorrect."), or per-field verdicts for ``paymentFieldValidation``. What both sides must judge alike
is shared: the field table with its lengths (``protocol.fields``), the value formats
(``protocol.formats``) and the currency precision table (``protocol.currencies``), so an amount the
client lets through the sandbox accepts, and the other way round.

Sandbox-specific account rules (documented, so tests can rely on them): a ``WALLET`` account number,
and a ``BANK_TRANSFER`` account number in Indonesia, must be digits (an optional leading ``+``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import attrs

from ..models.payouts import PayoutStatus
from ..protocol.currencies import amount_decimals
from ..protocol.fields import PAYOUT_SPEC, VALIDATION_SPEC, Spec
from ..protocol.formats import COUNTRY, has_control_characters, is_date, is_http_url
from ..protocol.rules import TARGET_ORG_METHODS, get_path

__all__ = [
    "BatchQuery",
    "Rejected",
    "check_batch_query",
    "check_payout",
    "check_query",
    "field_verdicts",
]

_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,63}")
_COUNTRY = COUNTRY
_CURRENCY = re.compile(r"[A-Z]{3}")
# ASCII digits only (\d would also take "١٠٠"); the 12-character limit is checked with the lengths.
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_PAYEE_COUNTRIES = ("payeeInfo.payeeNationality", "payeeInfo.payeeBirthCountry")
_STATUSES = frozenset(status.value for status in PayoutStatus)
_CODE = re.compile(r"[A-Za-z0-9_]{1,64}")
_DIGITS = re.compile(r"\+?\d{4,40}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_NAME_CHARS = re.compile(r"[A-Za-z .,'\-]*")
_BATCH_TIME = "%Y-%m-%d %H:%M:%S"
_RAILS = frozenset({"SWIFT", "SEPA", "LOCAL"})
_GENDERS = frozenset({"F", "M"})
#: Fields that route a payout rather than describe the payee: field validation does not list them.
_ROUTING = frozenset(
    {
        "country",
        "sourceAccount",
        "destinationCurrency",
        "chargeOption",
        "clearingRail",
        "expiryDays",
        "purpose",
        "payeeInfo.paymentMethodType",
        "payeeInfo.targetOrg",
        "payeeInfo.payeeType",
    }
)
MAX_PAGE_SIZE = 100
MAX_WINDOW = timedelta(days=1)


class Rejected(Exception):
    """A request the gateway refuses: ``code`` (``PARAMS_INVALID``, ...) and PayerMax's ``msg``."""

    def __init__(self, msg: str, code: str = "PARAMS_INVALID") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _incorrect(path: str) -> Rejected:
    return Rejected(f"The {_leaf(path)} is incorrect.")


def _text(data: Mapping[str, object], path: str) -> str:
    value = get_path(data, path)
    return value if isinstance(value, str) else ""


def _required(data: Mapping[str, object], path: str) -> str:
    value = get_path(data, path)
    if value is None or value == "":
        msg = f"The {_leaf(path)} is required."
        raise Rejected(msg)
    if not isinstance(value, str):
        raise _incorrect(path)
    return value


def _leaves(
    data: Mapping[str, object], spec: Spec, prefix: str = ""
) -> Iterator[tuple[str, object]]:
    """Every known field present in ``data``: ``(dotted path, value)``; objects are checked as such."""
    for key, rule in spec.items():
        if key not in data or data[key] is None:
            continue
        value, path = data[key], f"{prefix}{key}"
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping):
                raise _incorrect(path)
            yield from _leaves(value, rule, f"{path}.")
        else:
            yield path, value


def _max_length(spec: Spec, path: str) -> int | None:
    node: object = spec
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, int) else None


def _too_long(path: str, limit: int) -> str:
    return f"The {path} should not exceed {limit} characters"


def _check_shapes(data: Mapping[str, object], spec: Spec) -> None:
    for path, value in _leaves(data, spec):
        if not isinstance(value, str):
            raise _incorrect(path)
        limit = _max_length(spec, path)
        if limit is not None and len(value) > limit:
            raise Rejected(_too_long(_leaf(path), limit))
        if has_control_characters(value):
            raise _incorrect(path)


def account_problem(data: Mapping[str, object]) -> str | None:
    """Why the payee account number is unusable (PayerMax's field message), or ``None``."""
    method = _text(data, "payeeInfo.paymentMethodType")
    account = _text(data, "payeeInfo.accountInfo.accountNo")
    numeric = method == "WALLET" or (method == "BANK_TRANSFER" and _text(data, "country") == "ID")
    if account and numeric and not _DIGITS.fullmatch(account):
        return "Please enter numbers."
    return None


def _check_common(data: Mapping[str, object]) -> None:
    """Format rules shared by payouts and field validation (first problem wins)."""
    if not _COUNTRY.fullmatch(_required(data, "country")):
        raise _incorrect("country")
    for path in ("sourceAccount", "destinationCurrency"):
        value = _text(data, path)
        if value and not _CURRENCY.fullmatch(value):
            raise _incorrect(path)
    rail = _text(data, "clearingRail")
    if rail and rail not in _RAILS:
        raise _incorrect("clearingRail")
    method = _required(data, "payeeInfo.paymentMethodType")
    if not _CODE.fullmatch(method):
        raise _incorrect("payeeInfo.paymentMethodType")
    target_org = _text(data, "payeeInfo.targetOrg")
    needs_org = method in TARGET_ORG_METHODS
    if (needs_org and not target_org) or (target_org and not _CODE.fullmatch(target_org)):
        raise _incorrect("payeeInfo.targetOrg")
    gender = _text(data, "payeeInfo.payeeGender")
    if gender and gender not in _GENDERS:
        raise _incorrect("payeeInfo.payeeGender")
    for path in _PAYEE_COUNTRIES:
        value = _text(data, path)
        if value and not _COUNTRY.fullmatch(value):
            raise _incorrect(path)


def check_payout(data: object) -> Mapping[str, object]:
    """Check ``paymentOrderPay`` data; return it.

    Raises:
        Rejected: the first problem, as PayerMax words it.
    """
    if not isinstance(data, Mapping):
        msg = "The data is incorrect."
        raise Rejected(msg)
    out_trade_no = _required(data, "outTradeNo")
    if not _OUT_TRADE_NO.fullmatch(out_trade_no):
        raise _incorrect("outTradeNo")
    for path in ("trade", "payeeInfo", "payeeInfo.accountInfo"):
        if not isinstance(get_path(data, path), Mapping):
            msg = f"The {_leaf(path)} is required."
            raise Rejected(msg)
    _check_shapes(data, PAYOUT_SPEC)
    currency = _required(data, "trade.currency")
    if not _CURRENCY.fullmatch(currency):
        raise _incorrect("trade.currency")
    amount_text = _required(data, "trade.amount")
    if not _AMOUNT.fullmatch(amount_text):
        raise _incorrect("trade.amount")
    amount = Decimal(amount_text)
    # Decimals as written: "150000.00" has two, which IDR does not take (the client's rule too).
    decimals = len(amount_text.partition(".")[2])
    allowed = amount_decimals(
        currency, _text(data, "country"), _text(data, "payeeInfo.paymentMethodType")
    )
    if amount <= 0 or decimals > allowed:
        msg = "The amount is invalid."
        raise Rejected(msg, code="AMOUNT_INVALID")
    _check_common(data)
    registration = _text(data, "payerInfo.registrationCountry")
    if registration and not _COUNTRY.fullmatch(registration):
        raise _incorrect("payerInfo.registrationCountry")
    _required(data, "payeeInfo.accountInfo.accountNo")
    if account_problem(data) is not None:
        msg = "The payment account info format is incorrect."
        raise Rejected(msg)
    for path in ("payeeInfo.email", "notifyEmail"):
        value = _text(data, path)
        if value and not _EMAIL.fullmatch(value):
            raise _incorrect(path)
    for path in (
        "payeeInfo.birthDate",
        "payeeInfo.document.documentIssueDate",
        "payeeInfo.document.documentExpireDate",
    ):
        value = _text(data, path)
        if value and not is_date(value):
            raise _incorrect(path)
    notify_url = _text(data, "notifyUrl")
    if notify_url and not is_http_url(notify_url):
        raise _incorrect("notifyUrl")
    return data


def check_query(data: object) -> str:
    """Check ``paymentOrderQry`` data; return its ``outTradeNo``."""
    if not isinstance(data, Mapping):
        msg = "The data is incorrect."
        raise Rejected(msg)
    return _required(data, "outTradeNo")


def _field_verdict(data: Mapping[str, object], path: str, value: str) -> str | None:
    """``None`` if a checked field passes, else PayerMax's error message."""
    if path == "payeeInfo.accountInfo.accountNo":
        return account_problem(data)
    if path.startswith("payeeInfo.name."):
        ok = _NAME_CHARS.fullmatch(value) is not None
        return None if ok else "Only letters, spaces, commas, hyphens and dots are allowed."
    if path == "payeeInfo.payeePhone":
        return None if _DIGITS.fullmatch(value) else "Please enter numbers."
    if path == "payeeInfo.email":
        return None if _EMAIL.fullmatch(value) else "Please enter a valid email address."
    if path in ("payeeInfo.birthDate", "payeeInfo.document.documentIssueDate"):
        return None if is_date(value) else "Please enter a date as yyyy-MM-dd."
    return None


_CHECKED = frozenset(
    {
        "payeeInfo.accountInfo.accountNo",
        "payeeInfo.name.firstName",
        "payeeInfo.name.middleName",
        "payeeInfo.name.lastName",
        "payeeInfo.name.fullName",
        "payeeInfo.payeePhone",
        "payeeInfo.email",
        "payeeInfo.birthDate",
        "payeeInfo.document.documentIssueDate",
    }
)


def field_verdicts(data: object) -> dict[str, object]:
    """Answer ``paymentFieldValidation``: passed, ignored and failed fields.

    Raises:
        Rejected: the request itself is unusable (no country, no payee, bad payment method).
    """
    if not isinstance(data, Mapping):
        msg = "The data is incorrect."
        raise Rejected(msg)
    if not isinstance(data.get("payeeInfo"), Mapping):
        msg = "The payeeInfo is required."
        raise Rejected(msg)
    _check_common(data)
    passed: list[dict[str, str]] = []
    ignored: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    for path, value in _leaves(data, VALIDATION_SPEC):
        if path in _ROUTING or path.startswith("payerInfo.") or value == "":
            continue
        if not isinstance(value, str):
            failed.append({"field": path, "errorMsg": f"The {path} is incorrect."})
            continue
        limit = _max_length(VALIDATION_SPEC, path)
        if limit is not None and len(value) > limit:
            failed.append({"field": path, "errorMsg": _too_long(path, limit)})
        elif path not in _CHECKED:
            ignored.append({"field": path})
        elif (problem := _field_verdict(data, path, value)) is not None:
            failed.append({"field": path, "errorMsg": problem})
        else:
            passed.append({"field": path})
    return {
        "validationCode": "PARAMS_INVALID" if failed else "PASS",
        "validationPassedFields": passed,
        "ignoredFields": ignored,
        "validationFailedFields": failed,
    }


@attrs.frozen
class BatchQuery:
    """A checked ``paymentOrderBatchQry`` request."""

    begin: datetime
    end: datetime
    page_size: int
    page: int
    status: str | None
    country: str | None


def _batch_time(data: Mapping[str, object], key: str) -> datetime:
    text = _required(data, key)
    try:
        return datetime.strptime(text, _BATCH_TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        raise _incorrect(key) from None


def _positive_int(data: Mapping[str, object], key: str, default: int) -> int:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _incorrect(key)
    try:
        number = int(value)
    except ValueError:
        raise _incorrect(key) from None
    if number < 1:
        raise _incorrect(key)
    return number


def _filter(data: Mapping[str, object], key: str) -> str | None:
    """An optional batch-query filter: absent or empty means none; anything but text is refused."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _incorrect(key)
    return value


def check_batch_query(data: object) -> BatchQuery:
    """Check ``paymentOrderBatchQry`` data: window ≤ 1 day, ``pageSize`` ≤ 100, 1-based pages, and
    filters with known values only (a payout status, an alpha-2 country)."""
    if not isinstance(data, Mapping):
        msg = "The data is incorrect."
        raise Rejected(msg)
    begin = _batch_time(data, "queryBeginTime")
    end = _batch_time(data, "queryEndTime")
    if end < begin:
        msg = "The queryEndTime must not be earlier than the queryBeginTime."
        raise Rejected(msg)
    if end - begin > MAX_WINDOW:
        msg = "The query time range should not exceed 1 day."
        raise Rejected(msg)
    page_size = _positive_int(data, "pageSize", 20)
    if page_size > MAX_PAGE_SIZE:
        msg = f"The pageSize should not exceed {MAX_PAGE_SIZE}."
        raise Rejected(msg)
    status = _filter(data, "status")
    if status is not None and status not in _STATUSES:
        raise _incorrect("status")
    country = _filter(data, "country")
    if country is not None and not _COUNTRY.fullmatch(country):
        raise _incorrect("country")
    return BatchQuery(
        begin=begin,
        end=end,
        page_size=page_size,
        page=_positive_int(data, "currentPageIndex", 1),
        status=status,
        country=country,
    )

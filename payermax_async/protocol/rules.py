"""Local checks of request ``data`` against PayerMax's published rules, before any network I/O.

The checks run on the wire mapping (a model is turned into one first), so a model and a plain mapping
get exactly the same verdicts. They only refuse; they never re-type, reorder or drop anything: unknown
keys and empty strings pass through untouched. Messages name the dotted wire path, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeGuard, Union
from urllib.parse import urlsplit

from ..errors import ValidationError

__all__ = [
    "check_country",
    "check_out_trade_no",
    "check_payout_data",
    "check_validation_data",
    "currency_decimals",
    "get_path",
    "is_date",
]

# Field tree with the OpenAPI maxLength of every string field (None: a string without a limit).
Spec = Mapping[str, Union[int, "Spec", None]]

_NAME: Spec = {"firstName": 64, "middleName": 64, "lastName": 64, "fullName": 512}
_PAYEE: Spec = {
    "paymentMethodType": 64,
    "targetOrg": 64,
    "payeeType": None,
    "accountInfo": {"accountNo": 128, "accountType": None, "checkDigit": None},
    "bankInfo": {
        "bankCode": 64,
        "bankName": 255,
        "bankBranch": 64,
        "bankCity": 255,
        "corAccountNo": 128,
    },
    "name": _NAME,
    "document": {
        "documentType": 16,
        "documentId": 64,
        "documentIssueDate": 10,
        "documentExpireDate": 10,
    },
    "address": {"address": 512, "city": 255, "state": 255, "zipCode": 32},
    "payeePhone": 64,
    "birthDate": 10,
    "email": 64,
    "payeeNationality": 2,
    "payeeGender": 1,
    "payeeBirthCountry": 2,
}
_PAYER: Spec = {
    "subMerchantNo": 64,
    "businessLegalName": 70,
    "registrationCountry": None,
    "merchantCategoryCode": None,
    "payerId": 70,
    "name": {"firstName": None, "middleName": None, "lastName": None, "fullName": None},
}
_RISK: Spec = dict.fromkeys(
    (
        "registerName",
        "registerNo",
        "nickName",
        "thirdAccountNoType",
        "thirdAccountNo",
        "bindEmail",
        "bindPhoneNo",
        "accountLevel",
        "vipLevel",
        "regTime",
        "lastLoginTime",
        "liveCountry",
        "taxId",
        "cumPayoutAmount",
        "cumPayoutTxn",
        "accountBalance",
        "expressMerchantID",
    )
)
_COMMON: Spec = {
    "country": 2,
    "chargeOption": None,
    "clearingRail": None,
    "sourceAccount": 3,
    "destinationCurrency": 3,
    "payeeInfo": _PAYEE,
    "payerInfo": _PAYER,
    "expiryDays": None,
    "remark": None,
    "notifyEmail": 64,
    "notifyPhone": 64,
    "purpose": 32,
}
PAYOUT_SPEC: Spec = {
    **_COMMON,
    "outTradeNo": 63,
    "userId": 64,
    "trade": {"amount": 12, "currency": 3},
    "riskParams": _RISK,
    "reference": 255,
    "notifyUrl": 255,
}
VALIDATION_SPEC: Spec = _COMMON

_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# ASCII digits only: \d also matches "١٠٠" or "１００", which Decimal() accepts but PayerMax does not.
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CLEARING_RAILS = frozenset({"SWIFT", "SEPA", "LOCAL"})
_NO_DECIMALS = frozenset({"IDR", "VND", "KRW", "CLP", "JPY"})
_THREE_DECIMALS = frozenset({"BHD", "KWD", "OMR", "JOD", "TND"})


def currency_decimals(currency: str) -> int:
    """How many decimals PayerMax accepts in an amount of ``currency``."""
    if currency in _NO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    return 2


def _fail(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field} {problem}", field=field)


def _is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    # isinstance(x, Mapping) is an ABC check (~0.3 us); JSON-shaped data is nearly always a dict.
    return type(value) is dict or isinstance(value, Mapping)


def _clean(data: dict[str, object], spec: Spec) -> bool:
    """Whether every known field of a plain dict passes _walk's checks, looking only at the keys
    present (a request has a few of the many spec fields); _walk itself names the first failure."""
    for key, value in data.items():
        rule = spec.get(key, _UNKNOWN)
        if rule is _UNKNOWN or value is None:
            continue
        if type(rule) is dict:
            if type(value) is not dict or not _clean(value, rule):
                return False
        elif type(value) is not str or (rule is not None and len(value) > rule):  # type: ignore[operator]
            return False
    return True


_UNKNOWN = object()


def _walk(data: Mapping[str, object], spec: Spec, prefix: str) -> None:
    """Type and length checks for every known field present; unknown keys are left alone."""
    if type(data) is dict and _clean(data, spec):
        return  # the usual case; any doubt (a failure, a Decimal amount, a non-dict) walks below
    for key, rule in spec.items():
        if key not in data:
            continue
        value = data[key]
        if value is None:
            continue  # an explicit null is sent as given; required fields are checked separately
        path = f"{prefix}{key}"
        if isinstance(rule, dict):  # the specs above are plain dicts (not an ABC check)
            if not _is_mapping(value):
                raise _fail(path, f"must be an object, not {type(value).__name__}")
            _walk(value, rule, f"{path}.")
        elif path == "trade.amount" and isinstance(value, Decimal):
            continue  # a Decimal is sent as its decimal string; checked with the amount rules
        elif not isinstance(value, str):
            raise _fail(path, f"must be a string, not {type(value).__name__}")
        elif isinstance(rule, int) and len(value) > rule:
            raise _fail(path, f"is longer than {rule} characters ({len(value)})")


def get_path(data: Mapping[str, object], path: str) -> object:
    """The value at a dotted wire path (``payeeInfo.accountInfo.accountNo``), or ``None``."""
    parts = _PATHS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PATHS) < 1024:
            _PATHS[path] = parts
    node: object = data
    for part in parts:
        # Inlined _is_mapping: this runs a dozen times per request.
        if not (type(node) is dict or isinstance(node, Mapping)):
            return None
        node = node.get(part)
    return node


# Dotted paths split once; the checks use about twenty.
_PATHS: dict[str, tuple[str, ...]] = {}


def _required_text(data: Mapping[str, object], path: str) -> str:
    value = get_path(data, path)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _fail(path, "is required")
    assert isinstance(value, str)  # _walk has checked the type
    return value


def _optional_text(data: Mapping[str, object], path: str) -> str | None:
    value = get_path(data, path)
    return value if isinstance(value, str) and value != "" else None


def check_country(value: object, field: str = "country") -> str:
    """Check an ISO 3166-1 alpha-2 country code (two uppercase letters).

    Raises:
        ValidationError: naming ``field``.
    """
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        raise _fail(field, "must be two uppercase letters (ISO 3166-1 alpha-2)")
    return value


def check_out_trade_no(value: object, field: str = "outTradeNo") -> str:
    """Check an ``outTradeNo``: 1 to 63 letters, digits or underscores.

    Raises:
        ValidationError: naming ``field``.
    """
    if value is None or value == "":
        raise _fail(field, "is required")
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, not {type(value).__name__}")
    if not _OUT_TRADE_NO.fullmatch(value):
        raise _fail(field, "must be 1 to 63 letters, digits or underscores")
    return value


def _check_amount(data: Mapping[str, object]) -> None:
    raw = get_path(data, "trade.amount")
    if raw is None or raw == "":
        raise _fail("trade.amount", "is required")
    text = format(raw, "f") if isinstance(raw, Decimal) else str(raw)
    if not _AMOUNT.fullmatch(text):
        raise _fail("trade.amount", 'must be a positive decimal string such as "150000" or "12.50"')
    if len(text) > 12:
        raise _fail("trade.amount", "is longer than 12 characters")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise _fail("trade.amount", "is not a decimal number") from None
    if amount <= 0:
        raise _fail("trade.amount", "must be greater than zero")
    currency = _required_text(data, "trade.currency")
    if not _CURRENCY.fullmatch(currency):
        raise _fail("trade.currency", "must be three uppercase letters (ISO 4217)")
    allowed = currency_decimals(currency)
    decimals = len(text.partition(".")[2])
    if decimals > allowed:
        raise _fail("trade.amount", f"has {decimals} decimals; {currency} allows {allowed}")


def _check_formats(data: Mapping[str, object]) -> None:
    check_country(_required_text(data, "country"))
    for path in ("sourceAccount", "destinationCurrency"):
        value = _optional_text(data, path)
        if value is not None and not _CURRENCY.fullmatch(value):
            raise _fail(path, "must be three uppercase letters (ISO 4217)")
    rail = _optional_text(data, "clearingRail")
    if rail is not None and rail not in _CLEARING_RAILS:
        raise _fail("clearingRail", "must be SWIFT, SEPA or LOCAL")
    for path in ("payeeInfo.email", "notifyEmail"):
        value = _optional_text(data, path)
        if value is not None and not _EMAIL.fullmatch(value):
            raise _fail(path, "is not a valid email address")
    for path in (
        "payeeInfo.birthDate",
        "payeeInfo.document.documentIssueDate",
        "payeeInfo.document.documentExpireDate",
    ):
        value = _optional_text(data, path)
        if value is not None and not is_date(value):
            raise _fail(path, "must be a date as yyyy-MM-dd")
    _required_text(data, "payeeInfo.paymentMethodType")


def is_date(value: str) -> bool:
    """Whether ``value`` is a real calendar date written ``yyyy-MM-dd``."""
    if not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_object(data: object) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        msg = f"request data must be a mapping or a model, not {type(data).__name__}"
        raise ValidationError(msg)
    return data


def check_payout_data(data: object) -> str:
    """Check the ``data`` of a payout (``paymentOrderPay``); return its ``outTradeNo``.

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    out_trade_no = check_out_trade_no(mapping.get("outTradeNo"))
    _walk(mapping, PAYOUT_SPEC, "")
    if not _is_mapping(mapping.get("trade")):
        raise _fail("trade", "is required")
    if not _is_mapping(mapping.get("payeeInfo")):
        raise _fail("payeeInfo", "is required")
    _check_amount(mapping)
    _check_formats(mapping)
    _required_text(mapping, "payeeInfo.accountInfo.accountNo")
    notify_url = _optional_text(mapping, "notifyUrl")
    if notify_url is not None:
        try:
            parts = urlsplit(notify_url)
        except ValueError:  # e.g. "http://[::1": an unbalanced IPv6 bracket
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise _fail("notifyUrl", "must be an absolute http(s) URL")
    return out_trade_no


def check_validation_data(data: object) -> None:
    """Check the ``data`` of a payee field validation (``paymentFieldValidation``).

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    _walk(mapping, VALIDATION_SPEC, "")
    if not isinstance(mapping.get("payeeInfo"), Mapping):
        raise _fail("payeeInfo", "is required")
    _check_formats(mapping)

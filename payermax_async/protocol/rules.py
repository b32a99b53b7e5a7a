"""Local checks of request ``data`` against PayerMax's published rules, before any network I/O.

The checks run on the wire mapping (a model is turned into one first), so a model and a plain mapping
get exactly the same verdicts. They only refuse; they never re-type, reorder or drop anything: unknown
keys and empty strings pass through untouched, provided they can be sent at all (``shape``: valid
Unicode, JSON types, bounded depth and size). Messages name the dotted wire path, never the value.
The facts they rest on live next door: field lengths (``fields``), value formats (``formats``), the
amount rule (``amounts``) and currency precision (``currencies``); the sandbox reads the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeGuard

from ..errors import ValidationError
from .amounts import amount_text, decimals_of
from .currencies import amount_decimals
from .fields import PAYOUT_SPEC, TEXT_LIMIT, VALIDATION_SPEC, Spec
from .formats import COUNTRY, CURRENCY, EMAIL, has_control_characters, is_date, is_http_url
from .shape import check_shape

__all__ = [
    "PAYOUT_SPEC",
    "TARGET_ORG_METHODS",
    "TEXT_LIMIT",
    "VALIDATION_SPEC",
    "Spec",
    "check_country",
    "check_out_trade_no",
    "check_payout_data",
    "check_validation_data",
    "currency_decimals",
    "get_path",
    "is_date",
    "is_mapping",
]

_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,63}")
_CLEARING_RAILS = frozenset({"SWIFT", "SEPA", "LOCAL"})
#: Payment methods whose ``targetOrg`` must name the wallet, cash network or bank: PayerMax's
#: payment-method introduction (docs-v2.payermax.com/en/doc-center/disbursement/payment-method-list/
#: introduction.html): "WALLET: the wallet needs to be specified in the targetOrg", likewise CASH
#: (the disbursement organisation) and ATM_CARD (the bank).
TARGET_ORG_METHODS = frozenset({"WALLET", "CASH", "ATM_CARD"})
_GENDERS = frozenset({"F", "M"})
# ISO 3166-1 alpha-2 fields of payeeInfo (the OpenAPI file: "ISO 3166-1 alpha-2标准").
_PAYEE_COUNTRY_KEYS = ("payeeNationality", "payeeBirthCountry")
# The payer's registration country ("2位大写国家编码", two upper-case letters) is checked on payouts
# only: field validation does not judge payerInfo, and PayerMax's own field-validation example
# sends "Eg", which must go through unchanged (docs/bad-input.md).
_PAYER_COUNTRY = "payerInfo.registrationCountry"


def currency_decimals(
    currency: str, country: str | None = None, payment_method: str | None = None
) -> int:
    """How many decimals PayerMax accepts in an amount of ``currency`` (paid in ``country`` by
    ``payment_method``, where the currency table has a rule for that pair); see ``currencies``."""
    return amount_decimals(currency, country, payment_method)


def _fail(field: str, problem: str) -> ValidationError:
    return ValidationError(f"{field} {problem}", field=field)


def is_mapping(value: object) -> TypeGuard[Mapping[str, object]]:
    """``isinstance(value, Mapping)``, quicker for the usual ``dict`` and ``None``."""
    # isinstance(x, Mapping) is an ABC check (~0.3 us); JSON-shaped data is nearly always a dict.
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


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
        elif (
            type(value) is not str
            or (rule is not None and len(value) > rule)  # type: ignore[operator]
            or not value.isprintable()  # a C pass; _walk looks closer at what it flags
        ):
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
            if not is_mapping(value):
                raise _fail(path, f"must be an object, not {type(value).__name__}")
            _walk(value, rule, f"{path}.")
        elif path == "trade.amount" and isinstance(value, Decimal):
            continue  # a Decimal is sent as its decimal string; checked with the amount rules
        elif not isinstance(value, str):
            raise _fail(path, f"must be a string, not {type(value).__name__}")
        elif isinstance(rule, int) and len(value) > rule:
            raise _fail(path, f"is longer than {rule} characters ({len(value)})")
        elif has_control_characters(value):
            raise _fail(path, "contains control or bidirectional-formatting characters")


def _plain(data: dict[str, object], spec: Spec) -> bool:
    """Whether ``data`` holds only fields of ``spec``, each ``None``, a printable ``str`` within
    its limit, or a plain ``dict`` that passes the same test: then _walk and check_shape both pass
    (printable text has no control characters and no lone surrogates; the spec bounds the depth,
    and its limits the size: see _WORST_CASE_BYTES). One pass where the two take three; anything
    else (unknown keys, a Decimal amount, lists, mapping types) gets the full checks."""
    for key, value in data.items():
        rule = spec.get(key)
        if rule is None:
            return False
        if value is None:
            continue
        if type(rule) is int:
            if type(value) is not str or len(value) > rule or not value.isprintable():
                return False
        elif type(value) is not dict or not _plain(value, rule):  # type: ignore[arg-type]
            return False
    return True


def _worst_case(spec: Spec, depth: int = 1) -> tuple[int, int]:
    """The most bytes (as compact UTF-8 JSON) and levels a _plain request can have: every field
    present at its limit, four bytes a character, escapes counted as two characters' worth."""
    size, deepest = 2, depth
    for key, rule in spec.items():
        if isinstance(rule, int):
            size += len(key) + 6 + 4 * rule
        else:
            inner, levels = _worst_case(rule, depth + 1)  # type: ignore[arg-type]
            size, deepest = size + len(key) + 4 + inner, max(deepest, levels)
    return size, deepest


# _plain stands in for check_shape only because no data it accepts can break shape's limits
# (tests/protocol pins both below MAX_DATA_BYTES and MAX_DEPTH).
_WORST_CASE_BYTES, _WORST_CASE_DEPTH = _worst_case(PAYOUT_SPEC)


def get_path(data: Mapping[str, object], path: str) -> object:
    """The value at a dotted wire path (``payeeInfo.accountInfo.accountNo``), or ``None``."""
    parts = _PATHS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PATHS) < 1024:
            _PATHS[path] = parts
    node: object = data
    for part in parts:
        # Inlined is_mapping: this runs a dozen times per request.
        if not (type(node) is dict or isinstance(node, Mapping)):
            return None
        node = node.get(part)
    return node


# Dotted paths split once; the checks use about twenty.
_PATHS: dict[str, tuple[str, ...]] = {}


def check_country(value: object, field: str = "country") -> str:
    """Check an ISO 3166-1 alpha-2 country code (two uppercase letters).

    Raises:
        ValidationError: naming ``field``.
    """
    if not isinstance(value, str) or not COUNTRY.fullmatch(value):
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


#: Request data after the type checks: every known object field is a ``dict`` (or ``None``) and
#: every known text field a ``str`` (or ``None``), so the checks below read values directly.
Fields = dict[str, Any]


def _as_dicts(data: Mapping[str, object], spec: Spec) -> Fields:
    """``data`` (already through ``_walk``) with each known object field a plain ``dict``: the one
    shape the checks below read. Only the rare non-dict request pays for this copy."""
    fields = dict(data)
    for key, value in fields.items():
        rule = spec.get(key)
        if isinstance(rule, dict) and value is not None:
            fields[key] = _as_dicts(value, rule)  # type: ignore[arg-type]
    return fields


def _required(value: str | None, path: str) -> str:
    if value is None or not value.strip():
        raise _fail(path, "is required")
    return value


def _check_amount(trade: Fields, payee: Fields, country: str | None) -> None:
    raw = trade.get("amount")
    if raw is None or raw == "":
        raise _fail("trade.amount", "is required")
    text = amount_text(raw)  # the text sent: a string as given, a Decimal written out plainly
    currency = _required(trade.get("currency"), "trade.currency")
    if not CURRENCY.fullmatch(currency):
        raise _fail("trade.currency", "must be three uppercase letters (ISO 4217)")
    allowed = amount_decimals(currency, country, payee.get("paymentMethodType") or None)
    decimals = decimals_of(text)
    if decimals > allowed:
        raise _fail("trade.amount", f"has {decimals} decimals; {currency} allows {allowed}")


def _check_codes(data: Fields, payee: Fields | None) -> None:
    check_country(_required(data.get("country"), "country"))
    if payee is not None:
        for key in _PAYEE_COUNTRY_KEYS:
            value = payee.get(key)
            if value:
                check_country(value, f"payeeInfo.{key}")
    for path in ("sourceAccount", "destinationCurrency"):
        value = data.get(path)
        if value and not CURRENCY.fullmatch(value):
            raise _fail(path, "must be three uppercase letters (ISO 4217)")
    rail = data.get("clearingRail")
    if rail and rail not in _CLEARING_RAILS:
        raise _fail("clearingRail", "must be SWIFT, SEPA or LOCAL")
    gender = payee.get("payeeGender") if payee is not None else None
    if gender and gender not in _GENDERS:
        raise _fail("payeeInfo.payeeGender", "must be F or M")


def _check_formats(data: Fields) -> None:
    """The formats of the fields a payout and a field validation share (``data`` as ``Fields``)."""
    payee: Fields | None = data.get("payeeInfo")
    _check_codes(data, payee)
    payee = payee if payee is not None else {}
    for value, path in (
        (payee.get("email"), "payeeInfo.email"),
        (data.get("notifyEmail"), "notifyEmail"),
    ):
        if value and not EMAIL.fullmatch(value):
            raise _fail(path, "is not a valid email address")
    birth = payee.get("birthDate")
    if birth and not is_date(birth):
        raise _fail("payeeInfo.birthDate", "must be a date as yyyy-MM-dd")
    document = payee.get("document")
    if document is not None:
        for key in ("documentIssueDate", "documentExpireDate"):
            value = document.get(key)
            if value and not is_date(value):
                raise _fail(f"payeeInfo.document.{key}", "must be a date as yyyy-MM-dd")
    method = _required(payee.get("paymentMethodType"), "payeeInfo.paymentMethodType")
    target_org = payee.get("targetOrg")
    if method in TARGET_ORG_METHODS and (target_org is None or not target_org.strip()):
        raise _fail("payeeInfo.targetOrg", f"is required for {method} payouts")


def _check_object(data: object) -> Mapping[str, object]:
    if type(data) is not dict and not isinstance(data, Mapping):
        msg = f"request data must be a mapping or a model, not {type(data).__name__}"
        raise ValidationError(msg)
    return data


def _check_payout_fields(data: Fields) -> None:
    """Every check of a payout after the type checks, in one pass over ``data``."""
    trade: Fields | None = data.get("trade")
    if trade is None:
        raise _fail("trade", "is required")
    payee: Fields | None = data.get("payeeInfo")
    if payee is None:
        raise _fail("payeeInfo", "is required")
    _check_amount(trade, payee, data.get("country") or None)
    _check_formats(data)
    payer: Fields | None = data.get("payerInfo")
    registration = payer.get("registrationCountry") if payer is not None else None
    if registration:
        check_country(registration, _PAYER_COUNTRY)
    account: Fields | None = payee.get("accountInfo")
    _required(account.get("accountNo") if account is not None else None, _ACCOUNT_NO)
    notify_url = data.get("notifyUrl")
    if notify_url and not is_http_url(notify_url):
        raise _fail("notifyUrl", "must be an absolute http(s) URL (printable ASCII, a valid host)")


_ACCOUNT_NO = "payeeInfo.accountInfo.accountNo"


def check_payout_data(data: object) -> str:
    """Check the ``data`` of a payout (``paymentOrderPay``); return its ``outTradeNo``.

    Known fields get their types, lengths and formats checked; every value, unknown keys included,
    must be sendable as JSON within the limits of ``shape``. Nothing is changed.

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    out_trade_no = check_out_trade_no(mapping.get("outTradeNo"))
    if type(mapping) is dict and _plain(mapping, PAYOUT_SPEC):
        _check_payout_fields(mapping)  # already Fields: only dicts, texts and None
    else:
        _walk(mapping, PAYOUT_SPEC, "")
        check_shape(mapping)
        _check_payout_fields(_as_dicts(mapping, PAYOUT_SPEC))
    return out_trade_no


def check_validation_data(data: object) -> None:
    """Check the ``data`` of a payee field validation (``paymentFieldValidation``).

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    _walk(mapping, VALIDATION_SPEC, "")
    check_shape(mapping)
    fields = _as_dicts(mapping, VALIDATION_SPEC)
    if fields.get("payeeInfo") is None:
        raise _fail("payeeInfo", "is required")
    _check_formats(fields)

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
from typing import TypeGuard

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
            if not _is_mapping(value):
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


def _check_amount(data: Mapping[str, object]) -> None:
    raw = get_path(data, "trade.amount")
    if raw is None or raw == "":
        raise _fail("trade.amount", "is required")
    text = amount_text(raw)  # the text sent: a string as given, a Decimal written out plainly
    currency = _required_text(data, "trade.currency")
    if not CURRENCY.fullmatch(currency):
        raise _fail("trade.currency", "must be three uppercase letters (ISO 4217)")
    method = _text_of(data.get("payeeInfo"), "paymentMethodType")
    allowed = currency_decimals(currency, _text_of(data, "country"), method)
    decimals = decimals_of(text)
    if decimals > allowed:
        raise _fail("trade.amount", f"has {decimals} decimals; {currency} allows {allowed}")


def _text_of(node: object, key: str) -> str | None:
    """``node[key]`` if ``node`` is a mapping and that is a non-empty string (one level, where
    ``get_path`` walks a dotted path: the checks below read a dozen payee fields)."""
    value = node.get(key) if type(node) is dict or isinstance(node, Mapping) else None
    return value if isinstance(value, str) and value != "" else None


def _check_codes(data: Mapping[str, object], payee: object) -> None:
    check_country(_required_text(data, "country"))
    for key in _PAYEE_COUNTRY_KEYS:
        value = _text_of(payee, key)
        if value is not None:
            check_country(value, f"payeeInfo.{key}")
    for path in ("sourceAccount", "destinationCurrency"):
        value = _text_of(data, path)
        if value is not None and not CURRENCY.fullmatch(value):
            raise _fail(path, "must be three uppercase letters (ISO 4217)")
    rail = _text_of(data, "clearingRail")
    if rail is not None and rail not in _CLEARING_RAILS:
        raise _fail("clearingRail", "must be SWIFT, SEPA or LOCAL")
    gender = _text_of(payee, "payeeGender")
    if gender is not None and gender not in _GENDERS:
        raise _fail("payeeInfo.payeeGender", "must be F or M")


def _check_formats(data: Mapping[str, object]) -> None:
    payee = data.get("payeeInfo")
    _check_codes(data, payee)
    for value, path in (
        (_text_of(payee, "email"), "payeeInfo.email"),
        (_text_of(data, "notifyEmail"), "notifyEmail"),
    ):
        if value is not None and not EMAIL.fullmatch(value):
            raise _fail(path, "is not a valid email address")
    birth = _text_of(payee, "birthDate")
    if birth is not None and not is_date(birth):
        raise _fail("payeeInfo.birthDate", "must be a date as yyyy-MM-dd")
    document = _text_holder(payee, "document")
    for key in ("documentIssueDate", "documentExpireDate"):
        value = _text_of(document, key)
        if value is not None and not is_date(value):
            raise _fail(f"payeeInfo.document.{key}", "must be a date as yyyy-MM-dd")
    method = _required_text(data, "payeeInfo.paymentMethodType")
    target_org = _text_of(payee, "targetOrg")
    if method in TARGET_ORG_METHODS and (target_org is None or not target_org.strip()):
        raise _fail("payeeInfo.targetOrg", f"is required for {method} payouts")


def _text_holder(node: object, key: str) -> object:
    """``node[key]`` if ``node`` is a mapping (where a nested object such as the document is)."""
    return node.get(key) if type(node) is dict or isinstance(node, Mapping) else None


def _check_object(data: object) -> Mapping[str, object]:
    if type(data) is not dict and not isinstance(data, Mapping):
        msg = f"request data must be a mapping or a model, not {type(data).__name__}"
        raise ValidationError(msg)
    return data


def check_payout_data(data: object) -> str:
    """Check the ``data`` of a payout (``paymentOrderPay``); return its ``outTradeNo``.

    Known fields get their types, lengths and formats checked; every value, unknown keys included,
    must be sendable as JSON within the limits of ``shape``. Nothing is changed.

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    out_trade_no = check_out_trade_no(mapping.get("outTradeNo"))
    if type(mapping) is not dict or not _plain(mapping, PAYOUT_SPEC):
        _walk(mapping, PAYOUT_SPEC, "")
        check_shape(mapping)
    if not _is_mapping(mapping.get("trade")):
        raise _fail("trade", "is required")
    if not _is_mapping(mapping.get("payeeInfo")):
        raise _fail("payeeInfo", "is required")
    _check_amount(mapping)
    _check_formats(mapping)
    registration = _optional_text(mapping, _PAYER_COUNTRY)
    if registration is not None:
        check_country(registration, _PAYER_COUNTRY)
    _required_text(mapping, "payeeInfo.accountInfo.accountNo")
    notify_url = _optional_text(mapping, "notifyUrl")
    if notify_url is not None and not is_http_url(notify_url):
        raise _fail("notifyUrl", "must be an absolute http(s) URL (printable ASCII, a valid host)")
    return out_trade_no


def check_validation_data(data: object) -> None:
    """Check the ``data`` of a payee field validation (``paymentFieldValidation``).

    Raises:
        ValidationError: the first problem found, naming its dotted wire path.
    """
    mapping = _check_object(data)
    _walk(mapping, VALIDATION_SPEC, "")
    check_shape(mapping)
    if not isinstance(mapping.get("payeeInfo"), Mapping):
        raise _fail("payeeInfo", "is required")
    _check_formats(mapping)

"""The one masking point: everything the SDK logs, raises or shows passes through here.

Payee data (account numbers, names, emails, phones, document ids) is masked to its last four
characters; ``sign`` values and key material are never emitted, not even in part. This module imports
nothing from the package, so every layer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "PAYEE_SECTIONS",
    "ROUTING_CODES",
    "last4",
    "mask",
    "redact",
    "redact_message",
    "redact_text",
]

# --- generated from tests/data/payermax-payout-openapi.json (PayerMax's OpenAPI file) by
# tests/support/payee_fields.py: every field under a payee section below; test_redact.py checks it
# against the schema, so regenerate rather than edit. ---
_SCHEMA_PAYEE_FIELDS = (
    "accountBalance", "accountLevel", "accountNo", "accountType", "address", "bankBranch",
    "bankCity", "bankCode", "bankName", "bindEmail", "bindPhoneNo", "birthDate",
    "businessLegalName", "checkDigit", "city", "corAccountNo", "cumPayoutAmount", "cumPayoutTxn",
    "documentExpireDate", "documentId", "documentIssueDate", "documentType", "email",
    "expressMerchantID", "firstName", "fullName", "lastLoginTime", "lastName", "liveCountry",
    "merchantCategoryCode", "middleName", "nickName", "payeeBirthCountry", "payeeGender",
    "payeeNationality", "payeePhone", "payeeType", "payerId", "paymentMethodType", "regTime",
    "registerName", "registerNo", "registrationCountry", "state", "subMerchantNo", "targetOrg",
    "taxId", "thirdAccountNo", "thirdAccountNoType", "vipLevel", "zipCode",
)  # fmt: skip
# --- end of generated data ---

#: The schema's objects that describe a person (the payee, the payer, the user behind the payout):
#: every value anywhere inside them is masked, except the routing codes below, so a field PayerMax
#: adds to them later is masked without anyone listing it.
PAYEE_SECTIONS = ("payeeInfo", "payerInfo", "riskParams")
#: Fields inside those sections that say how the money travels, not to whom: logged as they are.
ROUTING_CODES = (
    "paymentMethodType",
    "targetOrg",
    "payeeType",
    "accountType",
    "documentType",
    "bankCode",
    "thirdAccountNoType",
    "merchantCategoryCode",
)
#: Fields outside those sections that hold personal data or free text that may (``remark``,
#: ``reference``, ``userId``, the notification contacts, a redeem code or PIN).
_OUTSIDE_SECTIONS = ("remark", "reference", "userId", "notifyEmail", "notifyPhone", "redeemCode")
_SECTIONS = frozenset(name.lower() for name in PAYEE_SECTIONS)
_CODES = frozenset(name.lower() for name in ROUTING_CODES)
#: Fields (wire names, case-insensitive) masked to their last four characters wherever they are.
_PERSONAL = (
    frozenset(name.lower() for name in (*_SCHEMA_PAYEE_FIELDS, *_OUTSIDE_SECTIONS, "name")) - _CODES
)
#: Fields holding a gateway's message, which may echo a payee's name or number back.
_MESSAGES = frozenset({"msg", "responsemsg", "errormsg"})
#: Fields whose values are secrets: never emitted, not even in part.
_SECRET = frozenset(
    name.lower()
    for name in ("sign", "signature", "privateKey", "merchantPrivateKey", "key", "password")
)
#: Fields that are the merchant's own identifiers or amounts: logged as they are.
_PLAIN = frozenset(
    name.lower()
    for name in ("outTradeNo", "tradeNo", "amount", "currency", "status", "subStatus", "country")
)
#: Field values shown as they are, inside a payee section or not.
_SHOWN = _PLAIN | _CODES
_MASKED = "****"
_EMAIL = re.compile(r"[^\s@\"',;:<>()\[\]{}]+@[^\s@\"',;:<>()\[\]{}]+")
# Long runs of digits (account, phone and document numbers; separators allowed).
_DIGITS = re.compile(r"\+?\d(?:[\d \-]{4,}\d)")
# base64 blobs of key or signature size.
_BLOB = re.compile(r"[A-Za-z0-9+/=_\-]{40,}")
# A quoted stretch of a message: 'x', "x", `x`, ‘x’, “x”, «x».
_QUOTED = re.compile(r"(['\"`‘“«])([^'\"`‘’“”«»\n]{1,200})(['\"`’”»])")
# A field name, dotted path or code inside quotes: camelCase, a dotted path, snake or UPPER_SNAKE.
_IDENTIFIER = re.compile(
    r"[a-z][a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+(?:\.[A-Za-z0-9]+)*"
    r"|[a-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+"
    r"|[A-Za-z0-9]+_[A-Za-z0-9_]+"
)
# A word of letters, with apostrophes and hyphens inside (O'Brien, Jean-Luc).
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def last4(value: object) -> str:
    """An identifier masked to its last four characters (``…1234``); ``****`` when it is that short.

    For account numbers, names, emails and phones in messages and logs; also how the SDK names a
    payout's ``outTradeNo`` in messages where the number alone would be enough to identify it.
    """
    text = str(value)
    return _MASKED if len(text) <= 4 else f"…{text[-4:]}"


def mask(value: object) -> str:
    """A sensitive value masked to its last four characters, quoted (for ``repr`` and messages)."""
    if value is None:
        return "None"
    return "'****'" if len(str(value)) <= 4 else f"'{last4(value)}'"


def redact_text(text: str) -> str:
    """Mask emails, long digit runs and key- or signature-sized base64 blobs in free text."""
    text = _BLOB.sub("[redacted]", text)
    text = _EMAIL.sub(lambda m: last4(m.group(0)), text)
    return _DIGITS.sub(lambda m: last4(m.group(0)), text)


def _mask_quoted(match: re.Match[str]) -> str:
    inner = match.group(2)
    if _IDENTIFIER.fullmatch(inner) or inner.lower() in _SHOWN:
        return match.group(0)  # a field name or code ('accountNo', 'PARAMS_INVALID'): no person
    return f"{match.group(1)}{last4(inner)}{match.group(3)}"


def _mask_name_runs(text: str) -> str:
    """Two or more capitalised words in a row (``Siti Rahayu``, ``SITI RAHAYU``) to their last 4."""
    words = [m for m in _WORD.finditer(text) if m.group(0)[0].isupper()]
    runs: list[list[re.Match[str]]] = []
    for word in words:
        if runs and text[runs[-1][-1].end() : word.start()] == " ":
            runs[-1].append(word)
        else:
            runs.append([word])
    pieces, done = [], 0
    for run in runs:
        if len(run) >= 2:
            start, end = run[0].start(), run[-1].end()
            pieces += [text[done:start], last4(text[start:end])]
            done = end
    return "".join([*pieces, text[done:]])


def redact_message(text: str) -> str:
    """Mask a gateway's message for logs and error text: what :func:`redact_text` masks, plus
    quoted values and runs of capitalised words, the shapes in which a payee's name comes back
    (``Name 'siti rahayu' does not match``, ``Account holder SITI RAHAYU mismatch``).

    Field names and codes stay readable (``The targetOrg is incorrect.``); a sentence's first word
    next to a capitalised name may be masked with it, which is the safe side.
    """
    text = _QUOTED.sub(_mask_quoted, text)
    return redact_text(_mask_name_runs(text))


def redact(value: object) -> object:
    """A copy of ``value`` (mappings, lists, scalars) safe to log.

    Every value inside a payee section (``payeeInfo``, ``payerInfo``, ``riskParams``) and every
    personal field elsewhere is masked to its last four characters, except the routing codes
    (``paymentMethodType``, ``targetOrg``, ...); secrets are removed; gateway messages go through
    :func:`redact_message` and other free text through :func:`redact_text`.
    """
    return _redact(value, in_section=False)


def _redact(value: object, *, in_section: bool) -> object:
    if isinstance(value, Mapping):
        return {str(key): _field(str(key), item, in_section) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, in_section=in_section) for item in value]
    if in_section and value not in (None, ""):
        return last4(value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def _field(name: str, item: object, in_section: bool) -> object:
    lowered = name.lower()
    if lowered in _SECRET:
        return "[redacted]"
    if isinstance(item, Mapping | list | tuple):
        return _redact(item, in_section=in_section or lowered in _SECTIONS)
    if item in (None, ""):
        return item
    if lowered in _SHOWN and isinstance(item, str | int):
        return item
    if in_section or lowered in _PERSONAL:
        return last4(item)
    if lowered in _MESSAGES and isinstance(item, str):
        return redact_message(item)
    return _redact(item, in_section=False)

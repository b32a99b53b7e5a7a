"""The one masking point: everything the SDK logs, raises or shows passes through here.

Payee data (account numbers, names, emails, phones, document ids) is masked to its last four
characters; ``sign`` values and key material are never emitted, not even in part. This module imports
nothing from the package, so every layer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["last4", "mask", "redact", "redact_text"]

#: Fields (wire names, case-insensitive) whose values identify a person or an account: masked to
#: their last four characters.
_PERSONAL = frozenset(
    name.lower()
    for name in (
        "accountNo",
        "corAccountNo",
        "checkDigit",
        "firstName",
        "middleName",
        "lastName",
        "fullName",
        "payeePhone",
        "email",
        "notifyEmail",
        "notifyPhone",
        "documentId",
        "birthDate",
        "address",
        "registerName",
        "registerNo",
        "nickName",
        "thirdAccountNo",
        "bindEmail",
        "bindPhoneNo",
        "taxId",
        "redeemCode",
        "userId",
        "payerId",
    )
)
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
_MASKED = "****"
_EMAIL = re.compile(r"[^\s@\"',;:<>()\[\]{}]+@[^\s@\"',;:<>()\[\]{}]+")
# Long runs of digits (account, phone and document numbers; separators allowed).
_DIGITS = re.compile(r"\+?\d(?:[\d \-]{4,}\d)")
# base64 blobs of key or signature size.
_BLOB = re.compile(r"[A-Za-z0-9+/=_\-]{40,}")


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


def redact(value: object) -> object:
    """A copy of ``value`` (mappings, lists, scalars) safe to log: personal fields masked to their
    last four characters, secrets removed, free text passed through :func:`redact_text`."""
    if isinstance(value, Mapping):
        safe: dict[str, object] = {}
        for key, item in value.items():
            name = str(key)
            lowered = name.lower()
            if lowered in _SECRET:
                safe[name] = "[redacted]"
            elif lowered in _PLAIN and isinstance(item, str | int):
                safe[name] = item
            elif (lowered in _PERSONAL or lowered == "name") and not isinstance(
                item, Mapping | list
            ):
                safe[name] = last4(item) if item not in (None, "") else item
            else:
                safe[name] = redact(item)
        return safe
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value

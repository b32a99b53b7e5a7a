"""The request fields PayerMax defines, with the longest text each may hold.

The limits are the OpenAPI file's ``maxLength`` (tests/data/payermax-payout-openapi.json; a test checks
every one of them). Where the file sets none, :data:`TEXT_LIMIT` applies **[decided]**: the gateway
documents no limit there (``remark`` is truncated by some channels), but a text of megabytes is never a
payout field, and refusing it locally keeps it from being signed and sent. The client's checks and the
sandbox gateway read the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

__all__ = ["PAYOUT_SPEC", "TEXT_LIMIT", "VALIDATION_SPEC", "Spec"]

#: Field tree: the longest text of every string field, or a nested tree for an object.
Spec = Mapping[str, Union[int, "Spec", None]]

#: The longest text accepted in a field for which the OpenAPI file gives no maxLength [decided].
TEXT_LIMIT = 1024

_NAME: Spec = {"firstName": 64, "middleName": 64, "lastName": 64, "fullName": 512}
_PAYEE: Spec = {
    "paymentMethodType": 64,
    "targetOrg": 64,
    "payeeType": TEXT_LIMIT,
    "accountInfo": {"accountNo": 128, "accountType": TEXT_LIMIT, "checkDigit": TEXT_LIMIT},
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
    "registrationCountry": TEXT_LIMIT,
    "merchantCategoryCode": TEXT_LIMIT,
    "payerId": 70,
    "name": dict.fromkeys(("firstName", "middleName", "lastName", "fullName"), TEXT_LIMIT),
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
    ),
    TEXT_LIMIT,
)
_COMMON: Spec = {
    "country": 2,
    "chargeOption": TEXT_LIMIT,
    "clearingRail": TEXT_LIMIT,
    "sourceAccount": 3,
    "destinationCurrency": 3,
    "payeeInfo": _PAYEE,
    "payerInfo": _PAYER,
    "expiryDays": TEXT_LIMIT,
    "remark": TEXT_LIMIT,
    "notifyEmail": 64,
    "notifyPhone": 64,
    "purpose": 32,
}
#: ``paymentOrderPay``'s data.
PAYOUT_SPEC: Spec = {
    **_COMMON,
    "outTradeNo": 63,
    "userId": 64,
    "trade": {"amount": 12, "currency": 3},
    "riskParams": _RISK,
    "reference": 255,
    "notifyUrl": 255,
}
#: ``paymentFieldValidation``'s data.
VALIDATION_SPEC: Spec = _COMMON

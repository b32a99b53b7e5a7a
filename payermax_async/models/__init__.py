"""Typed models of PayerMax's payout requests, results and notifications."""

from __future__ import annotations

from .notifications import PayoutNotification
from .payouts import (
    FINAL_STATUSES,
    AccountInfo,
    AdditionalIdentifier,
    Address,
    BankInfo,
    Document,
    FieldValidationRequest,
    FundsDetail,
    Money,
    Name,
    PayeeInfo,
    PayerInfo,
    PayerName,
    PayoutOrder,
    PayoutRequest,
    PayoutResult,
    PayoutStatus,
    PayoutSubStatus,
    RiskParams,
    Trade,
)
from .validation import FieldError, FieldValidationResult

__all__ = [
    "FINAL_STATUSES",
    "AccountInfo",
    "AdditionalIdentifier",
    "Address",
    "BankInfo",
    "Document",
    "FieldError",
    "FieldValidationRequest",
    "FieldValidationResult",
    "FundsDetail",
    "Money",
    "Name",
    "PayeeInfo",
    "PayerInfo",
    "PayerName",
    "PayoutNotification",
    "PayoutOrder",
    "PayoutRequest",
    "PayoutResult",
    "PayoutStatus",
    "PayoutSubStatus",
    "RiskParams",
    "Trade",
]

"""Payout requests and results (``paymentOrderPay``, ``paymentOrderQry``, ``paymentOrderBatchQry``).

Attribute names are the snake_case of the wire names (``payee_info`` ⇄ ``payeeInfo``). Optional fields
default to ``None`` and are left out of the request. Amounts are ``Decimal``. Payee data is masked in
``repr`` so that logging a request never prints an account number, name, phone or email.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .._redact import mask
from ..errors import ValidationError
from ..protocol.amounts import AMOUNT_FIELD, MAX_AMOUNT_LENGTH, amount_text

__all__ = [
    "FINAL_STATUSES",
    "AccountInfo",
    "AdditionalIdentifier",
    "Address",
    "BankInfo",
    "Document",
    "FieldValidationRequest",
    "FundsDetail",
    "Money",
    "Name",
    "PayeeInfo",
    "PayerInfo",
    "PayerName",
    "PayoutOrder",
    "PayoutRequest",
    "PayoutResult",
    "PayoutStatus",
    "PayoutSubStatus",
    "RiskParams",
    "Trade",
    "is_forward",
    "status_rank",
]


def _sensitive(default: object = None) -> Any:
    """An optional string field holding payee data: masked in ``repr``."""
    return attrs.field(default=default, repr=mask)


class PayoutStatus(str, enum.Enum):
    """The state of a payout (``data.status``). ``PENDING`` → ``SUCCESS`` | ``FAILED``;
    ``SUCCESS`` → ``BOUNCEBACK``. ``FAILED`` and ``BOUNCEBACK`` are terminal."""

    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    BOUNCEBACK = "BOUNCEBACK"

    @property
    def is_final(self) -> bool:
        """Whether the payout has a result (``SUCCESS`` can still bounce back later)."""
        return self is not PayoutStatus.PENDING


#: Statuses after which ``wait_until_final`` stops polling.
FINAL_STATUSES = frozenset({PayoutStatus.SUCCESS, PayoutStatus.FAILED, PayoutStatus.BOUNCEBACK})

_RANK = {
    PayoutStatus.PENDING: 0,
    PayoutStatus.SUCCESS: 1,
    PayoutStatus.FAILED: 1,
    PayoutStatus.BOUNCEBACK: 2,
}


def status_rank(status: PayoutStatus) -> int:
    """Position of ``status`` in the payout's life: PENDING 0, SUCCESS/FAILED 1, BOUNCEBACK 2."""
    return _RANK[status]


def is_forward(old: PayoutStatus | None, new: PayoutStatus) -> bool:
    """Whether moving from ``old`` to ``new`` advances a payout (a late PENDING never rewinds SUCCESS;
    SUCCESS → BOUNCEBACK is forward; FAILED and BOUNCEBACK are terminal)."""
    if old is None:
        return True
    if old in (PayoutStatus.FAILED, PayoutStatus.BOUNCEBACK):
        return False
    if old is PayoutStatus.SUCCESS:
        return new is PayoutStatus.BOUNCEBACK
    return status_rank(new) > status_rank(old)


class PayoutSubStatus(str, enum.Enum):
    """Known ``subStatus`` values of a ``PENDING`` payout (the model keeps any string)."""

    PEND_RFI_MATERIAL = "PEND_RFI_MATERIAL"
    REVIEW = "REVIEW"
    TRANSMIT = "TRANSMIT"


def _model_amount_text(value: object) -> str:
    """The wire text of an amount given to :class:`Trade` (see its docstring)."""
    if isinstance(value, int) and not isinstance(value, bool):
        # An int is written out like a Decimal; its size is checked before str() (which refuses
        # numbers of thousands of digits with a ValueError).
        if not -(10**MAX_AMOUNT_LENGTH) < value < 10**MAX_AMOUNT_LENGTH:
            msg = f"{AMOUNT_FIELD} is longer than {MAX_AMOUNT_LENGTH} characters"
            raise ValidationError(msg, field=AMOUNT_FIELD)
        value = Decimal(value)
    return amount_text(value)


# ---------------------------------------------------------------------------------------------- request


@attrs.frozen(init=False)
class Trade:
    """What to pay: ``amount`` in ``currency`` (ISO 4217).

    ``amount`` may be given as text, sent exactly as written (``"0012.50"`` goes out as ``0012.50``),
    or as a ``Decimal`` or ``int``, written out once in plain decimal form (``Decimal("1E+3")`` goes
    out as ``1000``). Either way the text must be what a mapping request may carry: ASCII digits with
    an optional fraction, at most 12 characters, greater than zero. ``"1e3"``, ``"1_000"``,
    ``" 2000 "`` and ``"١٠٠٠"`` are refused here exactly as they are in a mapping, and a float
    always. ``trade.amount`` is the ``Decimal`` value; ``trade.amount_text`` is the text sent.

    Raises:
        ValidationError: ``trade.amount`` is not such an amount.
    """

    amount: Decimal
    currency: str
    _amount_text: str = attrs.field(init=False, repr=False, eq=False)

    def __init__(self, amount: Decimal | str | int, currency: str) -> None:
        text = _model_amount_text(amount)
        value = amount if isinstance(amount, Decimal) else Decimal(text)
        self.__attrs_init__(amount=value, currency=currency)
        object.__setattr__(self, "_amount_text", text)  # frozen: set once, here

    @property
    def amount_text(self) -> str:
        """The amount exactly as it goes on the wire (``trade.amount``)."""
        return self._amount_text


@attrs.frozen
class AccountInfo:
    """The payee's account: wallet id, phone number or bank account number."""

    account_no: str = attrs.field(repr=mask)
    account_type: str | None = None
    check_digit: str | None = None


@attrs.frozen
class BankInfo:
    """Bank details for ``BANK_TRANSFER`` payouts."""

    bank_code: str | None = None
    bank_name: str | None = None
    bank_branch: str | None = None
    bank_city: str | None = None
    cor_account_no: str | None = _sensitive()


@attrs.frozen
class Name:
    """The payee's name; which parts are needed depends on country and method."""

    first_name: str | None = _sensitive()
    middle_name: str | None = _sensitive()
    last_name: str | None = _sensitive()
    full_name: str | None = _sensitive()


@attrs.frozen
class Document:
    """An identity document of the payee."""

    document_type: str | None = None
    document_id: str | None = _sensitive()
    document_issue_date: str | None = None
    document_expire_date: str | None = None


@attrs.frozen
class Address:
    """The payee's address."""

    address: str | None = _sensitive()
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None


@attrs.frozen
class PayeeInfo:
    """Who receives the money and how (``payeeInfo``)."""

    payment_method_type: str
    account_info: AccountInfo | None = None
    target_org: str | None = None
    payee_type: str | None = None
    bank_info: BankInfo | None = None
    name: Name | None = None
    document: Document | None = None
    address: Address | None = None
    payee_phone: str | None = _sensitive()
    birth_date: str | None = _sensitive()
    email: str | None = _sensitive()
    payee_nationality: str | None = None
    payee_gender: str | None = None
    payee_birth_country: str | None = None


@attrs.frozen
class PayerName:
    """The payer's name (``payerInfo.name``); masked in ``repr`` like the payee's."""

    first_name: str | None = _sensitive()
    middle_name: str | None = _sensitive()
    last_name: str | None = _sensitive()
    full_name: str | None = _sensitive()


@attrs.frozen
class PayerInfo:
    """Who pays, for merchants paying on behalf of sub-merchants (``payerInfo``)."""

    sub_merchant_no: str | None = None
    business_legal_name: str | None = None
    registration_country: str | None = None
    merchant_category_code: str | None = None
    payer_id: str | None = None
    name: PayerName | None = None


@attrs.frozen
class RiskParams:
    """Risk-control data about the merchant's user (``riskParams``)."""

    register_name: str | None = _sensitive()
    register_no: str | None = _sensitive()
    nick_name: str | None = _sensitive()
    third_account_no_type: str | None = None
    third_account_no: str | None = _sensitive()
    bind_email: str | None = _sensitive()
    bind_phone_no: str | None = _sensitive()
    account_level: str | None = None
    vip_level: str | None = None
    reg_time: str | None = None
    last_login_time: str | None = None
    live_country: str | None = None
    tax_id: str | None = _sensitive()
    cum_payout_amount: str | None = None
    cum_payout_txn: str | None = None
    account_balance: str | None = None
    express_merchant_id: str | None = attrs.field(
        default=None, metadata={"wire": "expressMerchantID"}
    )


@attrs.frozen
class PayoutRequest:
    """One payout (the ``data`` of ``paymentOrderPay``).

    ``out_trade_no`` is the idempotency key: choose it once per payout intent (your withdrawal id) and
    reuse it on every retry; a new number is a new, irrevocable payout.
    """

    out_trade_no: str
    country: str
    trade: Trade
    payee_info: PayeeInfo
    payer_info: PayerInfo | None = None
    risk_params: RiskParams | None = None
    source_account: str | None = None
    destination_currency: str | None = None
    charge_option: str | None = None
    clearing_rail: str | None = None
    user_id: str | None = None
    expiry_days: str | None = None
    remark: str | None = None
    reference: str | None = None
    notify_url: str | None = None
    notify_email: str | None = _sensitive()
    notify_phone: str | None = _sensitive()
    purpose: str | None = None


@attrs.frozen
class FieldValidationRequest:
    """The ``data`` of ``paymentFieldValidation``: a payout's payee fields, without the payout itself."""

    country: str
    payee_info: PayeeInfo
    payer_info: PayerInfo | None = None
    source_account: str | None = None
    destination_currency: str | None = None
    charge_option: str | None = None
    clearing_rail: str | None = None
    expiry_days: str | None = None
    remark: str | None = None
    notify_email: str | None = _sensitive()
    notify_phone: str | None = _sensitive()
    purpose: str | None = None


# --------------------------------------------------------------------------------------------- response


@attrs.frozen(weakref_slot=False)
class PayoutResult:
    """The gateway's acceptance of a payout: its numbers and (normally ``PENDING``) status."""

    out_trade_no: str
    trade_no: str | None = None
    status: PayoutStatus = PayoutStatus.PENDING
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(weakref_slot=False)
class Money:
    """An amount in a currency."""

    amount: Decimal | None = None
    currency: str | None = None


@attrs.frozen(weakref_slot=False)
class FundsDetail:
    """The ``source`` or ``destination`` side of a payout, with fees, taxes and exchange rate."""

    amount: Decimal | None = None
    currency: str | None = None
    exchange_rate: Decimal | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    tax: Decimal | None = None
    tax_currency: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(weakref_slot=False)
class AdditionalIdentifier:
    """Extra identifiers of the payout at the receiving institution."""

    reference_id: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(weakref_slot=False)
class PayoutOrder:
    """A payout as the gateway knows it (``paymentOrderQry``, batch query, notification ``data``).

    ``status`` is the payout's state; ``response_code``/``response_msg`` say why a payout failed.
    Unknown fields from newer gateway versions are kept in ``extra``.
    """

    out_trade_no: str
    status: PayoutStatus
    trade_no: str | None = None
    sub_status: str | None = None
    trade: Money | None = None
    source: FundsDetail | None = None
    destination: FundsDetail | None = None
    response_code: str | None = None
    response_msg: str | None = None
    reference: str | None = None
    redeem_code: str | None = attrs.field(default=None, repr=mask)
    expiry_time: datetime | None = None
    transaction_utc_time: datetime | None = None
    pay_finish_time: datetime | None = None
    bounce_back_time: datetime | None = None
    funds_freeze_time: datetime | None = None
    funds_return_time: datetime | None = None
    notify_email: str | None = _sensitive()
    notify_phone: str | None = _sensitive()
    additional_identifier: AdditionalIdentifier | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def is_final(self) -> bool:
        """Whether the payout has a result (``SUCCESS``, ``FAILED`` or ``BOUNCEBACK``)."""
        return self.status.is_final

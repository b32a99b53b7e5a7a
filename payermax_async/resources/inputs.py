"""What the operations accept: requests as models or wire mappings, and timeouts."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from ..errors import ValidationError
from ..models.payouts import FieldValidationRequest, PayoutRequest
from ..models.wire import unstructure
from ..protocol.rules import check_payout_data, check_validation_data

__all__ = [
    "NOT_VALIDATED",
    "PayoutInput",
    "TimeoutInput",
    "ValidationInput",
    "as_client_timeout",
    "payout_data",
    "validation_data",
]

#: Fields of a payout's data that field validation does not take (docs/protocol.md §5).
NOT_VALIDATED = ("outTradeNo", "trade", "notifyUrl", "reference", "userId", "riskParams")

PayoutInput = PayoutRequest | Mapping[str, object]
ValidationInput = FieldValidationRequest | PayoutRequest | Mapping[str, object]
TimeoutInput = float | aiohttp.ClientTimeout | None


def as_client_timeout(timeout: TimeoutInput) -> aiohttp.ClientTimeout | None:
    """Accept seconds (total) or an ``aiohttp.ClientTimeout``."""
    if timeout is None or isinstance(timeout, aiohttp.ClientTimeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        msg = "timeout must be a positive number of seconds or an aiohttp.ClientTimeout"
        raise ValidationError(msg, field="timeout")
    return aiohttp.ClientTimeout(total=float(timeout))


def payout_data(request: PayoutInput) -> tuple[Mapping[str, object], str]:
    """Turn a payout request (model or wire mapping) into checked wire data and its outTradeNo."""
    data = unstructure(request) if isinstance(request, PayoutRequest) else request
    out_trade_no = check_payout_data(data)
    return data, out_trade_no


def validation_data(request: ValidationInput) -> Mapping[str, object]:
    """Turn a field-validation request (or a whole payout request) into checked wire data."""
    if isinstance(request, PayoutRequest):
        wire = unstructure(request)
        data: Mapping[str, object] = {k: v for k, v in wire.items() if k not in NOT_VALIDATED}
    elif isinstance(request, FieldValidationRequest):
        data = unstructure(request)
    else:
        data = request
    check_validation_data(data)
    return data

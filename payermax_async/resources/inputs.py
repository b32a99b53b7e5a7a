"""What the operations accept: requests as models or wire mappings, and timeouts."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from ..errors import ValidationError
from ..models.checking import check_model_types
from ..models.payouts import FieldValidationRequest, PayoutRequest
from ..models.wire import unstructure
from ..protocol.rules import check_payout_data, check_validation_data

__all__ = [
    "MAX_TIMEOUT",
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
#: The longest timeout accepted, in seconds (a day) [decided]: a payout's lease and the journal's
#: bookkeeping are derived from it, and no answer is worth waiting longer for.
MAX_TIMEOUT = 86_400.0

PayoutInput = PayoutRequest | Mapping[str, object]
ValidationInput = FieldValidationRequest | PayoutRequest | Mapping[str, object]
TimeoutInput = float | aiohttp.ClientTimeout | None

_TIMEOUT_PARTS = ("total", "connect", "sock_read", "sock_connect")


def _seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{field} must be a number of seconds or an aiohttp.ClientTimeout"
        raise ValidationError(msg, field=field)
    # float() of a huge int raises OverflowError: compare first, convert after.
    if not 0 < value <= MAX_TIMEOUT:  # NaN compares false, so it is refused here too
        msg = f"{field} must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
        raise ValidationError(msg, field=field)
    return float(value)


def as_client_timeout(timeout: TimeoutInput) -> aiohttp.ClientTimeout | None:
    """Accept seconds (total) or an ``aiohttp.ClientTimeout``; refuse NaN, infinity, zero, negative
    and over-long values (also inside a ``ClientTimeout``) before anything is sent.

    Raises:
        ValidationError: naming ``timeout`` (or ``timeout.total``, ``timeout.sock_read``, ...).
    """
    if timeout is None:
        return None
    if isinstance(timeout, aiohttp.ClientTimeout):
        for part in _TIMEOUT_PARTS:
            value = getattr(timeout, part)
            if value is not None:
                _seconds(value, f"timeout.{part}")
        return timeout
    return aiohttp.ClientTimeout(total=_seconds(timeout, "timeout"))


def payout_data(request: PayoutInput) -> tuple[Mapping[str, object], str]:
    """Turn a payout request (model or wire mapping) into checked wire data and its outTradeNo."""
    if isinstance(request, PayoutRequest):
        check_model_types(request)
        data: Mapping[str, object] = unstructure(request)
    else:
        data = request
    out_trade_no = check_payout_data(data)
    return data, out_trade_no


def validation_data(request: ValidationInput) -> Mapping[str, object]:
    """Turn a field-validation request (or a whole payout request) into checked wire data."""
    if isinstance(request, PayoutRequest | FieldValidationRequest):
        check_model_types(request)
        wire = unstructure(request)
        data: Mapping[str, object] = {k: v for k, v in wire.items() if k not in NOT_VALIDATED}
    else:
        data = request
    check_validation_data(data)
    return data

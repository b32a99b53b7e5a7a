"""What the operations accept: requests as models or wire mappings, and timeouts."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from ..errors import ValidationError
from ..models.checking import check_model_types
from ..models.payouts import FieldValidationRequest, PayoutRequest
from ..models.wire import unstructure
from ..pipeline.deadline import check_deadline, deadline_at
from ..protocol.rules import check_payout_data, check_validation_data

__all__ = [
    "MAX_TIMEOUT",
    "MAX_WAIT",
    "NOT_VALIDATED",
    "PayoutInput",
    "TimeoutInput",
    "ValidationInput",
    "as_client_timeout",
    "call_limits",
    "check_concurrency",
    "payout_data",
    "validation_data",
    "wait_arguments",
]

#: Fields of a payout's data that field validation does not take (docs/protocol.md §5).
NOT_VALIDATED = ("outTradeNo", "trade", "notifyUrl", "reference", "userId", "riskParams")
#: The longest timeout accepted, in seconds (a day) [decided]: a payout's lease and the journal's
#: bookkeeping are derived from it, and no answer is worth waiting longer for.
MAX_TIMEOUT = 86_400.0

#: The longest wait_until_final() accepts, and its longest poll interval: 30 days [decided].
MAX_WAIT = 30 * 86_400.0

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


def call_limits(
    timeout: TimeoutInput, deadline: float | None
) -> tuple[aiohttp.ClientTimeout | None, float | None]:
    """A call's per-attempt timeout and its deadline as an instant on the loop's clock, both checked
    before anything is sent.

    Raises:
        ValidationError: naming ``timeout`` (or one of its parts) or ``deadline``.
    """
    client_timeout = as_client_timeout(timeout)
    return client_timeout, deadline_at(check_deadline(deadline))


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


def wait_arguments(*values: float) -> tuple[float, float, float]:
    """``wait_until_final``'s timeout and intervals, checked and as floats.

    Raises:
        ValidationError: naming the first bad one.
    """
    checked = []
    for name, value in zip(("timeout", "poll_interval", "max_poll_interval"), values, strict=True):
        # A zero interval would poll the gateway in a tight loop; compared before any float
        # arithmetic, because loop.time() + 10**400 raises OverflowError.
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= MAX_WAIT
        ):
            msg = f"{name} must be a positive number of seconds, at most {MAX_WAIT:g}"
            raise ValidationError(msg, field=name)
        checked.append(float(value))
    return checked[0], checked[1], checked[2]


def check_concurrency(concurrency: object) -> None:
    """Refuse a ``concurrency`` that is not a positive integer (``ValidationError``)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        msg = "concurrency must be a positive integer"
        raise ValidationError(msg, field="concurrency")

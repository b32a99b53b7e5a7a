"""The payout APIs by name, and the batch query's fixed formats (docs/protocol.md §5)."""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "APIS",
    "API_BATCH_QUERY",
    "API_PAY",
    "API_QUERY",
    "API_VALIDATE",
    "BATCH_TIME_FORMAT",
    "MAX_BATCH_WINDOW",
]

#: Payee field validation.
API_VALIDATE = "paymentFieldValidation"
#: Initiate a payout (irrevocable).
API_PAY = "paymentOrderPay"
#: Query one payout by ``outTradeNo``.
API_QUERY = "paymentOrderQry"
#: Query the payouts created in a time window, page by page.
API_BATCH_QUERY = "paymentOrderBatchQry"
#: Every payout API this SDK speaks.
APIS = frozenset({API_VALIDATE, API_PAY, API_QUERY, API_BATCH_QUERY})
#: How the batch query writes ``queryBeginTime``/``queryEndTime`` (UTC).
BATCH_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The longest window one batch query may cover.
MAX_BATCH_WINDOW = timedelta(days=1)

"""The payout result notification PayerMax posts to the merchant's ``notifyUrl``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from .payouts import PayoutOrder

__all__ = ["PayoutNotification"]


@attrs.frozen(weakref_slot=False)
class PayoutNotification:
    """A verified ``PAYOUT`` notification. ``data`` is the payout as the gateway now sees it.

    Notifications can repeat and arrive out of order: apply ``data.status`` forward only.
    """

    notify_type: str
    merchant_no: str
    app_id: str
    data: PayoutOrder
    notify_time: datetime | None = None
    code: str | None = None
    msg: str | None = None
    key_version: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

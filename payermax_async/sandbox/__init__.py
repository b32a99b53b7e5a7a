"""An embedded PayerMax payout gateway: the whole payout flow, offline, over real loopback HTTP.

::

    from payermax_async import PayerMaxClient
    from payermax_async.sandbox import Fault, FaultKind, SandboxGateway

    async with SandboxGateway() as gw, PayerMaxClient(gw.config()) as client:
        gw.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay", times=1))
        ...

Outcomes follow PayerMax's UAT triggers: amount 110/11000 fails, 100/10000 stays pending, ``remark``
``SUCCESS``/``FAILED``/``BOUNCEBACK`` wins, anything else succeeds.
"""

from __future__ import annotations

from .faults import Fault, FaultKind, FaultSet
from .gateway import API_PREFIX, DEFAULT_APP_ID, DEFAULT_MERCHANT_NO, SandboxGateway
from .ledger import Ledger, SandboxOrder
from .notifier import NOTIFY_OFFSETS, NOTIFY_SCHEDULE, Delivery

__all__ = [
    "API_PREFIX",
    "DEFAULT_APP_ID",
    "DEFAULT_MERCHANT_NO",
    "NOTIFY_OFFSETS",
    "NOTIFY_SCHEDULE",
    "Delivery",
    "Fault",
    "FaultKind",
    "FaultSet",
    "Ledger",
    "SandboxGateway",
    "SandboxOrder",
]

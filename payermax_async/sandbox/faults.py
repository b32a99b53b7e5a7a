"""Seeded fault injection for the sandbox gateway.

A :class:`Fault` says what goes wrong (its :class:`FaultKind`), for which requests (``api``,
``out_trade_no``), how often (``rate``, drawn with the gateway's seeded RNG) and how many times at most
(``times``). Several faults can be registered; for each request they are tried in registration order and
the first that fires wins. The reliability layer of the SDK is tested against exactly these.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator

import attrs

__all__ = ["Fault", "FaultKind", "FaultSet"]


class FaultKind(str, enum.Enum):
    """What the sandbox does wrong when a :class:`Fault` fires.

    For the query APIs "commit" simply means "process the request".
    """

    #: Abort the connection (TCP reset) before processing: nothing is committed.
    RESET_BEFORE_READ = "RESET_BEFORE_READ"
    #: Answer HTTP 503 with a non-JSON body (a load balancer's page): nothing is committed.
    HTTP_503_BEFORE_COMMIT = "HTTP_503_BEFORE_COMMIT"
    #: Answer a signed ``SYSTEM_ERROR``: nothing is committed.
    SYSTEM_ERROR_BEFORE_COMMIT = "SYSTEM_ERROR_BEFORE_COMMIT"
    #: Commit the order, then answer a signed ``SYSTEM_ERROR``.
    SYSTEM_ERROR_AFTER_COMMIT = "SYSTEM_ERROR_AFTER_COMMIT"
    #: Commit the order, then close the connection without any response.
    DROP_AFTER_COMMIT = "DROP_AFTER_COMMIT"
    #: Commit the order, then wait ``delay`` seconds before answering (trips client read timeouts).
    DELAY = "DELAY"
    #: Commit the order, then answer normally but with a ``sign`` header that does not match.
    BAD_SIGNATURE = "BAD_SIGNATURE"
    #: Answer ``TOO_MANY_REQUEST`` with a ``Retry-After: <retry_after>`` header: nothing is committed.
    RATE_LIMIT = "RATE_LIMIT"
    #: Refuse with the business code ``code`` (e.g. ``BALANCE_INSUFFICIENT``): nothing is committed.
    REJECT = "REJECT"
    #: Close the connection without an answer and commit the order ``delay`` seconds later, as an
    #: asynchronously processing gateway would: until then a query answers ``ORDER_NOT_EXIST``.
    #: ``gw.flush_late_commits()`` commits every pending one at once.
    COMMIT_LATE = "COMMIT_LATE"
    #: Answer the error ``code`` **without** a ``sign`` header (PayerMax may send some errors
    #: unsigned): nothing is committed.
    UNSIGNED_ERROR = "UNSIGNED_ERROR"
    #: Commit the order, then answer the error ``code`` without a ``sign`` header: what a proxy on
    #: the network path that rewrites answers would produce. The SDK must not believe it.
    TAMPERED_AFTER_COMMIT = "TAMPERED_AFTER_COMMIT"
    #: Commit the order, answer normally, and notify its ``PENDING`` status (with ``subStatus``)
    #: before the outcome's notification: PayerMax may notify sub-status changes, so receivers
    #: must take a PENDING notification (and never let it rewind a later status).
    NOTIFY_PENDING = "NOTIFY_PENDING"

    @property
    def before_commit(self) -> bool:
        """Whether the fault acts instead of processing the request (nothing is committed)."""
        return self in _BEFORE_COMMIT


_BEFORE_COMMIT = frozenset(
    {
        FaultKind.RESET_BEFORE_READ,
        FaultKind.HTTP_503_BEFORE_COMMIT,
        FaultKind.SYSTEM_ERROR_BEFORE_COMMIT,
        FaultKind.RATE_LIMIT,
        FaultKind.REJECT,
        FaultKind.UNSIGNED_ERROR,
    }
)


def _rate(_instance: object, _attribute: object, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        msg = f"rate must be between 0 and 1, got {value!r}"
        raise ValueError(msg)


def _times(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and value < 0:
        msg = f"times must be None or a non-negative count, got {value!r}"
        raise ValueError(msg)


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        msg = f"{attribute.name} must not be negative, got {value!r}"
        raise ValueError(msg)


@attrs.define(eq=False)
class Fault:
    """One injected failure. Compared by identity, so ``gw.faults.remove(fault)`` removes this one.

    Args:
        kind: what goes wrong.
        api: only requests to this apiName (``paymentOrderPay``, ...); ``None`` for every API.
        rate: the probability that a matching request triggers it (drawn with the seeded RNG).
        times: fire at most this many times (``None``: no limit).
        out_trade_no: only requests whose ``data.outTradeNo`` is this one.
        delay: seconds to wait before answering (:attr:`FaultKind.DELAY`) or before committing
            (:attr:`FaultKind.COMMIT_LATE`).
        retry_after: the ``Retry-After`` seconds, for :attr:`FaultKind.RATE_LIMIT`.
        code: the error code of :attr:`FaultKind.REJECT`, :attr:`FaultKind.UNSIGNED_ERROR` and
            :attr:`FaultKind.TAMPERED_AFTER_COMMIT`.

    Attributes:
        fired: how many times it has fired so far.
    """

    kind: FaultKind = attrs.field(converter=FaultKind)
    api: str | None = None
    rate: float = attrs.field(default=1.0, converter=float, validator=_rate)
    times: int | None = attrs.field(default=None, validator=_times)
    out_trade_no: str | None = None
    delay: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    retry_after: float = attrs.field(default=1.0, converter=float, validator=_non_negative)
    code: str = "BALANCE_INSUFFICIENT"
    fired: int = attrs.field(default=0, init=False)

    def matches(self, api: str, out_trade_no: str | None) -> bool:
        """Whether this fault applies to a request (ignoring its rate)."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.api is not None and self.api != api:
            return False
        return self.out_trade_no is None or self.out_trade_no == out_trade_no


class FaultSet:
    """The faults registered on one gateway (``gw.faults``), drawn with the gateway's seeded RNG."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        """Register ``fault`` (after those already registered) and return it."""
        if not isinstance(fault, Fault):
            msg = f"expected a Fault, got {type(fault).__name__}"
            raise TypeError(msg)
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Unregister ``fault``; removing one that is not registered is a no-op."""
        self._faults = [item for item in self._faults if item is not fault]

    def clear(self) -> None:
        """Unregister every fault."""
        self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)

    def draw(self, api: str, out_trade_no: str | None) -> Fault | None:
        """Pick the fault that fires for this request, if any, and count it as fired.

        Every matching fault draws one number from the RNG until one fires, so a given seed and
        request sequence always produce the same faults.
        """
        for fault in list(self._faults):
            if not fault.matches(api, out_trade_no):
                continue
            if self._rng.random() < fault.rate:
                fault.fired += 1
                return fault
        return None

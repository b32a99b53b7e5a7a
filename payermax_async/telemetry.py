"""OpenTelemetry tracing and metrics for a :class:`~payermax_async.PayerMaxClient` (extra ``otel``).

Enable it with one argument::

    from payermax_async.telemetry import Telemetry

    client = PayerMaxClient(config, middlewares=Telemetry().middlewares)

It uses the global tracer and meter providers unless you pass your own. Install the extra with
``pip install 'payermax-async[otel]'``; without it, :class:`Telemetry` raises a
:class:`~payermax_async.ConfigurationError` saying so, and nothing else changes: ``import
payermax_async`` never imports OpenTelemetry, and a client without these middlewares runs no
telemetry code at all.

**Spans.** One ``payermax.<operation>`` span per call of ``create``, ``retrieve``, ``validate`` or a
``list`` page (kind ``INTERNAL``), wrapping the idempotency journal and the retry layer; inside it,
one ``payermax.<apiName>`` span per HTTP attempt (kind ``CLIENT``), including the
``paymentOrderQry`` look-ups the retry layer makes when a payout's outcome is unknown. Attributes:

- ``payermax.api``: the apiName (``paymentOrderPay``, ...);
- ``payermax.out_trade_no``: the merchant's own payout number, when the call has one;
- ``payermax.attempt``: the attempt number (attempt spans);
- ``payermax.outcome``: ``ok`` or the error's class (``RequestTimeoutError``,
  ``PayoutOutcomeUnknown``, ...), also as ``error.type`` on failures.

A failed span has status ``ERROR`` and one ``exception`` event with the class and a redacted message
(a gateway error gives its code only): never payee data, never a traceback.

**Metrics.**

- ``payermax.client.attempts`` (counter): HTTP attempts, by ``payermax.api`` and ``payermax.outcome``;
- ``payermax.client.retries`` (counter): attempts after the first, by ``payermax.api``;
- ``payermax.client.attempt.duration`` and ``payermax.client.operation.duration`` (histograms,
  seconds): by ``payermax.api`` and ``payermax.outcome``;
- ``payermax.client.payouts.in_doubt`` (up-down counter): payouts that ended in
  :class:`~payermax_async.PayoutOutcomeUnknown` in this process and have not been settled since (by
  a later ``create``, ``retrieve`` or ``reconcile`` of the same number).

Metric attributes never include ``outTradeNo`` (unbounded cardinality).

**Why middlewares.** ``PayerMaxClient(middlewares=...)`` already exists, so enabling telemetry needs
no new client argument. A per-operation span must sit outside the journal and the retry layer; the
client places a middleware whose ``scope`` is :attr:`~payermax_async.pipeline.Scope.OPERATION` there,
and every other one inside the retry layer, once per attempt. :attr:`Telemetry.middlewares` holds one of each.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._redact import redact_text
from ._version import __version__
from .errors import APIError, ConfigurationError, OrderNotFoundError, PayoutOutcomeUnknown
from .pipeline.chain import Call, Handler, Middleware, Reply, Scope
from .protocol.apis import API_BATCH_QUERY, API_PAY, API_QUERY, API_VALIDATE

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["OPERATIONS", "Telemetry"]

#: The operation name of each API, used in ``payermax.<operation>`` span names.
OPERATIONS: Mapping[str, str] = {
    API_PAY: "create",
    API_QUERY: "retrieve",
    API_VALIDATE: "validate",
    API_BATCH_QUERY: "list",
}
_INSTRUMENTATION = "payermax_async"
_MISSING = (
    "OpenTelemetry is not installed; install the 'otel' extra: pip install 'payermax-async[otel]'"
)


def _out_trade_no(call: Call) -> str | None:
    if call.idempotency_key is not None:
        return call.idempotency_key
    value = call.data.get("outTradeNo")
    return value if isinstance(value, str) and value else None


def _outcome(error: BaseException | None) -> str:
    return "ok" if error is None else type(error).__name__


def _record_error(span: Span, error: BaseException) -> None:
    """Status, ``error.type`` and one ``exception`` event, without payee data or traceback."""
    from opentelemetry.trace import Status, StatusCode

    name = type(error).__name__
    # A gateway message is free text we do not control: keep only its code.
    message = error.code if isinstance(error, APIError) else redact_text(str(error))[:300]
    span.set_status(Status(StatusCode.ERROR, name))
    span.set_attribute("error.type", name)
    span.add_event(
        "exception",
        {"exception.type": f"{type(error).__module__}.{error.__class__.__qualname__}"}
        | ({"exception.message": message} if message else {}),
    )


class Telemetry:
    """Spans and metrics for one or more clients (see the module docstring).

    Args:
        tracer_provider: where spans go; the global provider if ``None``.
        meter_provider: where metrics go; the global provider if ``None``.

    Attributes:
        middlewares: pass these to ``PayerMaxClient(middlewares=...)`` (with any of your own).

    Raises:
        ConfigurationError: OpenTelemetry (the ``otel`` extra) is not installed.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:
            raise ConfigurationError(_MISSING) from None
        self._tracer = trace.get_tracer(
            _INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(_INSTRUMENTATION, __version__, meter_provider=meter_provider)
        self._attempts = meter.create_counter(
            "payermax.client.attempts", unit="{attempt}", description="HTTP attempts to PayerMax"
        )
        self._retries = meter.create_counter(
            "payermax.client.retries", unit="{attempt}", description="Attempts after the first"
        )
        self._attempt_duration = meter.create_histogram(
            "payermax.client.attempt.duration", unit="s", description="Duration of one attempt"
        )
        self._operation_duration = meter.create_histogram(
            "payermax.client.operation.duration",
            unit="s",
            description="Duration of one operation, all attempts and journal work included",
        )
        self._in_doubt = meter.create_up_down_counter(
            "payermax.client.payouts.in_doubt",
            unit="{payout}",
            description="Payouts whose outcome is unknown and not settled since",
        )
        self._client_kind = trace.SpanKind.CLIENT
        self._doubtful: set[str] = set()
        self.middlewares: tuple[Middleware, ...] = (
            _OperationSpans(self),
            _AttemptSpans(self),
        )

    # --------------------------------------------------------------------- the in-doubt count

    def _after_operation(self, call: Call, key: str | None, error: BaseException | None) -> None:
        if key is None:
            return
        if isinstance(error, PayoutOutcomeUnknown):
            if call.api == API_PAY and key not in self._doubtful:
                self._doubtful.add(key)
                self._in_doubt.add(1)
            return
        settled = error is None or (call.api == API_QUERY and isinstance(error, OrderNotFoundError))
        if settled and key in self._doubtful:
            self._doubtful.discard(key)
            self._in_doubt.add(-1)


class _OperationSpans:
    """One span per operation, outside the journal and the retry layer."""

    __slots__ = ("_telemetry",)
    #: Tells the client to place this middleware outside the journal and the retry layer.
    scope = Scope.OPERATION

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        t = self._telemetry
        key = _out_trade_no(call)
        attributes: dict[str, str] = {"payermax.api": call.api}
        if key is not None:
            attributes["payermax.out_trade_no"] = key
        name = f"payermax.{OPERATIONS.get(call.api, call.api)}"
        started = time.perf_counter()
        error: BaseException | None = None
        with t._tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return await next_handler(call)
            except BaseException as exc:  # cancellations too: the span says how it ended
                error = exc
                _record_error(span, exc)
                raise
            finally:
                outcome = _outcome(error)
                span.set_attribute("payermax.outcome", outcome)
                t._operation_duration.record(
                    time.perf_counter() - started,
                    {"payermax.api": call.api, "payermax.outcome": outcome},
                )
                t._after_operation(call, key, error)


class _AttemptSpans:
    """One span per attempt, inside the retry layer."""

    __slots__ = ("_telemetry",)

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        t = self._telemetry
        key = _out_trade_no(call)
        attributes: dict[str, str | int] = {
            "payermax.api": call.api,
            "payermax.attempt": call.attempt,
        }
        if key is not None:
            attributes["payermax.out_trade_no"] = key
        if call.attempt > 1:
            t._retries.add(1, {"payermax.api": call.api})
        started = time.perf_counter()
        error: BaseException | None = None
        with t._tracer.start_as_current_span(
            f"payermax.{call.api}",
            kind=t._client_kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                reply = await next_handler(call)
            except BaseException as exc:
                error = exc
                _record_error(span, exc)
                raise
            else:
                span.set_attribute("http.response.status_code", reply.http_status)
                return reply
            finally:
                outcome = _outcome(error)
                span.set_attribute("payermax.outcome", outcome)
                metric = {"payermax.api": call.api, "payermax.outcome": outcome}
                t._attempts.add(1, metric)
                t._attempt_duration.record(time.perf_counter() - started, metric)

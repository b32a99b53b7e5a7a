"""In-memory OpenTelemetry: a span exporter and a metric reader, and a client wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from payermax_async import PayerMaxClient
from payermax_async.sandbox import SandboxGateway
from payermax_async.telemetry import Telemetry
from payermax_async.testing import fast_retry_policy
from tests.support.sandbox import gateway

__all__ = ["gateway"]


class Recorded:
    """What the telemetry exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """Finished spans, oldest first, optionally only those called ``name``."""
        spans = list(self.exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, value)`` of every data point of ``metric`` (histograms: their count)."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name != metric:
                        continue
                    for point in item.data.data_points:
                        value = getattr(point, "value", None)
                        found.append(
                            (
                                dict(point.attributes or {}),
                                value if value is not None else point.count,
                            )
                        )
        return found

    def total(self, metric: str, **attributes: Any) -> Any:
        """The sum over the data points of ``metric`` whose attributes include ``attributes``."""
        wanted = {f"payermax.{k}": v for k, v in attributes.items()}
        return sum(v for a, v in self.points(f"payermax.{metric}") if wanted.items() <= a.items())


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    """Fresh in-memory providers, shut down after the test."""
    memory = Recorded()
    yield memory
    memory.tracer_provider.shutdown()
    memory.meter_provider.shutdown()


@pytest.fixture
def telemetry(recorded: Recorded) -> Telemetry:
    """Telemetry exporting to ``recorded``."""
    return Telemetry(
        tracer_provider=recorded.tracer_provider, meter_provider=recorded.meter_provider
    )


@pytest.fixture
async def client(gateway: SandboxGateway, telemetry: Telemetry) -> AsyncIterator[PayerMaxClient]:
    """A sandbox client with telemetry on (one line) and fast retries."""
    async with PayerMaxClient(
        gateway.config(), retry=fast_retry_policy(), middlewares=telemetry.middlewares
    ) as payermax:
        yield payermax

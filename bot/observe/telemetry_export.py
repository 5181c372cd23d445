"""Where the bot's telemetry goes: OTLP over HTTP, a JSON-lines file, Prometheus, EMF.

The JSON-lines file is for a person with `jq` and no collector (a laptop, a game day):
one object per finished span and per metric point. EMF (CloudWatch Embedded Metric
Format) is for Lambda, where anything printed to stdout lands in CloudWatch Logs and
the EMF lines among it become CloudWatch metrics without a collector or an API call.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    NumberDataPoint,
    PeriodicExportingMetricReader,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

DELTA = {
    Counter: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    Histogram: AggregationTemporality.DELTA,
}


def otlp(endpoint: str) -> tuple[SpanExporter, MetricExporter]:
    """OTLP/HTTP protobuf exporters for a collector's base URL (`/v1/traces`, `/v1/metrics`
    are appended, as for `OTEL_EXPORTER_OTLP_ENDPOINT`)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = endpoint.rstrip("/")
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
    )


def periodic(exporter: MetricExporter, interval_ms: float) -> MetricReader:
    return PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)


def prometheus_reader(registry: Any) -> MetricReader:
    """A reader that adds the OTel metrics to a prometheus_client registry (not the
    library's global one), collected whenever `/metrics` is scraped."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    return PrometheusMetricReader(
        disable_target_info=True, scope_info_enabled=False, registry=registry
    )


def emf_reader(stream: IO[str], namespace: str) -> MetricReader:
    """EMF lines on `stream`, written only when flushed (at the end of an invocation)."""
    return PeriodicExportingMetricReader(
        EmfMetricExporter(stream, namespace), export_interval_millis=math.inf
    )


def _iso(nanos: int | None) -> str | None:
    if nanos is None:
        return None
    return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """Attribute values as JSON (the SDK hands sequences back as tuples)."""
    return list(value) if isinstance(value, tuple) else value


def _attributes(attributes: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in (attributes or {}).items()}


class JsonLines:
    """Appends JSON lines to a file, one batch at a time: the span and the metric exporter
    of one process share one, so their batches never interleave."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.lock = threading.Lock()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        text = "".join(json.dumps(record, default=str) + "\n" for record in records)
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(text)


def span_record(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    parent = span.parent
    return {
        "type": "span",
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "start_time": _iso(span.start_time),
        "end_time": _iso(span.end_time),
        "status": span.status.status_code.name,
        "attributes": _attributes(span.attributes),
        "events": [
            {"name": e.name, "time": _iso(e.timestamp), "attributes": _attributes(e.attributes)}
            for e in span.events
        ],
    }


class JsonLinesSpanExporter(SpanExporter):
    """Each finished span as one JSON object per line."""

    def __init__(self, out: JsonLines | Path | str) -> None:
        self._lines = out if isinstance(out, JsonLines) else JsonLines(out)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._lines.write([span_record(span) for span in spans])
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def metric_points(metrics_data: MetricsData) -> Iterator[dict[str, Any]]:
    """Every point of a collection as a flat record: name, unit, kind, attributes, value
    (for a histogram: count, sum, min, max and the buckets)."""
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.data
                kind = (
                    "histogram"
                    if isinstance(data, HistogramData)
                    else "sum"
                    if isinstance(data, Sum)
                    else "gauge"
                    if isinstance(data, Gauge)
                    else type(data).__name__.lower()
                )
                for point in data.data_points:
                    record: dict[str, Any] = {
                        "type": "metric",
                        "name": metric.name,
                        "unit": metric.unit,
                        "kind": kind,
                        "attributes": _attributes(point.attributes),
                        "start_time": _iso(point.start_time_unix_nano),
                        "time": _iso(point.time_unix_nano),
                    }
                    if isinstance(point, HistogramDataPoint):
                        record["value"] = {
                            "count": point.count,
                            "sum": point.sum,
                            "min": point.min if point.count else None,
                            "max": point.max if point.count else None,
                            "bounds": list(point.explicit_bounds),
                            "counts": list(point.bucket_counts),
                        }
                    elif isinstance(point, NumberDataPoint):
                        record["value"] = point.value
                    yield record


class JsonLinesMetricExporter(MetricExporter):
    """Each metric point as one JSON object per line; deltas, so lines add up."""

    def __init__(self, out: JsonLines | Path | str) -> None:
        super().__init__(preferred_temporality=DELTA)
        self._lines = out if isinstance(out, JsonLines) else JsonLines(out)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            self._lines.write(list(metric_points(metrics_data)))
        except OSError:
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


EMF_UNITS = {"s": "Seconds", "ms": "Milliseconds", "By": "Bytes"}


def emf_record(point: dict[str, Any], namespace: str) -> dict[str, Any]:
    """One metric point as an EMF document: the attributes become its dimensions; a
    histogram is sent as a statistic set (count, sum, min, max)."""
    dimensions = {key: str(value) for key, value in point["attributes"].items()}
    value = point["value"]
    if isinstance(value, dict):
        value = {
            "Count": value["count"],
            "Sum": value["sum"],
            "Min": value["min"] if value["min"] is not None else 0,
            "Max": value["max"] if value["max"] is not None else 0,
        }
    unit = EMF_UNITS.get(point["unit"] or "", "Count" if point["kind"] != "histogram" else "None")
    if point["name"] == "llm_incident.llm.cost":
        unit = "None"
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)[:30]],
                    "Metrics": [{"Name": point["name"], "Unit": unit}],
                }
            ],
        },
        **dimensions,
        point["name"]: value,
    }


class EmfMetricExporter(MetricExporter):
    """CloudWatch Embedded Metric Format, one JSON document per metric point per line."""

    def __init__(self, stream: IO[str], namespace: str) -> None:
        super().__init__(preferred_temporality=DELTA)
        self.stream = stream
        self.namespace = namespace
        self._lock = threading.Lock()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        lines = [
            json.dumps(emf_record(point, self.namespace), default=str)
            for point in metric_points(metrics_data)
            if not (isinstance(point["value"], dict) and not point["value"]["count"])
        ]
        if lines:
            with self._lock:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

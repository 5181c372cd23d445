"""The bot observes itself: OpenTelemetry traces and metrics of every investigation.

One `Telemetry` is built per process (or per test) from the settings and passed down to
the agent, the investigation pipeline and the incident flow; nothing here touches the
OpenTelemetry global providers, so a test can build as many independent ones as it
likes. Names follow the GenAI semantic conventions: an `invoke_agent` span per
investigation, a `chat {model}` span per Messages call, an `execute_tool {name}` span per
tool call, and the `gen_ai.client.token.usage` / `gen_ai.client.operation.duration`
histograms; the bot's own metrics (incidents, analyses, feedback, cost, time to the
first analysis) sit beside them under `llm_incident.*`.

Where the data goes is the exporters' business (`bot.observe.telemetry_export`): OTLP over
HTTP, a JSON-lines file, Prometheus text at `/metrics`, CloudWatch EMF on Lambda.
Message content (prompts, tool arguments and results) is recorded only when
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`: it holds log lines of the
monitored services, which a trace backend may not be cleared to keep.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes
from opentelemetry.trace import NoOpTracerProvider, Span, SpanKind, Status, StatusCode, Tracer

from bot.observe.genai import ChatCall, ToolCall, messages_json, system_json

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from bot.config import Settings
    from bot.models import Alarm, Investigation

AGENT_NAME = "llm-incident"
SCOPE = "llm_incident"
PROVIDERS = {"anthropic": "anthropic", "bedrock": "aws.bedrock"}
# The conventions' advised bucket boundaries for the two GenAI client histograms.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48)
DURATION_BUCKETS += (40.96, 81.92)
ANALYSIS_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 3600)

# The bot's own attribute and metric names.
INCIDENT_ID = "llm_incident.incident.id"
ALARM_NAME = "llm_incident.alarm.name"
SERVICE = "llm_incident.service"
PROMPT_VERSION = "llm_incident.prompt.version"
SOURCE = "llm_incident.analysis.source"
CATEGORY = "llm_incident.analysis.category"
CONFIDENCE = "llm_incident.analysis.confidence"
FALLBACK_REASON = "llm_incident.analysis.fallback_reason"
STEPS = "llm_incident.llm.steps"
COST = "llm_incident.llm.cost_usd"
EVIDENCE_TOKENS = "llm_incident.evidence.tokens"
VOTE = "llm_incident.feedback.vote"
INCIDENTS_OPENED = "llm_incident.incidents.opened"
ANALYSES = "llm_incident.analyses"
FEEDBACK = "llm_incident.feedback"
COST_METRIC = "llm_incident.llm.cost"
TIME_TO_ANALYSIS = "llm_incident.analysis.time_to_first"


class Instruments:
    """Every instrument the bot records, created once per meter."""

    def __init__(self, meter: Meter) -> None:
        self.token_usage = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.incidents = meter.create_counter(
            INCIDENTS_OPENED, unit="{incident}", description="Incidents opened by alarms."
        )
        self.analyses = meter.create_counter(
            ANALYSES, unit="{analysis}", description="Analyses made, by source (llm or triage)."
        )
        self.feedback = meter.create_counter(
            FEEDBACK, unit="{vote}", description="Votes on analyses (up or down)."
        )
        self.cost = meter.create_counter(
            COST_METRIC, unit="USD", description="Dollars spent on LLM calls."
        )
        self.time_to_analysis = meter.create_histogram(
            TIME_TO_ANALYSIS,
            unit="s",
            description="From the alarm's state change to its incident's first analysis.",
            explicit_bucket_boundaries_advisory=ANALYSIS_BUCKETS,
        )


@dataclass
class Telemetry:
    """Tracer, instruments and the providers behind them; `disabled()` costs nothing."""

    tracer_provider: trace.TracerProvider
    meter_provider: MeterProvider
    capture_content: bool = False
    registry: CollectorRegistry | None = None  # where /metrics reads the OTel metrics
    tracer: Tracer = field(init=False)
    instruments: Instruments = field(init=False)

    def __post_init__(self) -> None:
        self.tracer = self.tracer_provider.get_tracer(SCOPE)
        self.instruments = Instruments(self.meter_provider.get_meter(SCOPE))

    @classmethod
    def disabled(cls) -> Telemetry:
        return cls(NoOpTracerProvider(), NoOpMeterProvider())

    @property
    def enabled(self) -> bool:
        return not isinstance(self.tracer_provider, NoOpTracerProvider) or not isinstance(
            self.meter_provider, NoOpMeterProvider
        )

    def flush(self, timeout_ms: int = 10_000) -> None:
        """Export what is buffered now (a Lambda freezes as soon as its handler returns)."""
        for provider in (self.tracer_provider, self.meter_provider):
            if hasattr(provider, "force_flush"):
                provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        for provider in (self.tracer_provider, self.meter_provider):
            if hasattr(provider, "shutdown"):
                provider.shutdown()

    # -- spans ------------------------------------------------------------------------
    @contextmanager
    def investigation(
        self,
        alarm: Alarm,
        service: str | None = None,
        incident_id: int | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> Iterator[Span]:
        """The `invoke_agent` span of one investigation, current for the block so that the
        model and tool calls made inside it become its children."""
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value,
            gen_ai.GEN_AI_AGENT_NAME: AGENT_NAME,
            ALARM_NAME: alarm.name,
        }
        if service:
            attributes[SERVICE] = service
        if incident_id is not None:
            attributes[INCIDENT_ID] = incident_id
        if provider:
            attributes[gen_ai.GEN_AI_PROVIDER_NAME] = PROVIDERS.get(provider, provider)
        if model:
            attributes[gen_ai.GEN_AI_REQUEST_MODEL] = model
        with self.tracer.start_as_current_span(
            f"invoke_agent {AGENT_NAME}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            yield span

    def investigated(self, span: Span, investigation: Investigation, prompt_version: str | None):
        """What the investigation concluded, on its span and in the analysis counters."""
        usage = investigation.usage
        top = investigation.top
        version = investigation.prompt_version or prompt_version
        if span.is_recording():
            attributes: dict[str, Any] = {
                SOURCE: investigation.source,
                STEPS: investigation.steps,
                EVIDENCE_TOKENS: investigation.evidence_tokens,
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens
                + usage.cache_read_input_tokens
                + usage.cache_creation_input_tokens,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
                COST: usage.cost_usd,
            }
            if version:
                attributes[PROMPT_VERSION] = version
            if top is not None:
                attributes[CATEGORY] = top.category.value
                attributes[CONFIDENCE] = top.confidence
            if investigation.model:
                attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = investigation.model
            if investigation.fallback_reason:
                attributes[FALLBACK_REASON] = investigation.fallback_reason[:500]
            span.set_attributes(attributes)
        self.instruments.analyses.add(1, {SOURCE: investigation.source})
        if usage.cost_usd:
            self.instruments.cost.add(
                usage.cost_usd, {gen_ai.GEN_AI_RESPONSE_MODEL: _model(investigation)}
            )

    @contextmanager
    def chat(
        self,
        provider: str,
        model: str,
        max_tokens: int,
        system: Sequence[dict[str, Any]] = (),
        messages: Sequence[dict[str, Any]] = (),
    ) -> Iterator[ChatCall]:
        """One Messages call: a `chat {model}` client span and the two GenAI histograms.
        An exception leaving the block marks the span and the duration with its type."""
        provider_name = PROVIDERS.get(provider, provider)
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.CHAT.value,
            gen_ai.GEN_AI_PROVIDER_NAME: provider_name,
            gen_ai.GEN_AI_REQUEST_MODEL: model,
            gen_ai.GEN_AI_REQUEST_MAX_TOKENS: max_tokens,
        }
        call = ChatCall(self, provider_name, model)
        began = time.perf_counter()
        with self.tracer.start_as_current_span(
            f"chat {model}",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            call.span = span
            if self.capture_content and span.is_recording():
                span.set_attribute(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS, system_json(system))
                span.set_attribute(gen_ai.GEN_AI_INPUT_MESSAGES, messages_json(messages))
            try:
                yield call
            except BaseException as exc:
                error = type(exc).__qualname__
                span.set_status(Status(StatusCode.ERROR, str(exc)[:300]))
                span.set_attribute(error_attributes.ERROR_TYPE, error)
                call.record_duration(time.perf_counter() - began, error)
                raise
            call.record_duration(time.perf_counter() - began, None)

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: Any) -> Iterator[ToolCall]:
        """One tool call: an `execute_tool {name}` span (a child of the investigation's,
        whichever thread runs it, when the caller carries the context over)."""
        attributes: dict[str, Any] = {
            gen_ai.GEN_AI_OPERATION_NAME: gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value,
            gen_ai.GEN_AI_TOOL_NAME: name,
            gen_ai.GEN_AI_TOOL_CALL_ID: call_id,
            gen_ai.GEN_AI_TOOL_TYPE: "function",
        }
        if self.capture_content:
            attributes[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = json.dumps(arguments, default=str)
        with self.tracer.start_as_current_span(
            f"execute_tool {name}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            yield ToolCall(span, self.capture_content)

    # -- the bot's own metrics ---------------------------------------------------------
    def incident_opened(self, service: str) -> None:
        self.instruments.incidents.add(1, {SERVICE: service})

    def first_analysis(self, seconds: float, source: str) -> None:
        self.instruments.time_to_analysis.record(max(seconds, 0.0), {SOURCE: source})

    def feedback(self, vote: int) -> None:
        self.instruments.feedback.add(1, {VOTE: "up" if vote > 0 else "down"})


def _model(investigation: Investigation) -> str:
    return investigation.model or "none"


# -- building ------------------------------------------------------------------------
def build_telemetry(
    settings: Settings,
    *,
    span_exporters: Sequence[SpanExporter] = (),
    metric_readers: Sequence[MetricReader] = (),
    prometheus: CollectorRegistry | None = None,
    emf: IO[str] | None = None,
) -> Telemetry:
    """Providers with the exporters the settings ask for, plus any given here.

    Extra span exporters (tests) export each span as it ends; configured ones (OTLP, the
    file) batch on a thread of their own so an investigation never waits for them.
    `prometheus` is a registry the OTel metrics join (HTTP mode's `/metrics`); `emf` a
    stream for CloudWatch Embedded Metric Format lines (Lambda's stdout).
    """
    from bot.observe import telemetry_export as export

    processors = [SimpleSpanProcessor(exporter) for exporter in span_exporters]
    readers = list(metric_readers)
    interval = settings.metric_export_interval_ms
    if settings.otlp_endpoint:
        span_exporter, metric_exporter = export.otlp(settings.otlp_endpoint)
        processors.append(BatchSpanProcessor(span_exporter))
        readers.append(export.periodic(metric_exporter, interval))
    if settings.telemetry_file:
        lines = export.JsonLines(settings.telemetry_file)
        processors.append(BatchSpanProcessor(export.JsonLinesSpanExporter(lines)))
        readers.append(export.periodic(export.JsonLinesMetricExporter(lines), interval))
    if prometheus is not None:
        readers.append(export.prometheus_reader(prometheus))
    if emf is not None:
        readers.append(export.emf_reader(emf, settings.emf_namespace))
    resource = Resource.create(
        {"service.name": settings.otel_service_name, "service.version": _version()}
    )
    tracer_provider: trace.TracerProvider = NoOpTracerProvider()
    if processors:
        sdk_tracer = SdkTracerProvider(resource=resource)
        for processor in processors:
            sdk_tracer.add_span_processor(processor)
        tracer_provider = sdk_tracer
    meter_provider: MeterProvider = NoOpMeterProvider()
    if readers:
        meter_provider = SdkMeterProvider(metric_readers=readers, resource=resource)
    return Telemetry(
        tracer_provider,
        meter_provider,
        capture_content=settings.capture_message_content,
        registry=prometheus,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm-incident")
    except PackageNotFoundError:
        return "0"

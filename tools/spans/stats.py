"""The span figures of one side of the onset, read from the rows of the span queries.

Each query (`tools.spans.read.QUERIES`) is an aggregation; these dataclasses are its rows
folded into what an SRE compares across the onset: per operation (service and span
name) count, failures and p50/p95 duration; per model calls, tokens, finish reasons and
error types; per tool calls, failures and error types; the distribution of chat spans per
trace (agent steps); and the failing spans' error types and exception messages, with
sample trace ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tools.logs.insights import parse_time

ERROR_CODES = {"ERROR", "2", "STATUS_CODE_ERROR"}
Row = dict[str, str]
SERVICE = "resource.attributes.service.name"
OPERATION = "attributes.gen_ai.operation.name"
MODEL = "attributes.gen_ai.request.model"
TOOL = "attributes.gen_ai.tool.name"
ERROR_TYPE = "attributes.error.type"
FINISH = "attributes.gen_ai.response.finish_reasons.0"  # a list, as the conventions say
FINISH_TEXT = "attributes.gen_ai.response.finish_reasons"  # a plain string, as some write it
EXCEPTION_TYPE = "events.0.attributes.exception.type"
EXCEPTION_MESSAGE = "events.0.attributes.exception.message"


def is_error(code: str | None) -> bool:
    """OTel status codes as text (`ERROR`) or as OTLP's numbers (2)."""
    if code is None:
        return False
    text = str(code).strip().upper()
    return text in ERROR_CODES or text == "2.0"


def _int(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class OperationStat:
    service: str
    name: str
    operation: str = ""
    count: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None


@dataclass
class ModelStat:
    model: str
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reasons: Counter[str] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)


@dataclass
class ToolStat:
    tool: str
    calls: int = 0
    errors: int = 0
    error_types: Counter[str] = field(default_factory=Counter)


@dataclass
class ErrorStat:
    name: str
    error_type: str
    message: str
    count: int
    first_seen_ms: int | None = None
    traces: list[str] = field(default_factory=list)


@dataclass
class SideStats:
    """One side of the onset: its length and every figure the queries gave."""

    minutes: float
    first_seen_ms: int | None = None  # the side's earliest span, where a query said
    operations: dict[tuple[str, str], OperationStat] = field(default_factory=dict)
    models: dict[str, ModelStat] = field(default_factory=dict)
    tools: dict[str, ToolStat] = field(default_factory=dict)
    steps: Counter[int] = field(default_factory=Counter)  # chat spans per trace -> traces
    errors: list[ErrorStat] = field(default_factory=list)

    @property
    def spans(self) -> int:
        return sum(op.count for op in self.operations.values())

    def per_minute(self, count: float) -> float:
        return count / max(self.minutes, 1e-9)

    def trim_to_first_span(self, end_ms: int) -> None:
        """Measure rates from the side's first span, not from the window's start: a service
        whose spans begin inside the baseline (new, or newly instrumented) would otherwise
        look as if its traffic grew at onset."""
        if self.first_seen_ms is not None:
            covered = max((end_ms - self.first_seen_ms) / 60_000, 1.0)
            self.minutes = min(self.minutes, covered)

    def count_of(self, operation: str) -> int:
        """Spans whose `gen_ai.operation.name` is `operation` (`chat`, `invoke_agent`...)."""
        return sum(op.count for op in self.operations.values() if op.operation == operation)

    def step_percentile(self, share: float) -> float | None:
        """Chat spans per trace at this share of traces (nearest rank)."""
        total = sum(self.steps.values())
        if not total:
            return None
        rank, seen = max(share * total, 1), 0
        for steps in sorted(self.steps):
            seen += self.steps[steps]
            if seen >= rank:
                return float(steps)
        return float(max(self.steps))


def _ms(value: str | None) -> int | None:
    """A `min(@timestamp)` answer as epoch ms: Logs Insights gives a time string, the
    bounded read's engine epoch ms."""
    if not value:
        return None
    if value.replace(".", "").isdigit():
        return _int(value)
    return parse_time(value)


def fold(side: SideStats, kind: str, rows: list[Row]) -> None:
    """Add the rows of one query to the side's figures."""
    for row in rows:
        if kind == "operations":
            key = (row.get(SERVICE, ""), row.get("name", ""))
            op = side.operations.setdefault(key, OperationStat(*key))
            op.operation = row.get(OPERATION, op.operation)
            op.count += _int(row.get("spans"))
            if (first := _ms(row.get("first_seen"))) is not None:
                side.first_seen_ms = min(side.first_seen_ms or first, first)
            for name in ("p50", "p95"):
                nanos = _float(row.get(name))
                if nanos is not None:
                    setattr(op, f"{name}_ms", nanos / 1e6)
        elif kind == "status":
            key = (row.get(SERVICE, ""), row.get("name", ""))
            op = side.operations.setdefault(key, OperationStat(*key))
            if is_error(row.get("status.code")):
                op.errors += _int(row.get("spans"))
        elif kind == "models":
            model = side.models.setdefault(row.get(MODEL, ""), ModelStat(row.get(MODEL, "")))
            calls = _int(row.get("calls"))
            model.calls += calls
            model.input_tokens += _int(row.get("input_tokens"))
            model.output_tokens += _int(row.get("output_tokens"))
            if reason := row.get(FINISH) or row.get(FINISH_TEXT):
                model.finish_reasons[reason] += calls
            if is_error(row.get("status.code")):
                model.errors += calls
                model.error_types[row.get(ERROR_TYPE) or "unknown"] += calls
        elif kind == "tools":
            tool = side.tools.setdefault(row.get(TOOL, ""), ToolStat(row.get(TOOL, "")))
            calls = _int(row.get("calls"))
            tool.calls += calls
            if is_error(row.get("status.code")):
                tool.errors += calls
                tool.error_types[row.get(ERROR_TYPE) or "unknown"] += calls
        elif kind == "steps":
            if (steps := _int(row.get("steps"))) > 0:
                side.steps[steps] += _int(row.get("traces"))
        elif kind == "errors":
            first_ms = _ms(row.get("first_seen"))
            traces = [t for t in (row.get("first_trace"), row.get("last_trace")) if t]
            side.errors.append(
                ErrorStat(
                    name=row.get("name", ""),
                    error_type=row.get(ERROR_TYPE) or row.get(EXCEPTION_TYPE) or "unknown",
                    message=(row.get(EXCEPTION_MESSAGE) or "")[:200],
                    count=_int(row.get("spans")),
                    first_seen_ms=first_ms,
                    traces=list(dict.fromkeys(traces)),
                )
            )

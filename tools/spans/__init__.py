"""OpenTelemetry spans (CloudWatch Transaction Search): what an instrumented agent did,
before and since the onset.

`read` finds where the spans live and runs the aggregation queries over the spans log
group (`aws/spans`) on each side of the onset; `stats` folds the rows into figures;
`engine` is the small Logs Insights interpreter used when an endpoint cannot run Logs
Insights. Counts come from the log group, not from X-Ray's trace summaries (which hold
about 1% of the spans). This module is the tool; its text is a few compared figures,
never spans themselves.
"""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import Field

from tools.aws import AwsClients
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_number, fmt_offset
from tools.spans.read import DEFAULT_GROUP, QUERIES, Location, Read, locate, read_spans
from tools.spans.stats import ErrorStat, ModelStat, OperationStat, SideStats, ToolStat, is_error

__all__ = [
    "DEFAULT_GROUP",
    "QUERIES",
    "ErrorStat",
    "Location",
    "ModelStat",
    "OperationStat",
    "SideStats",
    "SpansInput",
    "SpansTool",
    "ToolStat",
    "analyze",
    "collect",
    "is_error",
]

MAX_OPERATIONS = 8
MAX_MODELS = 4
MAX_TOOLS = 6
MAX_ERRORS = 4


class SpansInput(ToolInput):
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    log_group: str = Field(default=DEFAULT_GROUP, max_length=512, description="spans log group")
    services: list[str] = Field(
        default_factory=list, max_length=20, description="OTel service.name values to keep"
    )


class SpansTool(Tool[SpansInput]):
    name = "get_agent_spans"
    description = (
        "OpenTelemetry spans of instrumented agents (CloudWatch Transaction Search, log "
        "group aws/spans), aggregated before/since onset with Logs Insights: per span name "
        "count, error share, p50/p95 duration; per gen_ai.request.model tokens and "
        "finish_reasons; per gen_ai.tool.name calls and errors with error.type; chat spans "
        "per trace (agent steps); new error types and exception messages with sample "
        "trace ids. Counts come from the log group, not X-Ray summaries."
    )
    Input = SpansInput

    def run(self, params: SpansInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        where = locate(self.aws, params.log_group)
        if where.group is None:
            return ToolResult(self.name, f"no spans: {where.basis}", {"location": where})
        found = collect(self.aws, where, window, params.services, params.timeout_s)
        return analyze(found, where, window)


def collect(
    aws: AwsClients, where: Location, window: TimeRange, services: list[str], timeout_s: float
) -> Read:
    """Both sides' figures from the spans group `where` names (a group it found)."""
    if where.group is None:
        raise ToolError(f"no spans: {where.basis}")
    return read_spans(aws, where.group, window, services, time.monotonic() + timeout_s)


def _rate(side: SideStats, count: float) -> str:
    return f"{fmt_number(side.per_minute(count))}/min"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f}s" if value >= 1000 else f"{value:.0f}ms"


def _operation_lines(before: SideStats, after: SideStats) -> list[str]:
    keys = set(before.operations) | set(after.operations)
    empty = OperationStat("", "")

    def moved(key: tuple[str, str]) -> float:
        b, a = before.operations.get(key, empty), after.operations.get(key, empty)
        rate_b, rate_a = before.per_minute(b.count), after.per_minute(a.count)
        errors = abs(a.errors / max(a.count, 1) - b.errors / max(b.count, 1))
        return abs(rate_a - rate_b) / max(rate_b, 1) + 3 * errors + (a.count > 0) * 0.01

    lines = []
    for key in sorted(keys, key=moved, reverse=True)[:MAX_OPERATIONS]:
        b, a = before.operations.get(key, empty), after.operations.get(key, empty)
        lines.append(
            f"span `{key[1]}` ({key[0] or 'no service.name'}): {_rate(before, b.count)} -> "
            f"{_rate(after, a.count)}, errors {_share(b.errors, b.count)} -> "
            f"{_share(a.errors, a.count)}, p50 {_ms(b.p50_ms)} -> {_ms(a.p50_ms)}, "
            f"p95 {_ms(b.p95_ms)} -> {_ms(a.p95_ms)}"
        )
    return lines


def _reasons(model: ModelStat) -> str:
    total = sum(model.finish_reasons.values())
    if not total:
        return "-"
    return ", ".join(f"{r} {n / total:.0%}" for r, n in model.finish_reasons.most_common(3))


def _model_lines(before: SideStats, after: SideStats) -> list[str]:
    lines = []
    names = sorted(
        set(before.models) | set(after.models),
        key=lambda m: -(after.models.get(m, ModelStat(m)).calls),
    )
    for name in names[:MAX_MODELS]:
        b, a = before.models.get(name, ModelStat(name)), after.models.get(name, ModelStat(name))
        line = (
            f"model {name or 'unknown'}: calls {_rate(before, b.calls)} -> {_rate(after, a.calls)}"
            f", output_tokens/call {fmt_number(b.output_tokens / max(b.calls, 1))} -> "
            f"{fmt_number(a.output_tokens / max(a.calls, 1))}, input_tokens/min "
            f"{fmt_number(before.per_minute(b.input_tokens))} -> "
            f"{fmt_number(after.per_minute(a.input_tokens))}; finish_reasons {_reasons(b)} -> "
            f"{_reasons(a)}"
        )
        if a.errors or b.errors:
            kinds = ", ".join(f"{k} x{n}" for k, n in a.error_types.most_common(2))
            line += f"; errors {b.errors} -> {a.errors}" + (f" ({kinds})" if kinds else "")
        lines.append(line)
    return lines


def _tool_lines(before: SideStats, after: SideStats) -> list[str]:
    lines = []
    names = sorted(
        set(before.tools) | set(after.tools),
        key=lambda t: -(after.tools.get(t, ToolStat(t)).errors),
    )
    for name in names[:MAX_TOOLS]:
        b, a = before.tools.get(name, ToolStat(name)), after.tools.get(name, ToolStat(name))
        kinds = ", ".join(f"{k} x{n}" for k, n in a.error_types.most_common(2))
        lines.append(
            f"tool {name}: calls {_rate(before, b.calls)} -> {_rate(after, a.calls)}, errors "
            f"{_share(b.errors, b.calls)} -> {_share(a.errors, a.calls)}"
            + (f" (error.type {kinds})" if kinds else "")
        )
    return lines


def _steps_line(before: SideStats, after: SideStats) -> str | None:
    if not before.steps and not after.steps:
        return None

    def fmt(value: float | None) -> str:
        return "-" if value is None else fmt_number(value)

    return (
        f"chat spans per trace (agent steps): p50 {fmt(before.step_percentile(0.5))} -> "
        f"{fmt(after.step_percentile(0.5))}, p95 {fmt(before.step_percentile(0.95))} -> "
        f"{fmt(after.step_percentile(0.95))} (traces {sum(before.steps.values())} -> "
        f"{sum(after.steps.values())})"
    )


def _error_lines(before: SideStats, after: SideStats, window: TimeRange) -> list[str]:
    known = {(e.name, e.error_type) for e in before.errors}
    lines = []
    for error in sorted(after.errors, key=lambda e: -e.count)[:MAX_ERRORS]:
        status = "grown" if (error.name, error.error_type) in known else "new"
        first = ""
        if error.first_seen_ms is not None:
            at = datetime.fromtimestamp(error.first_seen_ms / 1000, window.onset.tzinfo)
            first = f", first {fmt_offset(window.minutes_from_t0(at))}"
        said = f': "{error.message}"' if error.message else ""
        traces = f" (traces {', '.join(error.traces[:2])})" if error.traces else ""
        lines.append(
            f"{status} error.type {error.error_type} on `{error.name}` x{error.count} since "
            f"onset{first}{said}{traces}"
        )
    return lines


def analyze(found: Read, where: Location, window: TimeRange) -> ToolResult:
    """The figures compared across the onset, as text for a model and data for code."""
    before, after = found.sides[False], found.sides[True]
    lines = [
        f"spans in {where.group} ({where.basis}): {before.spans} before onset, "
        f"{after.spans} since ({found.path})"
    ]
    if steps := _steps_line(before, after):
        lines.append(steps)
    lines += _model_lines(before, after)
    lines += _tool_lines(before, after)
    lines += _error_lines(before, after, window)
    lines += _operation_lines(before, after)
    text = "\n".join(f"- {line}" for line in lines)
    text += "".join(f"\n- read: {line}" for line in found.sampling)
    data = {
        "location": where,
        "sides": found.sides,
        "path": found.path,
        "sampling": found.sampling,
    }
    return ToolResult(SpansTool.name, text, data, list(found.notes))

"""Guardrail interventions: how many, which policy, and on which side of the model.

The side matters most: a surge of *input* interventions is someone attacking the
service; a shift in *output* interventions after a change is our own prompt or
model misbehaving. Two sources say it: the `AWS/Bedrock/Guardrails` metrics by
`GuardrailPolicyType` and `GuardrailContentSource`, and the Bedrock model
invocation log records, whose guardrail trace names the filter (`PROMPT_ATTACK`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_number
from tools.guardrail_records import InvocationLogStats, findings, read_invocation_records
from tools.logs import fetch_groups
from tools.metrics import MetricRef, SeriesSummary, fetch_summaries

NAMESPACE = "AWS/Bedrock/Guardrails"

__all__ = [
    "GuardrailsInput",
    "GuardrailsTool",
    "InvocationLogStats",
    "findings",
    "guardrail_refs",
    "read_invocation_records",
]


class GuardrailsInput(ToolInput):
    guardrails: list[str] = Field(default_factory=list, max_length=10, description="ids")
    invocation_log_group: str | None = None
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None


def guardrail_refs(aws: AwsClients, guardrail_ids: list[str]) -> list[MetricRef]:
    """Every `InvocationsIntervened` series of the guardrails, per policy and side too."""
    client = aws.client("cloudwatch")
    refs: dict[Any, MetricRef] = {}
    kwargs: dict[str, Any] = {"Namespace": NAMESPACE, "MetricName": "InvocationsIntervened"}
    while True:
        page = client.list_metrics(**kwargs)
        for metric in page.get("Metrics", []):
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            arn = dims.get("GuardrailArn", "")
            if not guardrail_ids or arn.rsplit("/", 1)[-1] in guardrail_ids:
                ref = MetricRef(namespace=NAMESPACE, name=metric["MetricName"], dimensions=dims)
                refs.setdefault(ref.key, ref)  # some endpoints list a series once per datapoint
        token = page.get("NextToken")
        if not token:
            return list(refs.values())
        kwargs["NextToken"] = token


def _side(summary: SeriesSummary) -> str:
    dims = summary.ref.dimensions
    policy = dims.get("GuardrailPolicyType", "all policies")
    source = dims.get("GuardrailContentSource", "both sides")
    return f"{policy} on {source}"


def render(summaries: list[SeriesSummary], logs: InvocationLogStats | None, window: TimeRange):
    lines = []
    per_min = "/min" if all(s.period == 60 for s in summaries) else "/period"
    for summary in sorted(summaries, key=lambda s: (not s.anomalous, -s.recent)):
        mark = "CHANGED" if summary.anomalous else "steady"
        lines.append(
            f"- InvocationsIntervened {_side(summary)}: {fmt_number(summary.baseline)} -> "
            f"{fmt_number(summary.recent)}{per_min} ({mark})"
        )
    if logs is not None and logs.records:
        lines += _log_lines(logs, window)
    return "\n".join(lines) or "- no guardrail data"


def _log_lines(logs: InvocationLogStats, window: TimeRange) -> list[str]:
    """What the invocation log says: each finding with its side, policy and detail, the
    actions, errors, token counts (absent on intervened requests) and stop reasons."""
    base_min = window.baseline_seconds / 60
    recent_min = window.recent_seconds / 60
    lines = []
    keys = sorted({key[1:] for key in logs.details}, key=lambda k: -logs.details[(True, *k)])
    for side, policy, kind, detail in keys[:12]:
        before = logs.details[(False, side, policy, kind, detail)] / base_min
        after = logs.details[(True, side, policy, kind, detail)] / recent_min
        how = f", {detail}" if detail else ""
        lines.append(
            f"- invocation log: {kind} ({policy}, {side}{how}) {before:.1f} -> {after:.1f}/min"
        )
    for action in sorted({a for _, a in logs.actions}):
        lines.append(
            f"- guardrail action {action}: {fmt_number(logs.actions[(False, action)])} before, "
            f"{fmt_number(logs.actions[(True, action)])} since onset"
        )
    for code in sorted({c for _, c in logs.errors}):
        lines.append(
            f"- invocation log errorCode {code}: {fmt_number(logs.errors[(False, code)])} "
            f"before, {fmt_number(logs.errors[(True, code)])} since onset"
        )
    for recent_side in (False, True):
        tokens_in = logs.input_tokens[recent_side]
        tokens_out = logs.output_tokens[recent_side]
        label = "since onset" if recent_side else "before onset"
        if tokens_in or tokens_out:
            avg_in = sum(tokens_in) / len(tokens_in) if tokens_in else 0
            avg_out = sum(tokens_out) / len(tokens_out) if tokens_out else 0
            lines.append(
                f"- invocation log {label}: avg inputTokenCount {fmt_number(avg_in)}, "
                f"avg outputTokenCount {fmt_number(avg_out)}"
                + (
                    f" ({fmt_number(logs.without_tokens[recent_side])} records without token "
                    "counts, as intervened requests have none)"
                    if logs.without_tokens[recent_side]
                    else ""
                )
            )
    images = {side: logs.modalities[(side, "image")] for side in (False, True)}
    if images[False] or images[True]:
        lines.append(
            f"- invocation log image records: {fmt_number(images[False])} before, "
            f"{fmt_number(images[True])} since onset (text: "
            f"{fmt_number(logs.modalities[(False, 'text')])} -> "
            f"{fmt_number(logs.modalities[(True, 'text')])})"
        )
    for reason in sorted({reason for _, reason in logs.stop_reasons}):
        lines.append(
            f"- stopReason {reason}: {fmt_number(logs.stop_reasons[(False, reason)])} before, "
            f"{fmt_number(logs.stop_reasons[(True, reason)])} since onset"
        )
    return lines


class GuardrailsTool(Tool[GuardrailsInput]):
    name = "get_guardrail_interventions"
    description = (
        "Guardrail interventions before/after onset by guardrail, policy type and content "
        "source (Input = user prompts, Output = model answers), from AWS/Bedrock/Guardrails "
        "metrics and the model invocation log's guardrail trace (Converse, InvokeModel and "
        "ApplyGuardrail shapes: topic names, content filter types and confidence, PII entity "
        "types, word matches, grounding scores), plus token counts, errorCodes and stop "
        "reasons from the invocation log."
    )
    Input = GuardrailsInput

    def run(
        self,
        params: GuardrailsInput,
        invocation_events: Callable[[], Iterable[tuple[int, str, float]]] | None = None,
    ) -> ToolResult:
        """`invocation_events`, when given, supplies the invocation log's lines already
        fetched by the logs source, so the group is not read twice."""
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        notes: list[str] = []
        summaries: list[SeriesSummary] = []
        logs: InvocationLogStats | None = None
        problems = []
        try:
            refs = guardrail_refs(self.aws, params.guardrails)
            if refs:
                summaries, notes = fetch_summaries(self.aws, refs, window, statistic="Sum")
        except Exception as exc:
            problems.append(f"guardrail metrics: {describe_error(exc)}")
        sampling: list[str] = []
        if params.invocation_log_group:
            try:
                events: Iterable[Any]
                if invocation_events is not None:
                    events = invocation_events()
                else:  # read as the logs source reads a group: each side, sampled when busy
                    fetched = fetch_groups(
                        self.aws, [params.invocation_log_group], window, None, params.timeout_s
                    )
                    if fetched.failures:
                        raise ToolError("; ".join(fetched.failures))
                    [sample] = fetched.samples.values()
                    events, sampling = list(sample.weighted()), fetched.sampling()
                logs = read_invocation_records(events, window)
            except Exception as exc:
                problems.append(f"invocation log: {describe_error(exc)}")
        if problems and not summaries and logs is None:
            raise ToolError("; ".join(problems))
        notes += problems
        data = {"series": summaries, "invocation_log": logs, "sampling": sampling}
        text = render(summaries, logs, window) + "".join(f"\n- read: {s}" for s in sampling)
        return ToolResult(self.name, text, data, notes)

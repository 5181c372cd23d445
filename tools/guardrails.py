"""Guardrail interventions: how many, which policy, and on which side of the model.

The side matters most: a surge of *input* interventions is someone attacking the
service; a shift in *output* interventions after a change is our own prompt or
model misbehaving. Two sources say it: the `AWS/Bedrock/Guardrails` metrics by
`GuardrailPolicyType` and `GuardrailContentSource`, and the Bedrock model
invocation log records, whose guardrail trace names the filter (`PROMPT_ATTACK`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_number
from tools.logs import filter_events
from tools.metrics import MetricRef, SeriesSummary, fetch_summaries

NAMESPACE = "AWS/Bedrock/Guardrails"
_ASSESSMENTS = {"inputAssessment": "Input", "outputAssessment": "Output"}


@dataclass
class InvocationLogStats:
    """What the model invocation log records say, per side of the onset."""

    records: Counter[bool] = field(default_factory=Counter)
    intervened: Counter[tuple[bool, str, str, str]] = field(default_factory=Counter)
    stop_reasons: Counter[tuple[bool, str]] = field(default_factory=Counter)
    input_tokens: dict[bool, list[int]] = field(default_factory=lambda: {False: [], True: []})
    output_tokens: dict[bool, list[int]] = field(default_factory=lambda: {False: [], True: []})
    callers: Counter[tuple[bool, str]] = field(default_factory=Counter)


def _findings(assessment: Any):
    """(policy, filter type) pairs of an input/output assessment, whatever its nesting."""
    if isinstance(assessment, dict):
        for key, value in assessment.items():
            if key.endswith("Policy") and isinstance(value, dict):
                for items in value.values():
                    for item in items if isinstance(items, list) else []:
                        if isinstance(item, dict):
                            kind = item.get("type") or item.get("name") or item.get("match") or "?"
                            yield key[0].upper() + key[1:], str(kind)
            else:
                yield from _findings(value)
    elif isinstance(assessment, list):
        for item in assessment:
            yield from _findings(item)


def _walk_for(record: Any, wanted: str):
    if isinstance(record, dict):
        for key, value in record.items():
            if key == wanted:
                yield value
            else:
                yield from _walk_for(value, wanted)
    elif isinstance(record, list):
        for item in record:
            yield from _walk_for(item, wanted)


def read_invocation_records(events: list[tuple[int, str]], window: TimeRange) -> InvocationLogStats:
    stats = InvocationLogStats()
    onset_ms = window.onset.timestamp() * 1000
    for timestamp_ms, message in events:
        try:
            record = json.loads(message)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        recent = timestamp_ms >= onset_ms
        stats.records[recent] += 1
        for tokens, bucket in (("inputTokenCount", "input"), ("outputTokenCount", "output")):
            for value in _walk_for(record, tokens):
                if isinstance(value, int):
                    (stats.input_tokens if bucket == "input" else stats.output_tokens)[
                        recent
                    ].append(value)
                    break
        for reason in _walk_for(record, "stopReason"):
            stats.stop_reasons[(recent, str(reason))] += 1
        for reason in _walk_for(record, "stop_reason"):
            stats.stop_reasons[(recent, str(reason))] += 1
        identity = record.get("identity", {})
        if isinstance(identity, dict) and identity.get("arn"):
            stats.callers[(recent, str(identity["arn"]))] += 1
        for guardrail in _walk_for(record, "guardrail"):
            for key, side in _ASSESSMENTS.items():
                for assessment in _walk_for(guardrail, key):
                    for policy, kind in _findings(assessment):
                        stats.intervened[(recent, side, policy, kind)] += 1
    return stats


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
        base_min = window.baseline_seconds / 60
        recent_min = window.recent_seconds / 60
        keys = {(side, policy, kind) for _, side, policy, kind in logs.intervened}
        for side, policy, kind in sorted(keys):
            before = logs.intervened[(False, side, policy, kind)] / base_min
            after = logs.intervened[(True, side, policy, kind)] / recent_min
            lines.append(
                f"- invocation log: {kind} ({policy}, {side}) {before:.1f} -> {after:.1f}/min"
            )
        for recent_side in (False, True):
            tokens_in = logs.input_tokens[recent_side]
            tokens_out = logs.output_tokens[recent_side]
            if tokens_in or tokens_out:
                label = "since onset" if recent_side else "before onset"
                avg_in = sum(tokens_in) / len(tokens_in) if tokens_in else 0
                avg_out = sum(tokens_out) / len(tokens_out) if tokens_out else 0
                lines.append(
                    f"- invocation log {label}: avg inputTokenCount {fmt_number(avg_in)}, "
                    f"avg outputTokenCount {fmt_number(avg_out)}"
                )
        reasons = {reason for _, reason in logs.stop_reasons}
        for reason in sorted(reasons):
            lines.append(
                f"- stopReason {reason}: {logs.stop_reasons[(False, reason)]} before, "
                f"{logs.stop_reasons[(True, reason)]} since onset"
            )
    return "\n".join(lines) or "- no guardrail data"


class GuardrailsTool(Tool[GuardrailsInput]):
    name = "get_guardrail_interventions"
    description = (
        "Guardrail interventions before/after onset by guardrail, policy type and content "
        "source (Input = user prompts, Output = model answers), from AWS/Bedrock/Guardrails "
        "metrics and the model invocation log's guardrail trace (filter types such as "
        "PROMPT_ATTACK), plus token counts and stop reasons from the invocation log."
    )
    Input = GuardrailsInput

    def run(
        self,
        params: GuardrailsInput,
        invocation_events: Callable[[], list[tuple[int, str]]] | None = None,
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
        if params.invocation_log_group:
            try:
                if invocation_events is not None:
                    events, capped = invocation_events(), False
                else:
                    events, capped = filter_events(self.aws, params.invocation_log_group, window)
                logs = read_invocation_records(events, window)
                if capped:
                    notes.append("invocation log capped; counts are a sample")
            except Exception as exc:
                problems.append(f"invocation log: {describe_error(exc)}")
        if problems and not summaries and logs is None:
            raise ToolError("; ".join(problems))
        notes += problems
        data = {"series": summaries, "invocation_log": logs}
        return ToolResult(self.name, render(summaries, logs, window), data, notes)

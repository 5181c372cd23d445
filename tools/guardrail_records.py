"""Guardrail assessments and model invocation log records, in the shapes AWS writes them.

Three APIs report a guardrail's findings, each in its own shape:

- Converse / ConverseStream: `trace.guardrail.inputAssessment` is a map of guardrail id to
  one assessment; `trace.guardrail.outputAssessments` a map of guardrail id to a *list*
  of assessments (one per output); `stopReason: guardrail_intervened`.
- InvokeModel with `X-Amzn-Bedrock-Trace: ENABLED`: the response body carries
  `amazon-bedrock-trace.guardrail.input` (id -> assessment) and `.outputs` (a list of
  id -> assessment maps), and `amazon-bedrock-guardrailAction` (`INTERVENED` or `NONE`).
- ApplyGuardrail: `assessments` (a list), `action` (`GUARDRAIL_INTERVENED` or `NONE`)
  and `actionReason`; the side is the request's `source` (`INPUT` or `OUTPUT`), found
  beside the response when the caller logged it.

An assessment holds `topicPolicy.topics` (name), `contentPolicy.filters` (type,
confidence, strength), `wordPolicy.customWords` / `managedWordLists` (match),
`sensitiveInformationPolicy.piiEntities` (type) / `regexes` (name), and
`contextualGroundingPolicy.filters` (type, score, threshold), each with an `action` and
often `detected`. A finding counts when it acted or was detected, not when it was only
scored.

Model invocation log records (`schemaType: ModelInvocationLog`) wrap the request and the
response (`input.inputBodyJson`, `output.outputBodyJson`); a record for a request the
guardrail intervened on carries no token counts; a failed invocation carries `errorCode`
instead of a response; a body may be text or an image; some exports start with a
byte-order mark.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.base import TimeRange

_POLICIES = {
    "topicPolicy": ("TopicPolicy", ("topics",)),
    "contentPolicy": ("ContentPolicy", ("filters",)),
    "wordPolicy": ("WordPolicy", ("customWords", "managedWordLists")),
    "sensitiveInformationPolicy": ("SensitiveInformationPolicy", ("piiEntities", "regexes")),
    "contextualGroundingPolicy": ("ContextualGroundingPolicy", ("filters",)),
    "automatedReasoningPolicy": ("AutomatedReasoningPolicy", ("findings",)),
}
_SIDES = {"input": "Input", "output": "Output", "INPUT": "Input", "OUTPUT": "Output"}


@dataclass(frozen=True)
class Finding:
    """One thing a guardrail found: on which side, by which policy, what, and how sure."""

    side: str  # Input | Output | unknown side
    policy: str  # ContentPolicy, TopicPolicy, ... (the GuardrailPolicyType names)
    kind: str  # a filter type, topic name, PII entity type, word, regex name
    detail: str = ""  # confidence and strength, grounding score, action


def _finding(side: str, policy: str, item: dict[str, Any]) -> Finding | None:
    action = str(item.get("action") or "")
    if item.get("detected") is False or (action == "NONE" and not item.get("detected")):
        return None
    kind = item.get("type") or item.get("name") or item.get("match") or "?"
    if policy == "TopicPolicy":
        kind = item.get("name") or kind
    elif policy == "WordPolicy":
        kind = item.get("match") or kind
    details = []
    if item.get("confidence"):
        details.append(f"confidence {item['confidence']}")
    if item.get("filterStrength"):
        details.append(f"strength {item['filterStrength']}")
    if isinstance(item.get("score"), int | float):
        threshold = item.get("threshold")
        details.append(
            f"score {item['score']:.2f}"
            + (f" < threshold {threshold:.2f}" if isinstance(threshold, int | float) else "")
        )
    if action:
        details.append(action)
    return Finding(side, policy, str(kind), ", ".join(details))


def assessment_findings(assessment: Any, side: str) -> Iterator[Finding]:
    """The findings of one assessment (a dict of policies)."""
    if not isinstance(assessment, dict):
        return
    for key, (policy, lists) in _POLICIES.items():
        block = assessment.get(key)
        if not isinstance(block, dict):
            continue
        for name in lists:
            for item in block.get(name) or []:
                if isinstance(item, dict) and (found := _finding(side, policy, item)):
                    yield found


def _per_guardrail(value: Any) -> Iterator[Any]:
    """Assessments under a guardrail-id map, a list of them, or a list of such maps."""
    if isinstance(value, list):
        for item in value:
            yield from _per_guardrail(item)
    elif isinstance(value, dict):
        if any(key in value for key in _POLICIES) or "invocationMetrics" in value:
            yield value
        else:
            for inner in value.values():
                yield from _per_guardrail(inner)


def trace_findings(guardrail: dict[str, Any]) -> Iterator[Finding]:
    """Findings of a `guardrail` trace block: Converse's `inputAssessment` /
    `outputAssessments` or InvokeModel's `input` / `outputs` (and the singular
    `outputAssessment` some callers write)."""
    keys = {
        "inputAssessment": "Input",
        "input": "Input",
        "outputAssessments": "Output",
        "outputAssessment": "Output",
        "outputs": "Output",
    }
    for key, side in keys.items():
        for assessment in _per_guardrail(guardrail.get(key)):
            yield from assessment_findings(assessment, side)


def findings(body: Any, side_hint: str | None = None) -> tuple[list[Finding], str | None]:
    """Every finding in a response body or log record, and the action it reports
    (`INTERVENED`, `GUARDRAIL_INTERVENED`, `guardrail_intervened`, `NONE`)."""
    found: list[Finding] = []
    action: str | None = None
    if side_hint is None:  # ApplyGuardrail's side is its request's `source`, if logged
        side_hint = next(
            (n["source"] for n in _nodes(body) if str(n.get("source")) in _SIDES), None
        )
    for node in _nodes(body):
        trace = node.get("trace")
        if isinstance(trace, dict) and isinstance(trace.get("guardrail"), dict):
            found += trace_findings(trace["guardrail"])
        bedrock_trace = node.get("amazon-bedrock-trace")
        if isinstance(bedrock_trace, dict) and isinstance(bedrock_trace.get("guardrail"), dict):
            found += trace_findings(bedrock_trace["guardrail"])
        if isinstance(node.get("amazon-bedrock-guardrailAction"), str):
            action = node["amazon-bedrock-guardrailAction"]
        if node.get("stopReason") == "guardrail_intervened":
            action = action or "guardrail_intervened"
        if isinstance(node.get("assessments"), list) and "action" in node:  # ApplyGuardrail
            source = node.get("source") if isinstance(node.get("source"), str) else side_hint
            side = _SIDES.get(str(source or ""), "unknown side")
            for assessment in node["assessments"]:
                found += assessment_findings(assessment, side)
            action = str(node["action"])
    return list(dict.fromkeys(found)), action


def _nodes(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON value, parents before children (bounded depth)."""
    if depth > 12:
        return
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from _nodes(inner, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item, depth + 1)


@dataclass
class InvocationLogStats:
    """What the model invocation log records say, per side of the onset (False: before).
    Counts are weighted by the records each record read stands for."""

    records: Counter[bool] = field(default_factory=Counter)
    intervened: Counter[tuple[bool, str, str, str]] = field(default_factory=Counter)
    details: Counter[tuple[bool, str, str, str, str]] = field(default_factory=Counter)
    actions: Counter[tuple[bool, str]] = field(default_factory=Counter)
    stop_reasons: Counter[tuple[bool, str]] = field(default_factory=Counter)
    input_tokens: dict[bool, list[int]] = field(default_factory=lambda: {False: [], True: []})
    output_tokens: dict[bool, list[int]] = field(default_factory=lambda: {False: [], True: []})
    without_tokens: Counter[bool] = field(default_factory=Counter)
    callers: Counter[tuple[bool, str]] = field(default_factory=Counter)
    # Input plus output tokens per caller: who sends the new tokens, not just the calls.
    caller_tokens: Counter[tuple[bool, str]] = field(default_factory=Counter)
    errors: Counter[tuple[bool, str]] = field(default_factory=Counter)
    modalities: Counter[tuple[bool, str]] = field(default_factory=Counter)


def modality(record: dict[str, Any]) -> str:
    """`image` when the request or the answer is an image, else `text`."""
    for side in ("input", "output"):
        part = record.get(side) or {}
        if not isinstance(part, dict):
            continue
        content_type = str(part.get(f"{side}ContentType") or "")
        if content_type.startswith("image/"):
            return "image"
        body = part.get(f"{side}BodyJson")
        for node in _nodes(body):
            if (
                "image" in node
                or "images" in node
                or str(node.get("taskType", "")).endswith("IMAGE")
            ):
                return "image"
    return "text"


def _first_int(record: Any, key: str) -> int | None:
    for node in _nodes(record):
        value = node.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    return None


def read_invocation_records(
    events: Iterable[tuple[int, str] | tuple[int, str, float]], window: TimeRange
) -> InvocationLogStats:
    stats = InvocationLogStats()
    onset_ms = window.onset.timestamp() * 1000
    for event in events:
        try:
            record = json.loads(event[1].lstrip("\ufeff"))
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        weight = event[2] if len(event) > 2 else 1.0  # type: ignore[misc]
        recent = event[0] >= onset_ms
        stats.records[recent] += weight
        stats.modalities[(recent, modality(record))] += weight
        if record.get("errorCode"):
            stats.errors[(recent, str(record["errorCode"]))] += weight
        tokens_in = _first_int(record, "inputTokenCount")
        tokens_out = _first_int(record, "outputTokenCount")
        if tokens_in is not None:
            stats.input_tokens[recent].append(tokens_in)
        if tokens_out is not None:
            stats.output_tokens[recent].append(tokens_out)
        if tokens_in is None and tokens_out is None:
            stats.without_tokens[recent] += weight
        for node in _nodes(record):
            for key in ("stopReason", "stop_reason"):
                if isinstance(node.get(key), str):
                    stats.stop_reasons[(recent, node[key])] += weight
        identity = record.get("identity")
        if isinstance(identity, dict) and identity.get("arn"):
            stats.callers[(recent, str(identity["arn"]))] += weight
            used = (tokens_in or 0) + (tokens_out or 0)
            stats.caller_tokens[(recent, str(identity["arn"]))] += used * weight
        found, action = findings(record)
        if action:
            stats.actions[(recent, action)] += weight
        for finding in found:
            stats.intervened[(recent, finding.side, finding.policy, finding.kind)] += weight
            key = (recent, finding.side, finding.policy, finding.kind, finding.detail)
            stats.details[key] += weight
    return stats

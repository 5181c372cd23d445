"""Model invocation log records, as Bedrock writes them to CloudWatch Logs (1.1).

One `ModelInvocationLog` record per call, in the shape of the API called: a Converse
record's response has `output.message`, `stopReason` and, with a guardrail, `trace.
guardrail` holding `inputAssessment` (guardrail id -> assessment) and `outputAssessments`
(guardrail id -> list of assessments); an InvokeModel record's response (Anthropic's
Messages format) has `stop_reason`, `amazon-bedrock-trace.guardrail` with `input` and
`outputs`, and `amazon-bedrock-guardrailAction`. A record of a request the guardrail
intervened on carries no token counts; a failed call has an `errorCode` and no response.
"""

from __future__ import annotations

import itertools
import json
import random
import uuid
from datetime import datetime
from typing import Any

from bot.sim.expand.draws import epoch_ms, seeded, spread, window_span
from bot.sim.expand.telemetry import LogEvent, LogStream
from bot.sim.invocation_specs import POLICIES, FindingSpec, InvocationPhase, InvocationSpec
from bot.sim.scenario import Scenario

STREAM = "aws/bedrock/modelinvocations"
_USAGE = {
    "topicPolicyUnits": 1,
    "contentPolicyUnits": 1,
    "wordPolicyUnits": 1,
    "sensitiveInformationPolicyUnits": 1,
    "sensitiveInformationPolicyFreeUnits": 0,
    "contextualGroundingPolicyUnits": 0,
    "contentPolicyImageUnits": 0,
}


def _item(finding: FindingSpec) -> tuple[str, str, dict[str, Any]]:
    """(policy key, list key, item) of one finding, as an assessment holds it."""
    action = finding.action or POLICIES[finding.policy]
    if finding.policy == "topic":
        return "topicPolicy", "topics", {"name": finding.name, "type": "DENY", "action": action}
    if finding.policy in ("content", "prompt_attack"):
        item = {
            "type": finding.name if finding.policy == "content" else "PROMPT_ATTACK",
            "confidence": finding.confidence,
            "filterStrength": "HIGH",
            "action": action,
        }
        return "contentPolicy", "filters", item
    if finding.policy == "word":
        return "wordPolicy", "customWords", {"match": finding.name, "action": action}
    if finding.policy == "pii":
        item = {"type": finding.name, "match": "{" + finding.name + "}", "action": action}
        return "sensitiveInformationPolicy", "piiEntities", item
    if finding.policy == "regex":
        item = {"name": finding.name, "match": "****", "regex": "\\d+", "action": action}
        return "sensitiveInformationPolicy", "regexes", item
    item = {
        "type": finding.name,
        "threshold": finding.threshold if finding.threshold is not None else 0.75,
        "score": finding.score if finding.score is not None else 0.2,
        "action": action,
    }
    return "contextualGroundingPolicy", "filters", item


def assessment(findings: list[FindingSpec], guarded: int) -> dict[str, Any]:
    """An assessment: each finding under its policy, with the invocation metrics."""
    found: dict[str, Any] = {}
    for finding in findings:
        policy, key, item = _item(finding)
        found.setdefault(policy, {}).setdefault(key, []).append({**item, "detected": True})
    found["invocationMetrics"] = {
        "guardrailProcessingLatency": 250,
        "usage": dict(_USAGE),
        "guardrailCoverage": {"textCharacters": {"guarded": guarded, "total": guarded}},
    }
    return found


def _phase(spec: InvocationSpec, offset: Any, scenario: Scenario) -> InvocationPhase:
    chosen = InvocationPhase()
    for phase in spec.phases:
        start, end = window_span(phase.start, phase.end, scenario)
        if start <= offset < end:
            chosen = phase
    return chosen


def _content(spec: InvocationSpec, text: str, anthropic: bool = False) -> list[dict[str, Any]]:
    if spec.modality == "image":
        image = {"format": "png", "source": {"bytes": "<image bytes not logged>"}}
        return [{"type": "image", "source": image}] if anthropic else [{"image": image}]
    return [{"type": "text", "text": text}] if anthropic else [{"text": text}]


def record(
    scenario: Scenario,
    spec: InvocationSpec,
    phase: InvocationPhase,
    at: datetime,
    rng: random.Random,
    caller: str,
) -> dict[str, Any]:
    """One invocation log record at `at`, drawn from the phase in force."""
    operation = spec.operation
    found: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "accountId": scenario.account,
        "identity": {"arn": caller},
        "region": scenario.region,
        "requestId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "operation": operation,
        "modelId": spec.model,
    }
    draw = rng.random()
    if draw < phase.error:
        found["input"] = {"inputContentType": "application/json"}
        found["output"] = {"outputContentType": "application/json"}
        found["errorCode"] = phase.error_code
        return found
    intervened = spec.guardrail is not None and draw < phase.error + phase.intervened
    tokens_in = rng.randint(*(phase.input_tokens or spec.input_tokens))
    tokens_out = rng.randint(*(phase.output_tokens or spec.output_tokens))
    prompt = "Summarize the customer's question and answer it from the policy text."
    answer = "Sorry, I can't help with that." if intervened else "Here is the answer."
    converse = operation.startswith("Converse")
    if converse:
        body_in: dict[str, Any] = {
            "messages": [{"role": "user", "content": _content(spec, prompt)}],
            "inferenceConfig": {"maxTokens": 512},
        }
        body_out: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "guardrail_intervened" if intervened else "end_turn",
            "metrics": {"latencyMs": rng.randint(400, 2500)},
        }
    else:
        body_in = {
            "anthropic_version": "bedrock-2023-05-31",
            "messages": [{"role": "user", "content": _content(spec, prompt, anthropic=True)}],
            "max_tokens": 512,
        }
        body_out = {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": answer}],
        }
        if not intervened:
            body_out["stop_reason"] = "end_turn"
    if not intervened:
        body_out["usage"] = (
            {"inputTokens": tokens_in, "outputTokens": tokens_out}
            if converse
            else {"input_tokens": tokens_in, "output_tokens": tokens_out}
        )
    if spec.guardrail is not None:
        gid = spec.guardrail.id
        findings = phase.findings if intervened else []
        side_in = assessment(findings if phase.side == "input" else [], len(prompt))
        side_out = assessment(findings if phase.side == "output" else [], len(answer))
        reason = "Guardrail blocked." if intervened else "No action."
        if converse:
            body_out["trace"] = {
                "guardrail": {
                    "inputAssessment": {gid: side_in},
                    "outputAssessments": {gid: [side_out]},
                    "actionReason": reason,
                }
            }
        else:
            body_out["amazon-bedrock-trace"] = {
                "guardrail": {
                    "input": {gid: side_in},
                    "outputs": [{gid: side_out}],
                    "actionReason": reason,
                }
            }
            body_out["amazon-bedrock-guardrailAction"] = "INTERVENED" if intervened else "NONE"
    content_type = "application/json"
    found["input"] = {"inputContentType": content_type, "inputBodyJson": body_in}
    found["output"] = {"outputContentType": content_type, "outputBodyJson": body_out}
    if not intervened:  # intervened requests are logged without token counts
        found["input"]["inputTokenCount"] = tokens_in
        found["output"]["outputTokenCount"] = tokens_out
    return found


def expand_invocations(scenario: Scenario, t0: datetime) -> list[LogStream]:
    """Every invocation shape's records, one stream per invocation log group."""
    streams: dict[str, list[LogEvent]] = {}
    functions = scenario.service.lambda_functions
    default_caller = (
        f"arn:aws:sts::{scenario.account}:assumed-role/{functions[0]}-role/{functions[0]}"
        if functions
        else f"arn:aws:sts::{scenario.account}:assumed-role/{scenario.service.name}/app"
    )
    for index, spec in enumerate(scenario.invocations):
        group = spec.group or scenario.service.bedrock.invocation_log_group
        if not group:
            continue
        rng = seeded(scenario.seed, "invocations", index)
        start, end = window_span(None, None, scenario)
        slices = [(start, end, spec.rate)]
        for phase in spec.phases:
            if phase.rate is not None:
                slices.append((*window_span(phase.start, phase.end, scenario), phase.rate))
        for begin, finish, rate in _rates(slices):
            for at in spread(t0 + begin, t0 + finish, rate, rng):
                phase = _phase(spec, at - t0, scenario)
                found = record(scenario, spec, phase, at, rng, spec.caller or default_caller)
                message = json.dumps(found, separators=(",", ":"))
                streams.setdefault(group, []).append(LogEvent(epoch_ms(at), message))
    return [
        LogStream(group, STREAM, sorted(events, key=lambda e: e.timestamp_ms))
        for group, events in streams.items()
    ]


def _rates(slices: list[tuple[Any, Any, float]]) -> list[tuple[Any, Any, float]]:
    """Cut the window into spans with one rate each; a later phase's rate wins."""
    edges = sorted({edge for start, end, _ in slices for edge in (start, end)})
    found = []
    for begin, finish in itertools.pairwise(edges):
        rate = next(r for s, e, r in reversed(slices) if s <= begin and finish <= e)
        found.append((begin, finish, rate))
    return found

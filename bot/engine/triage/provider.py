"""Scorers for what the model provider does: throttles, fails or slows, denies access,
rejects input as invalid."""

from __future__ import annotations

from bot.engine.features import Features, grew
from bot.engine.triage.changes import attribute, suspect_change
from bot.engine.triage.score import Score, model_latency_explains, pattern_lines, series_lines
from tools.vocabulary import (
    ACCESS_DENIED,
    INVALID_INPUT,
    MODEL_THROTTLES,
    NOT_MODEL_THROTTLES,
    PROVIDER_FAILURES,
)


def model_throttling(f: Features) -> Score:
    score = Score()
    throttles = f.moved("InvocationThrottles")
    if throttles:
        score.add(0.6, *series_lines(f, throttles))
    logs = [x for x in f.failing(MODEL_THROTTLES) if not x.has(NOT_MODEL_THROTTLES)]
    if logs:
        score.add(0.45, *pattern_lines(f, logs))
    for segment in f.segments_of("model"):
        before = max(segment.baseline.throttles, segment.baseline.statuses.get(429, 0))
        after = max(segment.recent.throttles, segment.recent.statuses.get(429, 0))
        if grew(before, after, f.window, ratio=2):
            score.add(0.2, "trace " + segment.line())
            break
    if score.value and (
        surge := f.moved("Invocations", "InputTokenCount", namespace="AWS/Bedrock")
    ):
        score.add(0.1, *series_lines(f, surge[:1]))
    return score


def model_provider_degradation(f: Features) -> Score:
    score = Score()
    if server := f.moved("InvocationServerErrors"):
        score.add(0.5, *series_lines(f, server))
    if latency := f.moved("InvocationLatency", "TimeToFirstToken", namespace="AWS/Bedrock"):
        score.add(0.35, *series_lines(f, latency))
        if not f.segments_of("model") and model_latency_explains(f):
            # No traces to say where the time goes: the function's Duration grew by what
            # the model's latency grew, so its timeouts and concurrency follow the model.
            score.add(0.25, *series_lines(f, f.moved("Duration", namespace="AWS/Lambda")[:1]))
    provider = f.failing(PROVIDER_FAILURES)
    if provider:
        score.add(0.45, *pattern_lines(f, provider))
    for segment in f.segments_of("model"):
        before, after = segment.failure_rates()
        slower = segment.recent.mean_ms - segment.baseline.mean_ms
        server_errors = any(code >= 500 for code in segment.recent.statuses)
        takes_the_time = slower > 0.5 * max(f.root_growth_ms(), 1) and slower > 500
        if (after - before >= 0.1 and server_errors) or takes_the_time:
            score.add(0.25, "trace " + segment.line())
    if not score.value:
        return score
    if suspect_change(f, ("deploy", "prompt", "config"), 45):
        score.scale(0.6)
    if f.moved("InvocationThrottles"):
        score.scale(0.6)
    return score


def access_denied(f: Features) -> Score:
    score = Score()
    denied = f.failing(ACCESS_DENIED)
    if denied:
        score.add(0.7, *pattern_lines(f, denied))
    forbidden = [
        s
        for s in f.segments
        if grew(s.baseline.statuses.get(403, 0), s.recent.statuses.get(403, 0), f.window, ratio=2)
    ]
    if forbidden:
        score.add(0.2, "trace " + forbidden[0].line())
    if score.value:
        # Policy edits, detached policies, model access, and a function moved to another
        # role; the denied role is often not named after the service, so any resource.
        found = attribute(f, ("iam",), minutes=24 * 60, related_only=False)
        if found.cause:
            score.add(0.3, *found.lines(f))
        if errors := f.moved("InvocationClientErrors"):
            score.add(0.1, *series_lines(f, errors[:1]))
    return score


def input_validation_errors(f: Features) -> Score:
    score = Score()
    invalid = f.failing(INVALID_INPUT)
    invalid = [x for x in invalid if not x.has(ACCESS_DENIED)]
    if invalid:
        score.add(0.6, *pattern_lines(f, invalid))
    if score.value and (errors := f.moved("InvocationClientErrors")):
        score.add(0.2, *series_lines(f, errors[:1]))
    for segment in f.segments_of("model"):
        if grew(
            segment.baseline.statuses.get(400, 0),
            segment.recent.statuses.get(400, 0),
            f.window,
            ratio=2,
        ):
            score.add(0.15, "trace " + segment.line())
            break
    if score.value and (tokens := f.moved("InputTokenCount")):
        score.add(0.05, *series_lines(f, tokens[:1]))
    if score.value and suspect_change(f, ("deploy",), 30):
        score.scale(0.6)
    return score

"""Scorers for what the service depends on: retrieval, other dependencies, its compute."""

from __future__ import annotations

from bot.engine.features import Features, change_kind, share_grew
from bot.engine.triage.score import (
    Score,
    model_latency_explains,
    pattern_lines,
    segment_score,
    series_lines,
    slower,
)
from tools.vocabulary import (
    COLD_START,
    DEPENDENCY_ERRORS,
    DEPENDENCY_NAMES,
    EMPTY_RETRIEVAL,
    FUNCTION_TIMEOUTS,
    LAMBDA_RATE_LIMITS,
    OUT_OF_MEMORY,
    PROVIDER_ERRORS,
    PROVIDER_FAILURES,
    RETRIEVAL_HINT,
    RUNTIME_EXITS,
)


def retrieval_failure(f: Features) -> Score:
    score = Score()
    segment_score(f, "retrieval", score)
    retrieval_metrics = [
        s
        for s in f.series
        if s.anomalous
        and (s.ref.namespace in ("AWS/AOSS", "AWS/ES") or _retrieval_name(s.ref.name))
    ]
    if retrieval_metrics:
        score.add(0.3, *series_lines(f, retrieval_metrics))
    failures = [x for x in f.failures if _retrieval_name(x.text)]
    if failures:
        score.add(0.4, *pattern_lines(f, failures))
    empty = f.grown_lines(EMPTY_RETRIEVAL)
    if empty:
        score.add(0.35, empty[0].line(f.window))
    return score


def _retrieval_name(text: str) -> bool:
    return bool(RETRIEVAL_HINT.search(text))


def dependency_failure(f: Features) -> Score:
    score = Score()
    segment_score(f, "dependency", score)
    dependency_metrics = f.moved_in(
        r"^AWS/(DynamoDB|ElastiCache|RDS|SQS|ApiGateway|S3|Kinesis|MemoryDB|ElasticLoadBalancing)"
    )
    if dependency_metrics:
        score.add(0.3, *series_lines(f, dependency_metrics))
    failures = [
        x
        for x in f.failing(DEPENDENCY_ERRORS, DEPENDENCY_NAMES)
        if not _retrieval_name(x.text) and not x.has(PROVIDER_ERRORS, PROVIDER_FAILURES)
    ]
    if failures:
        score.add(0.4, *pattern_lines(f, failures))
    return score


def compute_saturation(f: Features) -> Score:
    score = Score()
    # Where the time goes: when a downstream span grew by most of what the request grew,
    # longer durations, more concurrency and timeouts are its consequence, not the cause.
    explained = any(
        slower(s) and s.recent.mean_ms - s.baseline.mean_ms >= 0.5 * f.root_growth_ms()
        for kind in ("dependency", "retrieval", "model")
        for s in f.segments_of(kind)
    ) or model_latency_explains(f)
    if throttles := f.moved("Throttles", namespace="AWS/Lambda"):
        score.add(0.6, *series_lines(f, throttles))
    if concurrency := f.moved("ConcurrentExecutions", "UnreservedConcurrentExecutions"):
        # Slower requests at the same traffic hold more concurrency (Little's law): while
        # Lambda refuses nothing, more concurrency beside a longer Duration is what slower
        # requests look like, whatever slowed them, not a function short of room.
        slower_requests = bool(f.moved("Duration", namespace="AWS/Lambda"))
        weak = (explained or slower_requests) and not throttles
        score.add(0.05 if weak else 0.25, *series_lines(f, concurrency))
    if rate := f.failing(LAMBDA_RATE_LIMITS):
        score.add(0.35, *pattern_lines(f, rate))
    if memory := f.failing(OUT_OF_MEMORY):
        score.add(0.6, *pattern_lines(f, memory))
    elif exits := f.failing(RUNTIME_EXITS):
        # The runtime died without saying why: often memory, sometimes our own crash.
        score.add(0.35, *pattern_lines(f, exits))
    timeouts = f.failing(FUNCTION_TIMEOUTS)
    if timeouts:
        score.add(0.2 if explained else 0.5, *pattern_lines(f, timeouts))
    if full := _memory_full(f):
        score.add(0.3, full)
    if cold := _cold_starts(f):
        score.add(0.2, cold)
    elif grown := f.grown_lines(COLD_START):
        score.add(0.2, grown[0].line(f.window))
    if score.value and (duration := f.moved("Duration", namespace="AWS/Lambda")):
        score.add(0.1, *series_lines(f, duration))
    if score.value and (
        changed := [c for c in f.changes_before(120) if change_kind(c) == "concurrency"]
    ):
        score.add(0.2, changed[0].line(f.window))
    return score


def _report_shift(f: Features, counted: str, factor: float) -> str | None:
    """Lambda's REPORT lines since onset show at least a fifth of invocations, and `factor`
    times the baseline share, with `counted` (memory at its limit, a cold start)."""
    for report in f.lambda_reports:
        counts, calls = getattr(report, counted), report.invocations
        after = counts[True] / max(calls[True], 1)
        if after >= 0.2 and share_grew(
            counts[False], calls[False], counts[True], calls[True], ratio=factor
        ):
            return report.line()
    return None


def _memory_full(f: Features) -> str | None:
    return _report_shift(f, "memory_full", 2)


def _cold_starts(f: Features) -> str | None:
    return _report_shift(f, "cold", 3)

"""Deterministic root-cause hypotheses: every taxonomy category scored from telemetry.

Each category has a scorer that asks the questions an SRE asks for that cause
(did the provider throttle? did new exceptions start right after one of our
changes? is the time going into the retrieval span?) and keeps the evidence lines
that answered yes. Runbook signals found in what changed add a little weight.
Nothing here looks at scenario names, ids or notes: only at the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.engine.evidence import EvidenceBundle
from bot.engine.features import RETRIEVAL_HINT, Features, change_kind, extract
from bot.engine.runbooks import Runbook, by_category
from bot.models import CATEGORY_TITLES, Category, Hypothesis
from tools.metrics import SeriesSummary

MAX_EVIDENCE_LINES = 6
CODE_ERRORS = (
    "KeyError",
    "TypeError",
    "AttributeError",
    "ImportError",
    "ModuleNotFoundError",
    "NameError",
    "IndexError",
    "ValueError",
    "JSONDecodeError",
    "UnboundLocalError",
    "SyntaxError",
    "NullPointerException",
    "undefined",
    "Traceback",
    "ValidationError",
    "AssertionError",
    "NotImplementedError",
    "RecursionError",
    "ZeroDivisionError",
)
PROVIDER_ERRORS = (
    "ThrottlingException",
    "AccessDeniedException",
    "ModelTimeoutException",
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelErrorException",
    "ValidationException",
    "ServiceQuotaExceededException",
)
DEPENDENCY_ERRORS = (
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectionError",
    "ConnectionTimeout",
    "Connection reset",
    "Connection refused",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "EndpointConnectionError",
    "circuit breaker",
    "circuit open",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway",
    "TimeoutError",
    "socket timeout",
)


@dataclass
class Score:
    value: float = 0.0
    lines: list[str] = field(default_factory=list)
    detail: str = ""

    def add(self, weight: float, *lines: str) -> None:
        self.value += weight
        for line in lines:
            if line and line not in self.lines:
                self.lines.append(line)

    def scale(self, factor: float) -> None:
        self.value *= factor


def _series(f: Features, summaries: list[SeriesSummary]) -> list[str]:
    return [s.line(f.window) for s in summaries[:2]]


def _patterns(f: Features, failures) -> list[str]:
    return [x.pattern.line(f.window) for x in failures[:2]]


def model_throttling(f: Features) -> Score:
    score = Score()
    throttles = f.moved("InvocationThrottles")
    if throttles:
        score.add(0.6, *_series(f, throttles))
    logs = [
        x
        for x in f.failing("ThrottlingException", "Too many tokens", "Too many requests")
        if not x.has("dynamodb", "Rate Exceeded", "TooManyRequestsException")
    ]
    if logs:
        score.add(0.45, *_patterns(f, logs))
    for segment in f.segments_of("model"):
        if segment.recent.throttles > segment.baseline.throttles or 429 in segment.recent.statuses:
            score.add(0.2, "trace " + segment.line())
            break
    if score.value and (
        surge := f.moved("Invocations", "InputTokenCount", namespace="AWS/Bedrock")
    ):
        score.add(0.1, *_series(f, surge[:1]))
    return score


def model_provider_degradation(f: Features) -> Score:
    score = Score()
    if server := f.moved("InvocationServerErrors"):
        score.add(0.5, *_series(f, server))
    if latency := f.moved("InvocationLatency", "TimeToFirstToken", namespace="AWS/Bedrock"):
        score.add(0.35, *_series(f, latency))
    provider = f.failing(
        "ModelTimeoutException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "InternalServerException",
        "ModelErrorException",
        "ModelStreamErrorException",
    )
    if provider:
        score.add(0.45, *_patterns(f, provider))
    for segment in f.segments_of("model"):
        before, after = segment.failure_rates()
        slower = segment.recent.mean_ms - segment.baseline.mean_ms
        server_errors = any(code >= 500 for code in segment.recent.statuses)
        takes_the_time = slower > 0.5 * max(f.root_growth_ms(), 1) and slower > 500
        if (after - before >= 0.1 and server_errors) or takes_the_time:
            score.add(0.25, "trace " + segment.line())
    if not score.value:
        return score
    if [c for c in f.changes_before(45) if change_kind(c) in ("deploy", "prompt", "config")]:
        score.scale(0.6)
    if f.moved("InvocationThrottles"):
        score.scale(0.6)
    return score


def _new_errors_after(f: Features, minutes: float):
    """(change, failures) for a related deploy/config change followed by error patterns
    that did not exist before it. Measured from the change, not the onset: a canary
    starts failing at 10% of traffic well before the alarm's metric leaves its baseline."""
    for change in f.changes_before(minutes):
        if change_kind(change) not in ("deploy", "config", "prompt"):
            continue
        after = [
            x
            for x in f.failures
            if x.pattern.level == "ERROR"
            and x.pattern.first_seen is not None
            and (x.pattern.first_seen - change.at).total_seconds() >= -60
            and (x.pattern.status == "new" or x.pattern.first_seen >= change.at)
        ]
        if after:
            return change, after
    return None, []


def bad_deployment(f: Features) -> Score:
    score = Score()
    change, failures = _new_errors_after(f, 60)
    if change is None:
        recent = [c for c in f.changes_before(30) if change_kind(c) in ("deploy", "config")]
        if recent and (errors := f.moved("Errors", namespace="AWS/Lambda")):
            score.add(0.3, recent[0].line(f.window), *_series(f, errors))
        return score
    gap = max(change.minutes_before(f.window.onset), 0)
    score.add(0.5 + 0.3 * max(0.0, 1 - gap / 60), change.line(f.window))
    code = [x for x in failures if x.has(*CODE_ERRORS)]
    provider = [x for x in failures if x.has(*PROVIDER_ERRORS, *DEPENDENCY_ERRORS)]
    if code:
        score.add(0.4, *_patterns(f, code))
    else:
        score.add(0.1, *_patterns(f, failures))
    if provider and not code:
        score.scale(0.5)
    if errors := f.moved("Errors", "5XXError", "InvocationClientErrors"):
        score.add(0.05, *_series(f, errors[:1]))
    return score


def prompt_regression(f: Features) -> Score:
    score = Score()
    prompt_changes = [c for c in f.changes_before(12 * 60) if change_kind(c) == "prompt"]
    other_changes = [c for c in f.changes_before(60) if change_kind(c) in ("deploy", "config")]
    shifts: list[str] = []
    if tokens := f.moved("OutputTokenCount", "InputTokenCount", up=None):
        shifts += _series(f, tokens)
    output_side = [
        s
        for s in f.guardrail_series
        if s.anomalous
        and s.direction == "up"
        and s.ref.dimensions.get("GuardrailContentSource") == "Output"
    ]
    shifts += _series(f, output_side)
    log = f.invocation_log
    if log is not None:
        for reason in ("max_tokens", "length", "guardrail_intervened", "content_filtered"):
            before, after = log.stop_reasons[(False, reason)], log.stop_reasons[(True, reason)]
            span = f.window
            if after / span.recent_seconds > 3 * (before / span.baseline_seconds) and after >= 5:
                output_guardrail = any(k[1] == "Output" for k in log.intervened if k[0])
                if reason != "guardrail_intervened" or output_guardrail:
                    shifts.append(f"stopReason {reason}: {before} before, {after} since onset")
    refusals = f.grown_lines(
        "max_tokens", "truncated", "refus", "I'm sorry", "I cannot", "can't help"
    )
    shifts += [p.line(f.window) for p in refusals[:2]]
    if not shifts and not prompt_changes:
        return score
    if prompt_changes and shifts:
        score.add(0.75, prompt_changes[0].line(f.window), *shifts)
    elif other_changes and shifts:
        score.add(0.45, other_changes[0].line(f.window), *shifts)
    elif shifts:
        score.add(0.12, *shifts)
    else:
        score.add(0.15, prompt_changes[0].line(f.window))
    if [x for x in f.failures if x.pattern.status == "new" and x.pattern.level == "ERROR"]:
        score.scale(0.45)
    return score


def token_cost_spike(f: Features) -> Score:
    score = Score()
    tokens = f.moved("InputTokenCount", "OutputTokenCount", "EstimatedCost", "TokenCount")
    tokens += [
        s
        for s in f.series
        if s.anomalous and s.direction == "up" and "token" in s.ref.name.lower() and s not in tokens
    ]
    if tokens:
        score.add(0.55, *_series(f, tokens))
    log = f.invocation_log
    if log is not None:
        before, after = log.input_tokens[False], log.input_tokens[True]
        mean_before = sum(before) / len(before) if before else 0.0
        mean_after = sum(after) / len(after) if after else 0.0
        if before and after and mean_after > 1.8 * mean_before:
            score.add(
                0.2, f"invocation log avg inputTokenCount {mean_before:.0f} -> {mean_after:.0f}"
            )
        recent_callers = {k[1]: v for k, v in log.callers.items() if k[0]}
        total = sum(recent_callers.values())
        if total >= 20:
            caller, count = max(recent_callers.items(), key=lambda item: item[1])
            if count / total >= 0.4:
                score.add(
                    0.2,
                    f"one caller sends {count / total:.0%} of invocations since onset: {caller}",
                )
    loops = f.grown_lines("iteration", "loop", "tool_use", "step ", "recursion", "agent")
    if score.value and loops:
        score.add(0.15, loops[0].line(f.window))
    if not score.value:
        return score
    if [c for c in f.changes_before(60) if change_kind(c) in ("prompt", "deploy", "config")]:
        score.scale(0.45)
    if f.moved("InvocationThrottles"):
        score.scale(0.8)
    if [x for x in f.failures if x.pattern.status == "new" and x.pattern.level == "ERROR"]:
        score.scale(0.7)
    return score


def guardrail_abuse(f: Features) -> Score:
    score = Score()
    inputs = [
        s
        for s in f.guardrail_series
        if s.anomalous
        and s.direction == "up"
        and s.ref.dimensions.get("GuardrailContentSource") == "Input"
    ]
    outputs = [
        s
        for s in f.guardrail_series
        if s.anomalous
        and s.direction == "up"
        and s.ref.dimensions.get("GuardrailContentSource") == "Output"
    ]
    if inputs:
        score.add(0.6, *_series(f, inputs))
    log = f.invocation_log
    if log is not None:
        span = f.window
        for (recent, side, policy, kind), count in sorted(
            log.intervened.items(), key=lambda i: -i[1]
        ):
            before = log.intervened[(False, side, policy, kind)]
            if (
                recent
                and side == "Input"
                and count / span.recent_seconds > 3 * before / span.baseline_seconds
                and count >= 5
            ):
                line = f"invocation log: {kind} ({policy}, Input) {before} before -> {count} since"
                score.add(0.45, line + " onset")
                break
    attacks = f.grown_lines(
        "PROMPT_ATTACK",
        "jailbreak",
        "prompt injection",
        "blocked input",
        "input blocked",
        "ignore previous",
    )
    if attacks:
        score.add(0.3, attacks[0].line(f.window))
    if not score.value and not outputs and (total := f.moved("InvocationsIntervened")):
        score.add(0.3, *_series(f, total))
    if outputs and not inputs:
        score.scale(0.3)
    if [c for c in f.changes_before(60, related=None) if change_kind(c) == "guardrail"]:
        score.scale(0.6)
    return score


def _slower(segment, ratio: float = 1.5, floor_ms: float = 150) -> bool:
    slower = segment.recent.mean_ms - segment.baseline.mean_ms
    return segment.recent.mean_ms >= ratio * max(segment.baseline.mean_ms, 1) and slower >= floor_ms


def _failing_more(segment) -> bool:
    before, after = segment.failure_rates()
    return after - before >= 0.1 and segment.recent.failed >= 3


def _segment_score(f: Features, kind: str, score: Score) -> None:
    for segment in f.segments_of(kind):
        if _failing_more(segment):
            score.add(0.55, "trace " + segment.line())
        elif _slower(segment):
            explains = segment.recent.mean_ms - segment.baseline.mean_ms >= 0.5 * f.root_growth_ms()
            score.add(0.45 if explains else 0.25, "trace " + segment.line())


def retrieval_failure(f: Features) -> Score:
    score = Score()
    _segment_score(f, "retrieval", score)
    retrieval_metrics = [
        s
        for s in f.series
        if s.anomalous
        and (s.ref.namespace in ("AWS/AOSS", "AWS/ES") or _retrieval_name(s.ref.name))
    ]
    if retrieval_metrics:
        score.add(0.3, *_series(f, retrieval_metrics))
    failures = [x for x in f.failures if _retrieval_name(x.text)]
    if failures:
        score.add(0.4, *_patterns(f, failures))
    empty = f.grown_lines(
        "0 documents",
        "no results",
        "empty context",
        "0 results",
        "no documents",
        "numberOfResults=0",
        "retrieved 0",
    )
    if empty:
        score.add(0.35, empty[0].line(f.window))
    return score


def _retrieval_name(text: str) -> bool:
    return bool(RETRIEVAL_HINT.search(text))


def dependency_failure(f: Features) -> Score:
    score = Score()
    _segment_score(f, "dependency", score)
    dependency_metrics = f.moved_in(
        r"^AWS/(DynamoDB|ElastiCache|RDS|SQS|ApiGateway|S3|Kinesis|MemoryDB|ElasticLoadBalancing)"
    )
    if dependency_metrics:
        score.add(0.3, *_series(f, dependency_metrics))
    failures = [
        x
        for x in f.failing(*DEPENDENCY_ERRORS, "dynamodb", "redis", "upstream")
        if not _retrieval_name(x.text) and not x.has(*PROVIDER_ERRORS)
    ]
    if failures:
        score.add(0.4, *_patterns(f, failures))
    return score


def compute_saturation(f: Features) -> Score:
    score = Score()
    # Where the time goes: when a downstream span grew by most of what the request grew,
    # longer durations, more concurrency and timeouts are its consequence, not the cause.
    explained = any(
        _slower(s) and s.recent.mean_ms - s.baseline.mean_ms >= 0.5 * f.root_growth_ms()
        for kind in ("dependency", "retrieval", "model")
        for s in f.segments_of(kind)
    )
    if throttles := f.moved("Throttles", namespace="AWS/Lambda"):
        score.add(0.6, *_series(f, throttles))
    if concurrency := f.moved("ConcurrentExecutions", "UnreservedConcurrentExecutions"):
        # Slower requests at the same traffic hold more concurrency (Little's law).
        score.add(0.05 if explained and not throttles else 0.25, *_series(f, concurrency))
    if rate := f.failing("Rate Exceeded", "TooManyRequestsException"):
        score.add(0.35, *_patterns(f, rate))
    if memory := f.failing("Runtime.OutOfMemory", "MemoryError", "out of memory", "OOM"):
        score.add(0.6, *_patterns(f, memory))
    timeouts = f.failing("Task timed out")
    if timeouts:
        score.add(0.2 if explained else 0.5, *_patterns(f, timeouts))
    if full := _memory_full(f):
        score.add(0.3, full)
    if cold := _cold_starts(f):
        score.add(0.2, cold)
    elif grown := f.grown_lines("Init Duration"):
        score.add(0.2, grown[0].line(f.window))
    if score.value and (duration := f.moved("Duration", namespace="AWS/Lambda")):
        score.add(0.1, *_series(f, duration))
    if score.value and (
        changed := [c for c in f.changes_before(120) if change_kind(c) == "concurrency"]
    ):
        score.add(0.2, changed[0].line(f.window))
    return score


def _report_shift(f: Features, counted: str, factor: float) -> str | None:
    """Lambda's REPORT lines since onset show at least a fifth of invocations, and `factor`
    times the baseline share, with `counted` (memory at its limit, a cold start)."""
    for report in f.lambda_reports:
        counts = getattr(report, counted)
        before = counts[False] / max(report.invocations[False], 1)
        after = counts[True] / max(report.invocations[True], 1)
        if after >= 0.2 and after >= factor * before:
            return report.line()
    return None


def _memory_full(f: Features) -> str | None:
    return _report_shift(f, "memory_full", 2)


def _cold_starts(f: Features) -> str | None:
    return _report_shift(f, "cold", 3)


def access_denied(f: Features) -> Score:
    score = Score()
    denied = f.failing(
        "AccessDeniedException",
        "not authorized to perform",
        "AccessDenied",
        "UnrecognizedClientException",
        "don't have access to the model",
        "ExpiredTokenException",
    )
    if denied:
        score.add(0.7, *_patterns(f, denied))
    forbidden = [
        s
        for s in f.segments
        if 403 in s.recent.statuses and s.recent.statuses[403] > s.baseline.statuses.get(403, 0)
    ]
    if forbidden:
        score.add(0.2, "trace " + forbidden[0].line())
    if score.value:
        iam = [c for c in f.changes_before(24 * 60, related=None) if change_kind(c) == "iam"]
        if iam:
            iam.sort(key=lambda c: (not c.related, c.minutes_before(f.window.onset)))
            score.add(0.3, iam[0].line(f.window))
        if errors := f.moved("InvocationClientErrors"):
            score.add(0.1, *_series(f, errors[:1]))
    return score


def input_validation_errors(f: Features) -> Score:
    score = Score()
    invalid = f.failing(
        "ValidationException",
        "too long",
        "Malformed input",
        "roles must alternate",
        "maximum context",
        "context window",
        "too many input tokens",
        "prompt is too long",
    )
    invalid = [x for x in invalid if not x.has("AccessDenied")]
    if invalid:
        score.add(0.6, *_patterns(f, invalid))
    if score.value and (errors := f.moved("InvocationClientErrors")):
        score.add(0.2, *_series(f, errors[:1]))
    for segment in f.segments_of("model"):
        if 400 in segment.recent.statuses and segment.recent.statuses[
            400
        ] > 2 * segment.baseline.statuses.get(400, 0):
            score.add(0.15, "trace " + segment.line())
            break
    if score.value and (tokens := f.moved("InputTokenCount")):
        score.add(0.05, *_series(f, tokens[:1]))
    if score.value and [c for c in f.changes_before(30) if change_kind(c) == "deploy"]:
        score.scale(0.6)
    return score


SCORERS: dict[Category, Callable[[Features], Score]] = {
    Category.MODEL_THROTTLING: model_throttling,
    Category.MODEL_PROVIDER_DEGRADATION: model_provider_degradation,
    Category.BAD_DEPLOYMENT: bad_deployment,
    Category.PROMPT_REGRESSION: prompt_regression,
    Category.TOKEN_COST_SPIKE: token_cost_spike,
    Category.GUARDRAIL_ABUSE: guardrail_abuse,
    Category.RETRIEVAL_FAILURE: retrieval_failure,
    Category.DEPENDENCY_FAILURE: dependency_failure,
    Category.COMPUTE_SATURATION: compute_saturation,
    Category.ACCESS_DENIED: access_denied,
    Category.INPUT_VALIDATION_ERRORS: input_validation_errors,
}


def changed_text(f: Features) -> list[str]:
    """The lines describing what changed: where runbook signals are looked for."""
    lines = [s.line(f.window) for s in [*f.series, *f.guardrail_series] if s.anomalous]
    lines += [p.line(f.window) for p in f.changed_patterns if p.status in ("new", "grown")]
    lines += ["trace " + s.line() for s in f.segments if _failing_more(s) or _slower(s)]
    lines += [c.line(f.window) for c in f.changes_before(60, related=None)]
    return lines


def signal_boost(book: Runbook, lines: list[str], score: Score) -> None:
    """Each runbook signal seen in what changed adds a little weight and its line."""
    hits = 0
    for signal in book.signals:
        # Whole words only: `Throttles` (Lambda) must not match `InvocationThrottles`.
        needle = re.compile(rf"(?<![A-Za-z]){re.escape(signal)}(?![A-Za-z])", re.I)
        line = next((line for line in lines if needle.search(line)), None)
        if line is None:
            continue
        hits += 1
        if hits <= 2:
            score.add(0.0, line)
    score.add(min(0.04 * hits, 0.16) if score.value else min(0.02 * hits, 0.06))


def triage(bundle: EvidenceBundle, runbooks: list[Runbook]) -> list[Hypothesis]:
    """All eleven categories, scored and sorted by confidence (highest first)."""
    features = extract(bundle)
    books = by_category(runbooks)
    lines = changed_text(features)
    scores: dict[Category, Score] = {}
    for category, scorer in SCORERS.items():
        score = scorer(features)
        if book := books.get(category):
            signal_boost(book, lines, score)
        scores[category] = score
    total = sum(s.value for s in scores.values())
    hypotheses = []
    for category, score in scores.items():
        confidence = min(0.97, score.value / (total + 0.25)) if total else 0.0
        book = books.get(category)
        hypotheses.append(
            Hypothesis(
                category=category,
                confidence=round(confidence, 2),
                title=_title(category, features, score),
                evidence=score.lines[:MAX_EVIDENCE_LINES],
                remediation=list(book.remediation) if book else [],
                runbook=book.id if book else None,
            )
        )
    order = list(SCORERS)
    hypotheses.sort(key=lambda h: (-scores[h.category].value, order.index(h.category)))
    return hypotheses


def _title(category: Category, f: Features, score: Score) -> str:
    base = CATEGORY_TITLES[category]
    if not score.lines:
        return f"{base}: no supporting evidence"
    first = score.lines[0]
    short = first if len(first) <= 90 else first[:87] + "..."
    return f"{base}: {short}"

"""Scorers for a change of ours: a deployment that broke requests, a prompt, model or
parameter change that made answers worse."""

from __future__ import annotations

from bot.engine.features import Failure, Features, change_kind
from bot.engine.triage.score import Score, pattern_lines, series_lines
from tools.changes import Change
from tools.vocabulary import CODE_ERRORS, DEGRADED_ANSWERS, DEPENDENCY_ERRORS, PROVIDER_ERRORS


def _new_errors_after(f: Features, minutes: float) -> tuple[Change | None, list[Failure]]:
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
            score.add(0.3, recent[0].line(f.window), *series_lines(f, errors))
        return score
    gap = max(change.minutes_before(f.window.onset), 0)
    score.add(0.5 + 0.3 * max(0.0, 1 - gap / 60), change.line(f.window))
    code = [x for x in failures if x.has(CODE_ERRORS)]
    provider = [x for x in failures if x.has(PROVIDER_ERRORS, DEPENDENCY_ERRORS)]
    if code:
        score.add(0.4, *pattern_lines(f, code))
    else:
        score.add(0.1, *pattern_lines(f, failures))
    if provider and not code:
        score.scale(0.5)
    if errors := f.moved("Errors", "5XXError", "InvocationClientErrors"):
        score.add(0.05, *series_lines(f, errors[:1]))
    return score


def prompt_regression(f: Features) -> Score:
    score = Score()
    prompt_changes = [c for c in f.changes_before(12 * 60) if change_kind(c) == "prompt"]
    other_changes = [c for c in f.changes_before(60) if change_kind(c) in ("deploy", "config")]
    shifts: list[str] = []
    if tokens := f.moved("OutputTokenCount", "InputTokenCount", up=None):
        shifts += series_lines(f, tokens)
    output_side = [
        s
        for s in f.guardrail_series
        if s.anomalous
        and s.direction == "up"
        and s.ref.dimensions.get("GuardrailContentSource") == "Output"
    ]
    shifts += series_lines(f, output_side)
    log = f.invocation_log
    if log is not None:
        for reason in ("max_tokens", "length", "guardrail_intervened", "content_filtered"):
            before, after = log.stop_reasons[(False, reason)], log.stop_reasons[(True, reason)]
            span = f.window
            if after / span.recent_seconds > 3 * (before / span.baseline_seconds) and after >= 5:
                output_guardrail = any(k[1] == "Output" for k in log.intervened if k[0])
                if reason != "guardrail_intervened" or output_guardrail:
                    shifts.append(f"stopReason {reason}: {before} before, {after} since onset")
    refusals = f.grown_lines(DEGRADED_ANSWERS)
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

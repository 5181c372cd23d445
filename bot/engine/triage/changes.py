"""Scorers for a change of ours: a deployment that broke requests, a prompt, model or
parameter change that made answers worse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.engine.features import (
    MIN_COUNT,
    Failure,
    Features,
    change_kind,
    changed_keys,
    grew,
)
from bot.engine.triage.score import Score, guardrail_findings, pattern_lines, series_lines
from tools.base import fmt_offset
from tools.changes import Change
from tools.vocabulary import CODE_ERRORS, DEGRADED_ANSWERS, DEPENDENCY_ERRORS, PROVIDER_ERRORS

# How far before the onset a change may land and still be the cause, by default; and how
# long after a change its failures may take to begin (a canary, a cache expiring).
ATTRIBUTION_MINUTES = 60
FIRST_FAILURE_MINUTES = 15
SLACK_AFTER_ONSET = 2  # the onset is known to the minute


@dataclass
class Attribution:
    """Which change most plausibly caused the failure, and why the others were set aside."""

    cause: Change | None = None
    weight: float = 0.0  # 0..1: near the onset, on the failing path, of a kind that fits
    set_aside: list[tuple[Change, str]] = field(default_factory=list)

    def lines(self, f: Features) -> list[str]:
        """The causal change's line, then one line naming the others and why not them."""
        found = []
        if self.cause is not None:
            found.append(f"causal change: {self.cause.line(f.window)}{describe(self.cause, f)}")
        if self.set_aside:
            reasons = "; ".join(
                f"{c.name} at {fmt_offset(f.window.minutes_from_t0(c.at))} ({why})"
                for c, why in self.set_aside[:4]
            )
            more = f"; {len(self.set_aside) - 4} more" if len(self.set_aside) > 4 else ""
            found.append(f"other changes set aside: {reasons}{more}")
        return found


def describe(change: Change, f: Features) -> str:
    """What a change set, with the value it replaced when an earlier event on the same
    resource set the same key: ` (MAX_TOKENS 1024 -> 256)`."""
    keys = [k for k in changed_keys(change) if not k.startswith("environment.variables")]
    if not keys:
        return ""
    parts = []
    for key in keys[:4]:
        full = key if key in change.request else f"environment.variables.{key}"
        after = change.request.get(full)
        if after is None:
            continue
        earlier = [
            c
            for c in f.changes
            if c.at < change.at and c.resources == change.resources and full in c.request
        ]
        before = max(earlier, key=lambda c: c.at).request[full] if earlier else None
        if before not in (None, after):
            parts.append(f"{key} {before} -> {after}")
    return f" (changed {', '.join(parts)})" if parts else ""


def attribute(
    f: Features,
    kinds: tuple[str, ...],
    *,
    minutes: float = ATTRIBUTION_MINUTES,
    related_only: bool = True,
    check: Callable[[Change], str | None] | None = None,
) -> Attribution:
    """Score every change for causality: its kind (could this failure follow from it?),
    its distance to the onset (nearer is likelier; after the onset it cannot cause),
    whether it is on the failing path (the service's own resources), routine writes (tags,
    log retention, reads) never. `check` may set a change aside for a reason of the
    caller's (no new errors followed it); the best remaining change is the cause."""
    onset = f.window.onset
    result = Attribution()
    kept: list[tuple[float, Change]] = []
    for change in sorted(f.changes, key=lambda c: abs(c.minutes_before(onset))):
        gap = change.minutes_before(onset)
        if gap > minutes or gap < -6 * 60:
            continue
        kind = change_kind(change)
        why: str | None
        if gap < -SLACK_AFTER_ONSET:
            why = f"{-gap:.0f} min after onset, cannot have caused it"
        elif kind == "routine":
            why = "routine: changes nothing requests depend on"
        elif kind not in kinds:
            article = "an" if kind[0] in "aeiou" else "a"
            why = f"{article} {kind} change does not produce this failure"
        elif related_only and not change.related:
            why = "not on the failing path"
        else:
            why = check(change) if check else None
        if why is not None:
            result.set_aside.append((change, why))
            continue
        weight = max(0.0, 1 - max(gap, 0) / minutes) * (1.0 if change.related else 0.6)
        kept.append((weight, change))
    kept.sort(key=lambda item: -item[0])
    if kept:
        result.weight, result.cause = kept[0]
        result.set_aside[:0] = [(c, "further from the onset or off the path") for _, c in kept[1:]]
    return result


def suspect_change(f: Features, kinds: tuple[str, ...], minutes: float) -> Change | None:
    """A change of ours that could explain the failure and so discounts causes outside our
    control: of one of `kinds`, before the onset, and not followed by clean minutes (it
    landed within FIRST_FAILURE_MINUTES of the onset, or failures began right after it)."""
    onset = f.window.onset
    window = timedelta(minutes=FIRST_FAILURE_MINUTES)

    def clean_after(change: Change) -> str | None:
        if onset - change.at <= window:
            return None
        began = [
            x.pattern.first_seen
            for x in f.failures
            if x.pattern.first_seen is not None
            and timedelta(minutes=-1) <= x.pattern.first_seen - change.at <= window
        ]
        return None if began else "clean minutes followed it"

    return attribute(f, kinds, minutes=minutes, check=clean_after).cause


def _errors_after(f: Features, change: Change) -> list[Failure]:
    """ERROR patterns that began after `change` (from a minute before it, the clocks
    differ) and within FIRST_FAILURE_MINUTES of it, seen at least MIN_COUNT times: measured
    from the change, not the onset, since a canary fails a few requests before the alarm's
    metric leaves its baseline."""
    return [
        x
        for x in f.failures
        if x.pattern.level == "ERROR"
        and x.pattern.first_seen is not None
        and x.pattern.recent + x.pattern.baseline >= MIN_COUNT
        and timedelta(minutes=-1)
        <= x.pattern.first_seen - change.at
        <= timedelta(minutes=FIRST_FAILURE_MINUTES)
        and (x.pattern.status == "new" or x.pattern.first_seen >= change.at)
    ]


def bad_deployment(f: Features) -> Score:
    score = Score()
    found = attribute(
        f,
        ("deploy", "config", "prompt"),
        check=lambda c: None if _errors_after(f, c) else "no new errors began right after it",
    )
    change = found.cause
    if change is None:
        quick = attribute(f, ("deploy", "config"), minutes=30)
        if quick.cause and (errors := f.moved("Errors", namespace="AWS/Lambda")):
            score.add(0.3 * max(quick.weight, 0.3), *quick.lines(f), *series_lines(f, errors))
        return score
    failures = _errors_after(f, change)
    score.add(0.5 + 0.3 * found.weight, *found.lines(f))
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
    prompt_change = attribute(f, ("prompt",), minutes=12 * 60)
    other_change = attribute(f, ("deploy", "config"), minutes=60)
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
    shifts += guardrail_findings(f, "Output")[:1]
    log = f.invocation_log
    if log is not None:
        for reason in ("max_tokens", "length", "guardrail_intervened", "content_filtered"):
            before, after = log.stop_reasons[(False, reason)], log.stop_reasons[(True, reason)]
            span = f.window
            if grew(before, after, span, min_count=5):
                output_guardrail = any(k[1] == "Output" for k in log.intervened if k[0])
                if reason != "guardrail_intervened" or output_guardrail:
                    shifts.append(f"stopReason {reason}: {before} before, {after} since onset")
    refusals = f.grown_lines(DEGRADED_ANSWERS)
    shifts += [p.line(f.window) for p in refusals[:2]]
    shifts += [p.line(f.window) for p in f.outcome_shifts()[:1]]
    if not shifts and not prompt_change.cause:
        return score
    if prompt_change.cause and shifts:
        score.add(0.75, *prompt_change.lines(f), *shifts)
    elif other_change.cause and shifts:
        score.add(0.45, *other_change.lines(f), *shifts)
    elif shifts:
        score.add(0.12, *shifts)
    else:
        score.add(0.15, *prompt_change.lines(f))
    if f.new_errors():
        score.scale(0.45)
    return score

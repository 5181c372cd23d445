"""Scorers for who uses the model and how: token cost surges, guardrail abuse."""

from __future__ import annotations

from bot.engine.features import Features, change_kind
from bot.engine.triage.score import Score, series_lines
from tools.vocabulary import AGENT_LOOPS, PROMPT_ATTACKS


def token_cost_spike(f: Features) -> Score:
    score = Score()
    tokens = f.moved("InputTokenCount", "OutputTokenCount", "EstimatedCost", "TokenCount")
    tokens += [
        s
        for s in f.series
        if s.anomalous and s.direction == "up" and "token" in s.ref.name.lower() and s not in tokens
    ]
    if tokens:
        score.add(0.55, *series_lines(f, tokens))
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
    loops = f.grown_lines(AGENT_LOOPS)
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
        score.add(0.6, *series_lines(f, inputs))
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
    attacks = f.grown_lines(PROMPT_ATTACKS)
    if attacks:
        score.add(0.3, attacks[0].line(f.window))
    if not score.value and not outputs and (total := f.moved("InvocationsIntervened")):
        score.add(0.3, *series_lines(f, total))
    if outputs and not inputs:
        score.scale(0.3)
    if [c for c in f.changes_before(60, related=None) if change_kind(c) == "guardrail"]:
        score.scale(0.6)
    return score

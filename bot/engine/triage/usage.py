"""Scorers for who uses the model and how: token cost surges, guardrail abuse."""

from __future__ import annotations

from bot.engine.features import Features, change_kind, share_grew
from bot.engine.triage.changes import suspect_change
from bot.engine.triage.score import Score, guardrail_findings, series_lines
from tools.logs.records import parse_record
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
        if heavy := _heavy_caller(f):
            score.add(0.2, heavy)
    if score.value and (newcomer := _new_caller_line(f)):
        score.add(0.05, newcomer)
    loops = f.grown_lines(AGENT_LOOPS)
    if score.value and loops:
        score.add(0.15, loops[0].line(f.window))
    if not score.value:
        return score
    if suspect_change(f, ("prompt", "deploy", "config"), 60):
        score.scale(0.45)
    if f.moved("InvocationThrottles"):
        score.scale(0.8)
    if f.new_errors():
        score.scale(0.7)
    return score


def _heavy_caller(f: Features) -> str | None:
    """The caller (`identity.arn`) whose share of tokens (of calls, where the records carry
    no token counts) grew most since the onset, when it grew: a caller that held the same
    share before is the usual traffic, however large."""
    log = f.invocation_log
    if log is None:
        return None
    by_tokens = sum(log.caller_tokens.values()) > 0
    counts = log.caller_tokens if by_tokens else log.callers
    what = "tokens" if by_tokens else "invocations"
    sides = {side: {k[1]: v for k, v in counts.items() if k[0] == side} for side in (False, True)}
    totals = {side: sum(sides[side].values()) for side in (False, True)}
    calls = sum(v for k, v in log.callers.items() if k[0])
    if calls < 20:
        return None
    grown = []
    for caller, after in sides[True].items():
        before = sides[False].get(caller, 0)
        if share_grew(before, totals[False], after, totals[True]):
            grown.append((after / totals[True] - before / max(totals[False], 1), caller, before))
    if not grown:
        return None
    _, caller, before = max(grown)
    after = sides[True][caller]
    return (
        f"caller {caller}: {before / max(totals[False], 1):.0%} of {what} before onset, "
        f"{after / totals[True]:.0%} since ({_amount(before)} -> {_amount(after)} {what})"
    )


def _amount(value: float) -> str:
    return f"{value / 1000:.0f}k" if value >= 10000 else f"{value:.0f}"


# Fields by which an application's log line names who is calling.
CALLER_KEYS = (
    "tenant",
    "tenant_id",
    "tenantId",
    "customer",
    "customer_id",
    "api_key_id",
    "client_id",
    "caller",
    "user_id",
)


def _new_caller_line(f: Features) -> str | None:
    """A line naming a caller that appeared only since the onset (a new integration, a
    new API key): who the new traffic is."""
    for pattern in f.changed_patterns:
        if pattern.status != "new" or pattern.level in ("ERROR", "WARN"):
            continue
        record = parse_record(pattern.sample) or {}
        if any(record.get(key) for key in CALLER_KEYS):
            return pattern.line(f.window)
    return None


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
    if found := guardrail_findings(f, "Input"):
        score.add(0.45, found[0])
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

"""Signals from OpenTelemetry spans and AgentCore metrics, feeding the existing categories.

- agent steps per turn up while turns stay flat: a runaway loop -> `token_cost_spike`;
- one tool's error share up -> `dependency_failure` (a retrieval tool -> `retrieval_failure`)
  naming the tool and its `error.type`;
- finish reasons moving to `max_tokens` after a model or parameter change ->
  `prompt_regression`;
- finish reasons moving to `guardrail_intervened`: the guardrail side, output blocks after
  a change of ours (`prompt_regression`), else an input surge (`guardrail_abuse`);
- chat spans failing with a throttling `error.type` -> `model_throttling`, even when the
  Bedrock metrics are account-wide and do not move;
- AgentCore's own `Throttles` (its refusals, not Bedrock's) -> `compute_saturation`, and
  they are not model throttling.

`signals` returns what each category gains and by what factor a category is scaled; the
category scorers stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.features import Features, change_kind
from bot.engine.span_features import SpanFeatures
from bot.engine.triage.score import Score, series_lines
from bot.models import Category
from tools.vocabulary import RETRIEVAL_HINT

AGENTCORE = "AWS/Bedrock-AgentCore"


@dataclass
class Signals:
    added: dict[Category, Score] = field(default_factory=dict)
    scales: dict[Category, float] = field(default_factory=dict)

    def add(self, category: Category, weight: float, *lines: str) -> None:
        self.added.setdefault(category, Score()).add(weight, *lines)

    def scale(self, category: Category, factor: float) -> None:
        self.scales[category] = self.scales.get(category, 1.0) * factor


def signals(spans: SpanFeatures | None, f: Features) -> Signals:
    found = Signals()
    if spans is not None:
        _runaway(spans, f, found)
        _failing_tool(spans, found)
        _finish_reasons(spans, f, found)
        _chat_throttles(spans, found)
    _agentcore_throttles(spans, f, found)
    return found


def _changed_before(f: Features) -> list[str]:
    """Lines of our prompt, model or deploy changes in the 12 hours before onset."""
    prompt = [c for c in f.changes_before(12 * 60) if change_kind(c) == "prompt"]
    other = [c for c in f.changes_before(60) if change_kind(c) in ("deploy", "config")]
    return [c.line(f.window) for c in [*prompt, *other]]


def _runaway(spans: SpanFeatures, f: Features, found: Signals) -> None:
    steps = spans.steps()
    if steps is None:
        return
    (p50_b, p50_a), (turns_b, turns_a) = steps.p50, steps.turns_per_min
    more_steps = p50_a >= 2 * max(p50_b, 1) and p50_a - p50_b >= 2
    flat = turns_b > 0 and 0.5 <= turns_a / turns_b <= 1.6
    if not (more_steps and flat):
        return
    weight = 0.7
    # More steps are often a consequence: retried throttles, a failing tool handed back to
    # the model, truncated answers continued, a new model: those causes win.
    consequence = (
        spans.chat_error_share() >= 0.1
        or spans.failing_tools()
        or spans.finish_shift(("max_tokens", "length"))
        or spans.model_switch()
    )
    if consequence:
        weight = 0.25
    if _changed_before(f):
        weight *= 0.6
    repeated = spans.repeated_tool()
    extra = [spans.repeated_tool_line(repeated)] if repeated else []
    found.add(Category.TOKEN_COST_SPIKE, weight, spans.steps_line(steps), *extra)


def _failing_tool(spans: SpanFeatures, found: Signals) -> None:
    tools = spans.failing_tools()
    if not tools:
        return
    top = tools[0]
    category = (
        Category.RETRIEVAL_FAILURE
        if RETRIEVAL_HINT.search(top.tool)
        else Category.DEPENDENCY_FAILURE
    )
    found.add(category, 0.7 if top.share[1] >= 0.3 else 0.45, spans.tool_line(top))


def _finish_reasons(spans: SpanFeatures, f: Features, found: Signals) -> None:
    changes = _changed_before(f)
    switch = spans.model_switch()
    context = ([spans.switch_line(switch)] if switch else []) + changes[:1]
    if truncated := spans.finish_shift(("max_tokens", "length")):
        weight = 0.75 if context else 0.3
        found.add(Category.PROMPT_REGRESSION, weight, spans.finish_line(truncated), *context)
    if blocked := spans.finish_shift(("guardrail_intervened", "content_filtered")):
        if context:
            found.add(Category.PROMPT_REGRESSION, 0.6, spans.finish_line(blocked), *context)
        else:
            found.add(Category.GUARDRAIL_ABUSE, 0.35, spans.finish_line(blocked))


def _chat_throttles(spans: SpanFeatures, found: Signals) -> None:
    if throttles := spans.chat_throttles():
        found.add(Category.MODEL_THROTTLING, 0.65, spans.throttle_line(throttles))


def _agentcore_throttles(spans: SpanFeatures | None, f: Features, found: Signals) -> None:
    refusals = f.moved("Throttles", namespace=AGENTCORE)
    if not refusals:
        return
    found.add(Category.COMPUTE_SATURATION, 0.7, *series_lines(f, refusals))
    if sessions := f.moved("ActiveSessionCount", namespace=AGENTCORE) or f.moved(
        "SessionCount", "Invocations", namespace=AGENTCORE
    ):
        found.add(Category.COMPUTE_SATURATION, 0.1, *series_lines(f, sessions[:1]))
    model_throttled = f.moved("InvocationThrottles") or (spans and spans.chat_throttles())
    if not model_throttled:
        found.scale(Category.MODEL_THROTTLING, 0.4)

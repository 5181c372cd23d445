"""What changed in a service's spans, in the terms triage reasons with.

The `spans` source holds both sides' figures (`tools.spans.SideStats`); this module
compares them the way an SRE reads the GenAI attributes: did the agent take more steps
per turn while turns stayed flat, did one tool (`gen_ai.tool.name`) start failing and
with which `error.type`, did `gen_ai.response.finish_reasons` move to `max_tokens` or
`guardrail_intervened`, did `gen_ai.request.model` change, do `chat` spans fail with
throttling. Every comparison asks for a minimum count and a minimum effect, so a few
spans never make a signal.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.evidence import EvidenceBundle
from tools.base import TimeRange, fmt_number, fmt_offset
from tools.spans import ModelStat, SideStats, ToolStat

MIN_TRACES = 5  # traces per side before steps per turn are compared
MIN_CALLS = 10  # tool or chat calls since onset before a share is compared
MIN_FAILED = 5  # failing spans since onset before a failure counts
THROTTLE_TYPES = ("Throttling", "TooManyRequests", "429", "RateLimit")


@dataclass
class Steps:
    """Chat spans per trace (agent steps per turn) and the traffic around them."""

    p50: tuple[float, float]
    p95: tuple[float, float]
    traces: tuple[int, int]
    chat_per_min: tuple[float, float]
    turns_per_min: tuple[float, float]


@dataclass
class ToolShift:
    tool: str
    share: tuple[float, float]
    calls: int
    errors: int
    error_type: str


@dataclass
class FinishShift:
    reason: str
    model: str
    share: tuple[float, float]
    count: int
    output_per_call: tuple[float, float]


@dataclass
class ChatErrors:
    error_type: str
    count: tuple[int, int]
    model: str


@dataclass
class SpanFeatures:
    window: TimeRange
    before: SideStats
    after: SideStats

    @property
    def onset_label(self) -> str:
        return fmt_offset(self.window.minutes_from_t0(self.window.onset))

    def steps(self) -> Steps | None:
        """Agent steps per turn on both sides, when each side has enough traces."""
        traces = (sum(self.before.steps.values()), sum(self.after.steps.values()))
        if min(traces) < MIN_TRACES:
            return None
        b, a = self.before, self.after
        return Steps(
            p50=(b.step_percentile(0.5) or 0.0, a.step_percentile(0.5) or 0.0),
            p95=(b.step_percentile(0.95) or 0.0, a.step_percentile(0.95) or 0.0),
            traces=traces,
            chat_per_min=(b.per_minute(b.count_of("chat")), a.per_minute(a.count_of("chat"))),
            turns_per_min=(
                b.per_minute(b.count_of("invoke_agent")),
                a.per_minute(a.count_of("invoke_agent")),
            ),
        )

    def failing_tools(self, rise: float = 0.2) -> list[ToolShift]:
        """Tools whose error share rose by at least `rise`, most failures first."""
        found = []
        for name, after in self.after.tools.items():
            before = self.before.tools.get(name, ToolStat(name))
            share_b = before.errors / before.calls if before.calls else 0.0
            share_a = after.errors / after.calls if after.calls else 0.0
            if (
                after.calls >= MIN_CALLS
                and after.errors >= MIN_FAILED
                and share_a - share_b >= rise
            ):
                kind = after.error_types.most_common(1)[0][0] if after.error_types else "unknown"
                found.append(ToolShift(name, (share_b, share_a), after.calls, after.errors, kind))
        return sorted(found, key=lambda t: -t.errors)

    def finish_shift(self, reasons: tuple[str, ...]) -> FinishShift | None:
        """The model whose chat spans end with one of `reasons` far more than before."""
        best: FinishShift | None = None
        for name, after in self.after.models.items():
            before = self._baseline_of(name)
            total_a = sum(after.finish_reasons.values())
            count = sum(after.finish_reasons[r] for r in reasons)
            if total_a < MIN_CALLS or count < MIN_FAILED:
                continue
            total_b = sum(before.finish_reasons.values()) if before else 0
            count_b = sum(before.finish_reasons[r] for r in reasons) if before else 0
            share_b = count_b / total_b if total_b else 0.0
            share_a = count / total_a
            if share_a >= 0.25 and share_a >= 3 * share_b + 0.1:
                per_call = (
                    before.output_tokens / max(before.calls - before.errors, 1) if before else 0.0,
                    after.output_tokens / max(after.calls - after.errors, 1),
                )
                shift = FinishShift(reasons[0], name, (share_b, share_a), count, per_call)
                if best is None or shift.count > best.count:
                    best = shift
        return best

    def _established(self, name: str) -> bool:
        """Whether a model carried a real share (a quarter) of the calls before onset: a
        switch lands a little before the onset is seen, so the new model's first calls fall
        on the baseline side and must not stand for its baseline."""
        calls = sum(m.calls for m in self.before.models.values())
        model = self.before.models.get(name)
        return model is not None and calls > 0 and model.calls >= 0.25 * calls

    def _baseline_of(self, name: str) -> ModelStat | None:
        """What a model's figures are compared with: its own before onset when it was in
        real use then, else the model most used before (the one it replaced)."""
        if self._established(name):
            return self.before.models[name]
        return self._previous_model()

    def _previous_model(self) -> ModelStat | None:
        """The model most used before the onset (the one a switched model replaced)."""
        if not self.before.models:
            return None
        return max(self.before.models.values(), key=lambda m: m.calls)

    def model_switch(self) -> tuple[str, str] | None:
        """(old, new) when the model most used since onset was not used before it."""
        if not self.after.models or not self.before.models:
            return None
        new = max(self.after.models.values(), key=lambda m: m.calls)
        old = self._previous_model()
        if old is None or self._established(new.model) or new.calls < MIN_CALLS:
            return None
        if old.model == new.model:
            return None
        return old.model, new.model

    def chat_throttles(self) -> ChatErrors | None:
        """Chat spans failing with a throttling error type, far more than before."""
        best: ChatErrors | None = None
        for name, after in self.after.models.items():
            before = self.before.models.get(name, ModelStat(name))
            for kind, count in after.error_types.items():
                if not any(t.lower() in kind.lower() for t in THROTTLE_TYPES):
                    continue
                was = before.error_types.get(kind, 0)
                rate_b, rate_a = self.before.per_minute(was), self.after.per_minute(count)
                stronger = best is None or count > best.count[1]
                if count >= MIN_FAILED and rate_a > 3 * rate_b and stronger:
                    best = ChatErrors(kind, (was, count), name)
        return best

    def chat_error_share(self) -> float:
        calls = sum(m.calls for m in self.after.models.values())
        return sum(m.errors for m in self.after.models.values()) / calls if calls else 0.0

    # -- evidence lines ----------------------------------------------------------------
    def repeated_tool(self) -> tuple[str, float, float] | None:
        """(tool, calls per turn before, since) for the tool whose calls per turn grew most:
        the step a runaway agent repeats, which is where an SRE looks first."""
        turns_b, turns_a = self.before.count_of("invoke_agent"), self.after.count_of("invoke_agent")
        if turns_b < MIN_TRACES or turns_a < MIN_TRACES:
            return None
        best: tuple[str, float, float] | None = None
        for name, after in self.after.tools.items():
            before = self.before.tools.get(name, ToolStat(name))
            per_b, per_a = before.calls / turns_b, after.calls / turns_a
            if (
                per_a >= 2 * per_b
                and per_a - per_b >= 1
                and (best is None or per_a - per_b > best[2] - best[1])
            ):
                best = (name, per_b, per_a)
        return best

    def repeated_tool_line(self, tool: tuple[str, float, float]) -> str:
        name, per_b, per_a = tool
        return (
            f"spans: tool {name} (gen_ai.tool.name) calls per turn {per_b:.1f} -> {per_a:.1f} "
            f"from {self.onset_label}: the step the agent repeats"
        )

    def steps_line(self, steps: Steps) -> str:
        return (
            f"spans: agent steps per turn (chat spans per invoke_agent trace) p50 "
            f"{fmt_number(steps.p50[0])} -> {fmt_number(steps.p50[1])}, p95 "
            f"{fmt_number(steps.p95[0])} -> {fmt_number(steps.p95[1])} from {self.onset_label}; "
            f"chat spans {fmt_number(steps.chat_per_min[0])}/min -> "
            f"{fmt_number(steps.chat_per_min[1])}/min; turns (invoke_agent) "
            f"{fmt_number(steps.turns_per_min[0])}/min -> {fmt_number(steps.turns_per_min[1])}/min"
        )

    def tool_line(self, shift: ToolShift) -> str:
        return (
            f"spans: tool {shift.tool} (gen_ai.tool.name) errors {shift.share[0]:.0%} -> "
            f"{shift.share[1]:.0%} from {self.onset_label}, error.type {shift.error_type} "
            f"({shift.errors} of {shift.calls} calls)"
        )

    def finish_line(self, shift: FinishShift) -> str:
        return (
            f"spans: gen_ai.response.finish_reasons {shift.reason} {shift.share[0]:.0%} -> "
            f"{shift.share[1]:.0%} of chat spans from {self.onset_label} (gen_ai.request.model "
            f"{shift.model}; output_tokens/call {fmt_number(shift.output_per_call[0])} -> "
            f"{fmt_number(shift.output_per_call[1])})"
        )

    def switch_line(self, switch: tuple[str, str]) -> str:
        return f"spans: gen_ai.request.model {switch[0]} -> {switch[1]} from {self.onset_label}"

    def throttle_line(self, errors: ChatErrors) -> str:
        return (
            f"spans: chat spans with error.type {errors.error_type} {errors.count[0]} -> "
            f"{errors.count[1]} from {self.onset_label} (gen_ai.request.model {errors.model})"
        )


def span_features(bundle: EvidenceBundle) -> SpanFeatures | None:
    """The spans' comparison, when the bundle read spans of the service."""
    result = bundle.results.get("spans")
    if result is None or "sides" not in result.data:
        return None
    sides = result.data["sides"]
    return SpanFeatures(bundle.window, sides[False], sides[True])

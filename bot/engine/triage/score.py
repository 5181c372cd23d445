"""What a scorer returns, and the evidence helpers every scorer shares.

A `Score` is a weight and the evidence lines behind it. The helpers turn features into
those lines (a moved series, a failing pattern, a trace segment) and answer the questions
several scorers ask: is this segment slower, is it failing more than before onset?
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.features import Failure, Features, grew
from tools.metrics import SeriesSummary
from tools.traces import SegmentChange


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


def series_lines(f: Features, summaries: list[SeriesSummary]) -> list[str]:
    return [s.line(f.window) for s in summaries[:2]]


def pattern_lines(f: Features, failures: list[Failure]) -> list[str]:
    return [x.pattern.line(f.window) for x in failures[:2]]


def slower(segment: SegmentChange, ratio: float = 1.5, floor_ms: float = 150) -> bool:
    """Slower than before onset; a call never made before the onset has nothing to be
    slower than."""
    if not segment.baseline.count:
        return False
    slower = segment.recent.mean_ms - segment.baseline.mean_ms
    return segment.recent.mean_ms >= ratio * max(segment.baseline.mean_ms, 1) and slower >= floor_ms


def failing_more(segment: SegmentChange) -> bool:
    before, after = segment.failure_rates()
    return after - before >= 0.1 and segment.recent.failed >= 3


def segment_score(f: Features, kind: str, score: Score) -> None:
    for segment in f.segments_of(kind):
        if failing_more(segment):
            score.add(0.55, "trace " + segment.line())
        elif slower(segment):
            explains = segment.recent.mean_ms - segment.baseline.mean_ms >= 0.5 * f.root_growth_ms()
            score.add(0.45 if explains else 0.25, "trace " + segment.line())


def guardrail_findings(f: Features, side: str) -> list[str]:
    """What a guardrail found more often since the onset on one side (Input or Output):
    the filter type, topic or PII entity type and its policy, with counts before and since
    and the most frequent detail (confidence, action), from the model invocation log."""
    log = f.invocation_log
    if log is None:
        return []
    lines = []
    for (recent, found_side, policy, kind), count in sorted(
        log.intervened.items(), key=lambda i: -i[1]
    ):
        before = log.intervened[(False, found_side, policy, kind)]
        if not recent or found_side != side or not grew(before, count, f.window, min_count=5):
            continue
        details = [
            (n, key[4])
            for key, n in log.details.items()
            if key[:4] == (True, side, policy, kind) and key[4]
        ]
        detail = f", {max(details)[1]}" if details else ""
        lines.append(
            f"invocation log: guardrail {kind} ({policy}, {side}{detail}) "
            f"{before:.0f} before onset -> {count:.0f} since"
        )
    return lines


def model_latency_explains(f: Features) -> bool:
    """Without traces to say where the time goes, Bedrock's own `InvocationLatency` (timed
    on the provider's side, so a saturated function cannot raise it) grew by at least half
    of what the function's `Duration` grew: the function waits on the model."""
    duration = f.moved("Duration", namespace="AWS/Lambda")
    latency = f.moved("InvocationLatency", namespace="AWS/Bedrock")
    if not duration or not latency:
        return False
    longer = duration[0].recent - duration[0].baseline
    return longer > 0 and latency[0].recent - latency[0].baseline >= 0.5 * longer

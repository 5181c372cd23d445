"""CloudWatch metrics: which series belong to a service, their values, and what changed.

For every series the tool compares the baseline (before the incident's onset)
with the recent values and finds the series' own change point, because "which
metric moved first, and by how much" is the first question of any triage.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.aws import AwsClients, describe_error, error_code
from tools.base import (
    TimeRange,
    Tool,
    ToolError,
    ToolInput,
    ToolResult,
    fmt_number,
    fmt_offset,
    utc,
)

MAX_QUERIES_PER_CALL = 500  # GetMetricData's own limit
MAX_SERIES = 120
# Answers that say the endpoint will never compute a percentile: remembered. Anything else
# (throttling, a timeout, an internal error) costs this one query its percentile only.
PERCENTILE_REFUSED = {
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidParameterValueException",
    "ValidationError",
    "NotImplemented",
}
_AVERAGED = re.compile(r"latency|duration|time|age|percent|utilization|size|concurrent", re.I)
_PERCENTILE = re.compile(r"^(p|tm|wm|tc|ts)\d")


class MetricRef(BaseModel):
    """One CloudWatch series: namespace, name and the exact dimension set."""

    model_config = ConfigDict(frozen=True)

    namespace: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.namespace, self.name, tuple(sorted(self.dimensions.items())))

    def label(self) -> str:
        dims = ",".join(f"{k}={short_name(v)}" for k, v in sorted(self.dimensions.items()))
        return f"{self.namespace} {self.name}" + (f" [{dims}]" if dims else "")


def short_name(value: str) -> str:
    """ARNs in dimensions are long; their last part names the resource."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def default_statistic(metric_name: str) -> str:
    """Counts are summed per period; latencies and gauges are averaged."""
    if "Concurrent" in metric_name:
        return "Maximum"
    return "Average" if _AVERAGED.search(metric_name) else "Sum"


@dataclass
class SeriesSummary:
    """A series compared across the onset."""

    ref: MetricRef
    statistic: str
    period: int
    points: list[tuple[datetime, float]]
    baseline: float
    recent: float
    peak: float
    change_at: datetime | None
    anomalous: bool
    score: float

    @property
    def direction(self) -> str:
        return "up" if self.recent >= self.baseline else "down"

    def line(self, window: TimeRange) -> str:
        unit = "/min" if self.period == 60 and self.statistic == "Sum" else ""
        if self.statistic == "Sum" and self.period != 60:
            unit = f"/{self.period // 60}min"
        when = (
            f" from {fmt_offset(window.minutes_from_t0(self.change_at))}" if self.change_at else ""
        )
        dims = ",".join(f"{short_name(v)}" for _, v in sorted(self.ref.dimensions.items()))
        where = f" ({dims})" if dims else ""
        return (
            f"{self.ref.name}{where} {fmt_number(self.baseline)} -> {fmt_number(self.recent)}{unit}"
            f"{when} (peak {fmt_number(self.peak)}, {self.statistic})"
        )


def _fill(points: list[tuple[datetime, float]], end: datetime, period: int):
    """Sums with no datapoint inside a series mean nothing happened: zeros fill those gaps.

    Before the first datapoint nothing is known (the series may not have existed), so
    the grid starts there rather than at the window's start.
    """
    if not points:
        return points
    # A series published every 5 minutes is not zero in between: fill at its own cadence.
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(points)]
    step = max(timedelta(seconds=period), min(gaps, default=timedelta(seconds=period)))
    have = dict(points)
    filled = []
    at = min(have)
    while at < end:
        filled.append((at, have.pop(at, 0.0)))
        at += step
    return sorted(filled + list(have.items()))  # points off the grid are kept as they are


def change_point(values: list[float], min_side: int = 3) -> int | None:
    """Index where the series changes level: two-segment least squares, then walk back
    to where the values first left the baseline band (so a ramp's start is found)."""
    n = len(values)
    if n < 2 * min_side:
        return None
    prefix = [0.0]
    prefix_sq = [0.0]
    for value in values:
        prefix.append(prefix[-1] + value)
        prefix_sq.append(prefix_sq[-1] + value * value)

    def sse(lo: int, hi: int) -> float:
        count = hi - lo
        total = prefix[hi] - prefix[lo]
        return (prefix_sq[hi] - prefix_sq[lo]) - total * total / count

    best, best_cost = None, sse(0, n)
    for split in range(min_side, n - min_side + 1):
        cost = sse(0, split) + sse(split, n)
        if cost < best_cost:
            best, best_cost = split, cost
    if best is None:
        return None
    low, high = band(values[:best])
    while best > 1 and not low <= values[best - 1] <= high:
        best -= 1
    return best


def band(values: list[float]) -> tuple[float, float]:
    """The range a quiet baseline stays in: median ± max(3 robust sigmas, 10%, a floor)."""
    if not values:
        return (0.0, 0.0)
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values) * 1.4826
    width = max(3 * mad, 0.1 * abs(median), 0.5)
    return (median - width, median + width)


def summarize(
    ref: MetricRef,
    statistic: str,
    period: int,
    points: list[tuple[datetime, float]],
    window: TimeRange,
) -> SeriesSummary:
    """Baseline vs recent, the series' own change point, and whether it is anomalous."""
    before = [v for at, v in points if at < window.onset]
    after = [v for at, v in points if at >= window.onset]
    values = [v for _, v in points]
    baseline = statistics.median(before) if before else 0.0
    recent = statistics.fmean(after) if after else 0.0
    peak = max(values) if values else 0.0
    low, high = band(before) if len(before) >= 3 else (baseline, baseline)
    spread = max((high - low) / 2, 0.5, 0.05 * abs(baseline))
    shift = recent - baseline
    relative = abs(shift) / max(abs(baseline), 1.0)
    score = abs(shift) / spread
    # A big relative move clear of everything the baseline ever did is a change even when
    # the baseline is noisy (3 robust sigmas of a ±10% jitter is already 30%).
    separated = bool(before) and (recent > 1.1 * max(before) or recent < 0.9 * min(before))
    anomalous = len(after) > 0 and relative >= 0.3 and (score >= 3 or separated)
    change_at = None
    if anomalous:
        index = change_point(values)
        if index is not None:
            change_at = points[index][0]
    return SeriesSummary(
        ref, statistic, period, points, baseline, recent, peak, change_at, anomalous, score
    )


class MetricsInput(ToolInput):
    metrics: list[MetricRef] = Field(min_length=1, max_length=MAX_SERIES)
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    period: int = Field(default=60, ge=60, le=3600)
    statistic: str | None = Field(
        default=None, description="override: Sum, Average, Maximum, Minimum, SampleCount, p99"
    )


def get_series(
    aws: AwsClients,
    requests: list[tuple[MetricRef, str]],
    start: datetime,
    end: datetime,
    period: int,
    probe: bool = False,
) -> dict[int, list[tuple[datetime, float]]]:
    """GetMetricData for many (series, statistic) pairs; results keyed by request index."""
    client = aws.client("cloudwatch", probe=probe)
    found: dict[int, list[tuple[datetime, float]]] = {i: [] for i in range(len(requests))}
    for offset in range(0, len(requests), MAX_QUERIES_PER_CALL):
        batch = requests[offset : offset + MAX_QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"m{offset + i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": ref.namespace,
                        "MetricName": ref.name,
                        # As listed: some endpoints match dimension lists in order.
                        "Dimensions": [{"Name": k, "Value": v} for k, v in ref.dimensions.items()],
                    },
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for i, (ref, stat) in enumerate(batch)
        ]
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = client.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                index = int(result["Id"][1:])
                found[index] += [
                    (utc(at), float(value))
                    for at, value in zip(result["Timestamps"], result["Values"], strict=False)
                ]
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return {index: sorted(points) for index, points in found.items()}


Fetched = list[tuple[MetricRef, str, list[tuple[datetime, float]]]]


def fetch_points(
    aws: AwsClients,
    refs: list[MetricRef],
    start: datetime,
    end: datetime,
    period: int = 60,
    statistic: str | None = None,
) -> tuple[Fetched, list[str]]:
    """Datapoints of many series (no onset needed); a refused percentile falls back to
    Maximum with a note, and the refusal is remembered for the endpoint."""
    notes: list[str] = []
    plain: list[tuple[MetricRef, str]] = []
    percentile: list[tuple[MetricRef, str]] = []
    for ref in refs:
        stat = statistic or default_statistic(ref.name)
        (percentile if _PERCENTILE.match(stat) else plain).append((ref, stat))
    results: Fetched = []
    for ref, stat in percentile:
        points: list[tuple[datetime, float]] = []
        if aws.capabilities.get("percentiles") is False:
            notes.append(f"{ref.name} {stat} not supported by this endpoint; used Maximum")
        else:
            try:
                # One attempt: a refused percentile has a fallback, retrying only costs time.
                points = get_series(aws, [(ref, stat)], start, end, period, True)[0]
            except Exception as exc:
                code = error_code(exc)
                if code in PERCENTILE_REFUSED or code.isdigit():  # no AWS error: an emulator
                    aws.capabilities["percentiles"] = False
                notes.append(f"{ref.name} {stat} unavailable ({describe_error(exc)}); used Maximum")
            else:
                if not points:
                    notes.append(f"{ref.name} {stat} returned no data; used Maximum")
        if points:
            results.append((ref, stat, points))
        else:
            plain.append((ref, "Maximum"))
    if plain:
        series = get_series(aws, plain, start, end, period)
        for index, (ref, stat) in enumerate(plain):
            results.append((ref, stat, series[index]))
    return results, notes


def summaries_for(fetched: Fetched, window: TimeRange, period: int = 60) -> list[SeriesSummary]:
    summaries = []
    for ref, stat, points in fetched:
        if stat in ("Sum", "SampleCount"):
            points = _fill(points, window.end, period)
        summaries.append(summarize(ref, stat, period, points, window))
    return summaries


def fetch_summaries(
    aws: AwsClients,
    refs: list[MetricRef],
    window: TimeRange,
    period: int = 60,
    statistic: str | None = None,
) -> tuple[list[SeriesSummary], list[str]]:
    """Fetch and summarize series across the window's onset."""
    fetched, notes = fetch_points(aws, refs, window.start, window.end, period, statistic)
    return summaries_for(fetched, window, period), notes


def result(summaries: list[SeriesSummary], notes: list[str], window: TimeRange) -> ToolResult:
    return ToolResult(MetricsTool.name, render(summaries, window), {"series": summaries}, notes)


def render(summaries: list[SeriesSummary], window: TimeRange, limit: int = 12) -> str:
    """Anomalous series first (strongest first), then a count of the quiet ones."""
    moved = sorted((s for s in summaries if s.anomalous), key=lambda s: -s.score)
    quiet = [s for s in summaries if not s.anomalous]
    lines = [f"- {s.line(window)}" for s in moved[:limit]]
    if len(moved) > limit:
        lines.append(f"- ... {len(moved) - limit} more changed series")
    if quiet:
        names = sorted({s.ref.name for s in quiet})
        lines.append(f"- unchanged: {', '.join(names[:15])}" + (" ..." if len(names) > 15 else ""))
    return "\n".join(lines) or "- no datapoints"


class MetricsTool(Tool[MetricsInput]):
    name = "get_metrics"
    description = (
        "CloudWatch GetMetricData for up to 120 series over a time range; returns each "
        "series' baseline (before onset) vs recent level, its own change point and peak."
    )
    Input = MetricsInput

    def run(self, params: MetricsInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        try:
            summaries, notes = fetch_summaries(
                self.aws, params.metrics, window, params.period, params.statistic
            )
        except Exception as exc:
            raise ToolError(f"GetMetricData failed: {describe_error(exc)}") from exc
        return result(summaries, notes, window)

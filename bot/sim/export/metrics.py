"""Numbers as the scenario format writes them, and a metric series as piecewise segments.

An exported scenario is a summary, not a copy: a series becomes a few levels, each with
the jitter its values had, cut where the level clearly moves (recursive two-segment
splits at the tools' own change point, `tools.metrics.change_point`, so the export sees
the change the investigation sees). Log rates (`logs`) are segmented the same way and
trace durations (`traces`) rounded and jittered the same way, so those helpers live
here with the series they were made for.
"""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import datetime, timedelta
from typing import Any

from tools import metrics

MAX_SEGMENTS_DEPTH = 5


def offset(seconds: float) -> str:
    """Seconds from T0 as a scenario offset: `-12m`, `+5m`, `-90s`, `0`."""
    whole = round(seconds)
    if whole == 0:
        return "0"
    sign = "-" if whole < 0 else "+"
    whole = abs(whole)
    return f"{sign}{whole // 60}m" if whole % 60 == 0 else f"{sign}{whole}s"


def significant(value: float, digits: int = 3) -> float:
    """A level rounded to a few significant digits (a summary, not a copy)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return float(int(rounded)) if float(rounded).is_integer() else float(rounded)


def jitter_of(values: list[float]) -> float:
    """Relative uniform noise with the values' spread: a uniform on ±j has sd j/√3."""
    mean = statistics.fmean(values)
    if len(values) < 2 or mean == 0:
        return 0.0
    return min(round(math.sqrt(3) * statistics.pstdev(values) / abs(mean), 2), 1.0)


def _differ(left: list[float], right: list[float]) -> bool:
    """Whether two sides of a split have clearly different levels (a t statistic over 5
    and a move of at least 10%, or of one unit near zero)."""
    a, b = statistics.fmean(left), statistics.fmean(right)
    gap = abs(a - b)
    if gap < max(0.1 * max(abs(a), abs(b)), 0.3):
        return False
    pooled = math.sqrt(
        (statistics.pvariance(left) * len(left) + statistics.pvariance(right) * len(right))
        / (len(left) + len(right))
    )
    if pooled == 0:
        return True
    return gap / (pooled * math.sqrt(1 / len(left) + 1 / len(right))) > 5


def split_levels(values: list[float], depth: int = 0) -> list[int]:
    """Indexes where the level changes (recursive binary segmentation)."""
    if depth >= MAX_SEGMENTS_DEPTH or len(values) < 6:
        return []
    index = metrics.change_point(values)
    if index is None or not 0 < index < len(values):
        return []
    left, right = values[:index], values[index:]
    if not _differ(left, right):
        return []
    return [
        *split_levels(left, depth + 1),
        index,
        *(index + i for i in split_levels(right, depth + 1)),
    ]


def _runs(
    points: list[tuple[datetime, float]], step: timedelta
) -> list[list[tuple[datetime, float]]]:
    runs: list[list[tuple[datetime, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= step * 1.5:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def metric_spec(
    ref: metrics.MetricRef, statistic: str, points: list[tuple[datetime, float]], t0: datetime
) -> dict[str, Any] | None:
    """A metric's points as a scenario metric: levels per run of consecutive periods (a
    gap in the data starts a new run), at the period the points were read at."""
    if not points:
        return None
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(points)]
    period = max(60, round(min(gaps, default=60) / 60) * 60)
    step = timedelta(seconds=period)
    counts = statistic in ("Sum", "SampleCount")
    segments = []
    for run in _runs(points, step):
        values = [v for _, v in run]
        cuts = [0, *split_levels(values), len(values)]
        for lo, hi in itertools.pairwise(cuts):
            part = values[lo:hi]
            segment: dict[str, Any] = {
                "from": offset((run[lo][0] - t0).total_seconds()),
                "to": offset((run[hi - 1][0] - t0).total_seconds() + period),
                "value": significant(statistics.fmean(part)),
            }
            if jitter := jitter_of(part):
                segment["jitter"] = jitter
            segments.append(segment)
    spec: dict[str, Any] = {
        "namespace": ref.namespace,
        "name": ref.name,
        "dimensions": dict(ref.dimensions),
    }
    if counts:
        spec["unit"] = "Count"
    if period != 60:
        spec["period"] = period
    spec["segments"] = segments
    return spec

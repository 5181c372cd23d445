"""When the incident began: the moment the alarm's own metric left its baseline.

An alarm fires minutes after its metric moved (evaluation periods, datapoints to alarm);
everything before the onset is the baseline the evidence compares against. The onset is a
two-segment least-squares change point on the alarm's metric, walked back to where the
values left the baseline band (`tools.metrics.change_point`). When the metric cannot say
(no metric, no datapoints, too short, moved after the alarm, unreadable), the onset is
`Alarm.evaluation_start`, and the basis says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.models import Alarm
from tools import metrics
from tools.aws import AwsClients, describe_error
from tools.base import TimeRange

log = logging.getLogger(__name__)


def find_onset(
    aws: AwsClients, alarm: Alarm, start: datetime, end: datetime
) -> tuple[datetime, str, metrics.SeriesSummary | None]:
    """When the alarm's metric left its baseline; else evaluation periods before T0."""
    fallback = alarm.evaluation_start
    if not alarm.namespace or not alarm.metric:
        return fallback, "no alarm metric: evaluation periods before the alarm", None
    ref = metrics.MetricRef(
        namespace=alarm.namespace, name=alarm.metric, dimensions=alarm.dimensions
    )
    provisional = TimeRange(start=start, end=end, onset=fallback, t0=alarm.changed_at)
    period = max(60, min(alarm.period, 300))
    summaries, _ = metrics.fetch_summaries(aws, [ref], provisional, period, alarm.statistic)
    summary = summaries[0] if summaries else None
    if summary is None or not summary.points:
        return fallback, "alarm metric has no datapoints: evaluation periods before the alarm", None
    values = [v for _, v in summary.points]
    index = metrics.change_point(values)
    if index is None:
        return fallback, "alarm metric too short: evaluation periods before the alarm", summary
    onset = summary.points[index][0]
    if onset > alarm.changed_at:
        return fallback, "alarm metric moved after the alarm: evaluation periods before it", summary
    return onset, f"{alarm.metric} left its baseline", summary


@dataclass
class Onset:
    at: datetime
    basis: str
    series: metrics.SeriesSummary | None = None
    error: str | None = None


def onset_of(aws: AwsClients, alarm: Alarm, start: datetime, end: datetime) -> Onset:
    """`find_onset`, or the evaluation periods before the alarm when the metric cannot be
    read: the other sources may still answer."""
    try:
        return Onset(*find_onset(aws, alarm, start, end))
    except Exception as exc:  # the other sources may still answer
        log.warning("alarm metric unreadable: %s", describe_error(exc))
        return Onset(
            alarm.evaluation_start,
            "alarm metric unreadable: evaluation periods before the alarm",
            error=describe_error(exc),
        )

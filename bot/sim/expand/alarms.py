"""The scenario's alarms as CloudWatch fires them: in ALARM, with a reason in its words.

The alarm is where an investigation starts, and its reason is shown in Slack and handed
to the investigation beside the metric it names; a reason that disagreed with the
datapoints would mislead both. So unless the scenario spells a reason out, it is written
here in CloudWatch's words from the datapoints of the expanded metric itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.models import Alarm, AlarmState
from bot.sim.agentcore import full_dimensions
from bot.sim.expand.metrics import metric_values
from bot.sim.expand.telemetry import MetricSeries
from bot.sim.scenario import Scenario
from bot.sim.specs import AlarmSpec

_COMPARISON_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def alarm_reason(spec: AlarmSpec, points: list[tuple[datetime, float]], t0: datetime) -> str:
    """A `NewStateReason` like CloudWatch writes, from the metric's own values."""
    words = _COMPARISON_WORDS.get(spec.comparison, "outside")
    period = timedelta(seconds=spec.period)
    datapoints: list[tuple[datetime, float]] = []
    for back in range(spec.evaluation_periods, 0, -1):
        bucket_start = t0 - back * period
        inside = [v for at, v in points if bucket_start <= at < bucket_start + period]
        if inside:
            value = (
                sum(inside)
                if spec.statistic in ("Sum", "SampleCount")
                else (
                    max(inside)
                    if spec.statistic == "Maximum"
                    else min(inside)
                    if spec.statistic == "Minimum"
                    else sum(inside) / len(inside)
                )
            )
            datapoints.append((bucket_start, value))
    threshold = f"{spec.threshold:.1f}"
    if not datapoints:
        return (
            f"Threshold Crossed: no datapoints were received for {spec.evaluation_periods} "
            f"period(s) and the alarm treats missing data as breaching the threshold ({threshold})."
        )
    shown = ", ".join(f"{value:.1f} ({at:%d/%m/%y %H:%M:%S})" for at, value in reversed(datapoints))
    count = len(datapoints)
    noun = "datapoint" if count == 1 else "datapoints"
    verb = "was" if count == 1 else "were"
    return (
        f"Threshold Crossed: {count} {noun} [{shown}] {verb} {words} the threshold ({threshold})."
    )


def alarm_from_spec(
    scenario: Scenario, spec: AlarmSpec, changed_at: datetime, series: list[MetricSeries]
) -> Alarm:
    """An alarm of the scenario, in ALARM since `changed_at`, as the bot would parse it."""
    dimensions = full_dimensions(spec.namespace, spec.dimensions, scenario.region, scenario.account)
    reason = spec.reason or alarm_reason(
        spec, metric_values(series, spec.namespace, spec.metric, dimensions), changed_at
    )
    return Alarm(
        name=spec.name,
        description=spec.description,
        namespace=spec.namespace,
        metric=spec.metric,
        dimensions=dimensions,
        statistic=spec.statistic,
        period=spec.period,
        evaluation_periods=spec.evaluation_periods,
        threshold=spec.threshold,
        comparison=spec.comparison,
        state=AlarmState.ALARM,
        previous_state=AlarmState.OK,
        reason=reason,
        changed_at=changed_at,
        region=scenario.region,
        account=scenario.account,
        arn=f"arn:aws:cloudwatch:{scenario.region}:{scenario.account}:alarm:{spec.name}",
    )

"""Metric segments as the datapoints CloudWatch would hold, one per period.

A scenario writes a metric as levels over time (with jitter, or a ramp from the previous
level) because that is how people describe an incident; the tools read datapoints, so
each segment is laid out on the metric's period here. `metric_values` finds a series
again, for an alarm's reason (`alarms`) to be written from the very values the tools
will read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.sim.agentcore import full_dimensions
from bot.sim.expand.draws import jittered, seeded, window_span
from bot.sim.expand.telemetry import MetricSeries
from bot.sim.scenario import Scenario
from bot.sim.specs import MetricSpec


def expand_metric(scenario: Scenario, spec: MetricSpec, index: int, t0: datetime) -> MetricSeries:
    """Piecewise segments -> one datapoint per period; later segments win."""
    rng = seeded(scenario.seed, "metric", index)
    period = timedelta(seconds=spec.period)
    values: dict[timedelta, float] = {}
    previous: float | None = None
    for segment in spec.segments:
        start, end = window_span(segment.start, segment.end, scenario)
        first = -((-start) // period) * period  # the first whole period at or after start
        slots = []
        slot = first
        while slot < end:
            slots.append(slot)
            slot += period
        origin = previous if previous is not None else 0.0
        for position, slot in enumerate(slots):
            value = segment.value
            if segment.ramp:
                share = position / (len(slots) - 1) if len(slots) > 1 else 1.0
                value = origin + (segment.value - origin) * share
            value = max(0.0, jittered(value, segment.jitter, rng))
            if spec.unit == "Count":
                value = float(round(value))
            values[slot] = value
        previous = segment.value
    points = [(t0 + offset, values[offset]) for offset in sorted(values)]
    dimensions = full_dimensions(spec.namespace, spec.dimensions, scenario.region, scenario.account)
    return MetricSeries(spec.namespace, spec.name, dimensions, spec.unit, spec.period, points)


def metric_values(
    series: list[MetricSeries], namespace: str, name: str, dimensions: dict[str, str]
) -> list[tuple[datetime, float]]:
    """The points of the one series with this namespace, name and dimensions, or none."""
    for candidate in series:
        if (candidate.namespace, candidate.name, candidate.dimensions) == (
            namespace,
            name,
            dimensions,
        ):
            return candidate.points
    return []

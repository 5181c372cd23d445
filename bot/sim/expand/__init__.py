"""Scenario -> the raw telemetry AWS would hold for it.

Expansion is a pure function of the scenario and T0: every random choice draws
from a stream seeded by the scenario's `seed` and the item's position (`draws`), so two
expansions with the same seed and T0 are identical, and editing one log pattern
does not reshuffle the others. One module per kind of telemetry (`metrics`, `alarms`,
`logs`, `traces`, `spans`, `changes`), each returning the values of `telemetry`. Writing the
result into an AWS endpoint is `bot.sim.seeding`'s job.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.sim.expand.alarms import alarm_from_spec
from bot.sim.expand.changes import expand_change
from bot.sim.expand.invocations import expand_invocations
from bot.sim.expand.logs import expand_logs
from bot.sim.expand.metrics import expand_metric
from bot.sim.expand.spans import expand_spans
from bot.sim.expand.telemetry import LogEvent, LogStream, MetricSeries, Telemetry
from bot.sim.expand.traces import expand_traces
from bot.sim.scenario import Scenario

__all__ = ["LogEvent", "LogStream", "MetricSeries", "Telemetry", "anchor_t0", "expand"]


def anchor_t0(scenario: Scenario, now: datetime | None = None) -> datetime:
    """T0 for a live or emulated account: now minus the tail, on a whole minute."""
    now = now or datetime.now(UTC)
    t0 = now - scenario.window.tail
    return t0.replace(second=0, microsecond=0)


def expand(scenario: Scenario, t0: datetime) -> Telemetry:
    """The whole scenario's telemetry, with T0 at `t0`."""
    t0 = t0.astimezone(UTC)
    metrics = [expand_metric(scenario, spec, i, t0) for i, spec in enumerate(scenario.metrics)]
    alarm = alarm_from_spec(scenario, scenario.alarm, t0, metrics)
    also = [
        alarm_from_spec(scenario, spec, t0 + (spec.at or timedelta(0)), metrics)
        for spec in scenario.alarms_also_firing
    ]
    return Telemetry(
        t0=t0,
        start=t0 + scenario.window.start,
        end=t0 + scenario.window.tail,
        region=scenario.region,
        account=scenario.account,
        alarm=alarm,
        also_firing=also,
        metrics=metrics,
        logs=[expand_logs(scenario, spec, i, t0) for i, spec in enumerate(scenario.logs)]
        + expand_invocations(scenario, t0),
        trace_documents=[
            doc
            for i, spec in enumerate(scenario.traces)
            for doc in expand_traces(scenario, spec, i, t0)
        ],
        changes=[expand_change(scenario, i, t0) for i in range(len(scenario.changes))],
        spans=expand_spans(scenario, t0),
    )

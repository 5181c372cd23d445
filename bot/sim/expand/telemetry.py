"""The telemetry a scenario expands to: what AWS would hold, before it is written there.

Expansion (`bot.sim.expand`) and seeding (`bot.sim.seeding`) meet at these values: one
side computes them from the scenario without touching an endpoint, the other writes them
into one. Plain frozen dataclasses, so an expansion can be compared and inspected in a
test without AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.models import Alarm


@dataclass(frozen=True)
class MetricSeries:
    namespace: str
    name: str
    dimensions: dict[str, str]
    unit: str | None
    period: int
    points: list[tuple[datetime, float]]


@dataclass(frozen=True)
class LogEvent:
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogStream:
    group: str
    stream: str
    events: list[LogEvent]


@dataclass(frozen=True)
class Telemetry:
    """Everything a scenario puts into an AWS account, anchored at `t0`."""

    t0: datetime
    start: datetime
    end: datetime
    region: str
    account: str
    alarm: Alarm
    also_firing: list[Alarm]
    metrics: list[MetricSeries] = field(default_factory=list)
    logs: list[LogStream] = field(default_factory=list)
    trace_documents: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    # 1.1: OpenTelemetry spans as Transaction Search stores them, one stream per group.
    spans: list[LogStream] = field(default_factory=list)

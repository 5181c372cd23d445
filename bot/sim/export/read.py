"""Reading an incident's telemetry back from AWS, with the bot's own read-only tools.

An exported scenario should hold what the investigation could see, no more: so it is read
with the same tools (`tools.metrics`, `logs`, `traces`, `changes`, `guardrails`) and the
same choice of metrics (`bot.engine.evidence.service_metrics`) the evidence gathering
uses, over the incident's window. Each source is summarised as it is read (`metrics`,
`logs`, `traces`, `changes` beside this module); a source that cannot be read is noted
in the scenario instead of failing the export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.config import Settings
from bot.engine.evidence import service_metrics
from bot.models import Alarm, ServiceEntry
from bot.sim.export.changes import change_spec
from bot.sim.export.logs import log_group_spec
from bot.sim.export.metrics import metric_spec
from bot.sim.export.traces import trace_specs
from tools import changes, guardrails, logs, metrics, traces
from tools.aws import AwsClients, describe_error
from tools.base import TimeRange

MAX_CHANGES = 60


@dataclass
class Read:
    """What the tools read for one incident, before it is summarised."""

    metrics: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_telemetry(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    span: TimeRange,
    settings: Settings,
) -> Read:
    """Every source over the window, summarised; a source that fails is noted."""
    t0 = alarm.changed_at
    read = Read()
    try:
        refs = service_metrics(aws, service, alarm)
        if service and service.bedrock.guardrails:
            known = {ref.key for ref in refs}
            ids = [g.id for g in service.bedrock.guardrails]
            refs += [r for r in guardrails.guardrail_refs(aws, ids) if r.key not in known]
        fetched, _ = metrics.fetch_points(aws, refs, span.start, span.end)
        for ref, statistic, points in fetched:
            if spec := metric_spec(ref, statistic, points, t0):
                read.metrics.append(spec)
    except Exception as exc:
        read.notes.append(f"metrics unreadable: {describe_error(exc)}")
    groups = (service.all_log_groups() if service else [])[:10]
    if not groups and alarm.dimensions.get("FunctionName"):
        groups = [f"/aws/lambda/{alarm.dimensions['FunctionName']}"]
    for group in groups:
        try:
            events, capped = logs.filter_events(aws, group, span)
        except Exception as exc:
            read.notes.append(f"log group {group} unreadable: {describe_error(exc)}")
            continue
        if capped:
            read.notes.append(f"log group {group}: more lines than {len(events)}; rates sampled")
        if spec := log_group_spec(group, events, span.start, span.end, t0):
            read.logs.append(spec)
    try:
        collected = traces.collect(
            aws, span.start, span.end, service.xray_service_names if service else []
        )
        read.traces = trace_specs(collected, span.onset, span.start, span.end, t0)
    except Exception as exc:
        read.notes.append(f"traces unreadable: {describe_error(exc)}")
    try:
        lookback = timedelta(hours=settings.change_lookback_hours)
        found = changes.collect(
            aws, span.start - lookback, span.end, settings.cloudtrail_log_group
        ).changes
        found = sorted(found, key=lambda c: c.at)[-MAX_CHANGES:]
        read.changes = [change_spec(change, t0) for change in found]
    except Exception as exc:
        read.notes.append(f"changes unreadable: {describe_error(exc)}")
    return read

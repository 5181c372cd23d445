"""A stored incident as scenario data, and the file it is written to.

The benchmark should grow from production: an incident the team confirmed becomes a
scenario anyone can replay offline. This module decides what the scenario says about
the incident itself: its window (the lookback before T0 and up to 15 minutes after, as
the evidence gathering reads), its alarm and the others firing with it, the service
from the catalog, and the `expected` root cause, which is what the voters confirmed (👍:
the analysis' category, 👎: the category named in the modal), else the analysis' own
category. The data is validated against the scenario format before it is returned, so
what is written always reads back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.engine.investigate import describe_alarm
from bot.engine.redact import redact
from bot.errors import LlmIncidentError
from bot.models import Alarm, ServiceEntry, parse_utc
from bot.observe.feedback_export import confirmed_category
from bot.sim.export.metrics import offset
from bot.sim.export.read import read_telemetry
from bot.sim.scenario import parse_scenario
from bot.store import Feedback, Store
from tools.aws import AwsClients
from tools.base import TimeRange

AFTER_ALARM = timedelta(minutes=15)  # as the evidence gathering reads past T0


class ExportError(LlmIncidentError):
    """The incident cannot be exported; the message says why."""


def alarm_spec(alarm: Alarm) -> dict[str, Any]:
    """An alarm as a scenario alarm (its reason kept, so the replay says what it said)."""
    spec: dict[str, Any] = {
        "name": alarm.name,
        "description": redact(alarm.description),
        "namespace": alarm.namespace or "AWS/Unknown",
        "metric": alarm.metric or "Unknown",
        "dimensions": dict(alarm.dimensions),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "evaluation_periods": alarm.evaluation_periods,
        "threshold": alarm.threshold,
        "comparison": alarm.comparison,
    }
    if alarm.reason:
        spec["reason"] = redact(alarm.reason)
    return spec


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "incident"


def export_scenario(
    store: Store,
    incident_id: int,
    aws: AwsClients,
    catalog: Catalog,
    settings: Settings,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The incident as scenario data (validated against the v1 format)."""
    incident = store.incidents.get(incident_id)
    if incident is None:
        raise ExportError(f"no incident {incident_id}")
    alarm = Alarm.model_validate(incident.alarm)
    service = catalog.resolve(alarm) or catalog.find(incident.service)
    analysis = store.analyses.latest(incident_id)
    t0 = alarm.changed_at
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = min(now, t0 + AFTER_ALARM)
    tail_minutes = max(int((end - t0).total_seconds() // 60), 1)
    start = t0 - timedelta(minutes=settings.lookback_minutes)
    end = t0 + timedelta(minutes=tail_minutes)
    onset = _onset(analysis.investigation if analysis else {}, alarm)
    span = TimeRange(start=start, end=end, onset=onset, t0=t0)
    read = read_telemetry(aws, alarm, service, span, settings)
    category, how = _expected(store, analysis)
    also = []
    for name in store.incidents.firing_alarms(incident_id):
        if name == alarm.name:
            continue
        other = describe_alarm(aws, name)
        if other is not None:
            also.append(
                {**alarm_spec(other), "at": offset((other.changed_at - t0).total_seconds())}
            )
    account = alarm.account if re.fullmatch(r"\d{12}", alarm.account or "") else "000000000000"
    entry = service or ServiceEntry(name=incident.service)
    data: dict[str, Any] = {
        "version": 1,
        "id": f"incident-{incident_id}-{_slug(alarm.name)}",
        "title": f"{alarm.name} on {entry.name}, incident {incident_id} of {t0:%Y-%m-%d %H:%M} UTC",
        "seed": incident_id,
        "region": alarm.region or settings.aws_region,
        "account": account,
        "window": {"start": f"-{settings.lookback_minutes}m", "tail": f"{tail_minutes}m"},
        "service": entry.model_dump(mode="json", exclude_none=True),
        "alarm": alarm_spec(alarm),
        "alarms_also_firing": also,
        "metrics": read.metrics,
        "logs": read.logs,
        "traces": read.traces,
        "changes": read.changes,
    }
    if category:
        data["expected"] = {"category": category, "evidence": []}
    notes = [
        f"Exported by llm-incident from incident {incident_id} ({incident.service}); "
        f"expected category: {how}."
    ]
    notes += read.notes
    data["notes"] = " ".join(notes)
    parse_scenario(data, f"incident {incident_id}")  # what is written must read back
    return data


def _onset(investigation: dict[str, Any], alarm: Alarm) -> datetime:
    onset = parse_utc(investigation.get("onset"))
    return onset if onset is not None else alarm.evaluation_start


def _expected(store: Store, analysis: Any) -> tuple[str | None, str]:
    if analysis is None:
        return None, "none (no analysis)"
    with store.session() as session:
        votes = list(session.scalars(select(Feedback).where(Feedback.analysis_id == analysis.id)))
    confirmed = confirmed_category(analysis.category, votes)
    if confirmed:
        return confirmed, "confirmed by the votes on the analysis"
    return analysis.category, "the analysis' own category (no vote named one)"


def write_scenario(data: dict[str, Any], path: Path) -> None:
    """Write scenario data as YAML: keys in the order given, lines never wrapped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)
    path.write_text(text, encoding="utf-8")

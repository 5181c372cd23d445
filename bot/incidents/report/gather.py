"""What an incident report is made of: the store's record of the incident and the thread's
messages as Slack returns them (`conversations.replies`), validated at the boundary.

The store knows the alarm, every delivery of it, the analyses, the votes with their times,
what fixed it and the changes the evidence found; the thread knows what people said and
how they reacted. Either may be missing (a CLI without a Slack token): the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from bot.models import Alarm, Investigation
from bot.store import Analysis, Feedback, Incident, Store
from bot.store.tables import AlarmEvent, ResolutionNote


class Reaction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    count: int = 1
    users: list[str] = Field(default_factory=list)


class ThreadFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = ""
    title: str | None = None
    name: str | None = None


class ThreadMessage(BaseModel):
    """One message of `conversations.replies` (the fields the report reads)."""

    model_config = ConfigDict(extra="ignore")

    ts: str = Field(pattern=r"^\d+\.\d+$")
    user: str | None = None
    bot_id: str | None = None
    text: str = ""
    subtype: str | None = None
    reactions: list[Reaction] = Field(default_factory=list)
    files: list[ThreadFile] = Field(default_factory=list)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(float(self.ts), UTC)


def thread_messages(raw: list[Any]) -> tuple[list[ThreadMessage], int]:
    """Validated messages, and how many could not be read (skipped, never fatal)."""
    found: list[ThreadMessage] = []
    bad = 0
    for item in raw:
        try:
            found.append(ThreadMessage.model_validate(item))
        except ValidationError:
            bad += 1
    return found, bad


@dataclass
class Rated:
    """One analysis of the incident with its votes."""

    analysis: Analysis
    investigation: Investigation
    votes: list[Feedback] = field(default_factory=list)


@dataclass
class IncidentRecord:
    """Everything the store holds about one incident."""

    incident: Incident
    alarm: Alarm
    deliveries: list[AlarmEvent]
    analyses: list[Rated]
    resolutions: list[ResolutionNote]
    changes: list[dict[str, Any]]


def incident_record(store: Store, incident_id: int) -> IncidentRecord | None:
    incident = store.incidents.get(incident_id)
    if incident is None:
        return None
    with store.session() as session:
        deliveries = list(
            session.scalars(
                select(AlarmEvent)
                .where(AlarmEvent.incident_id == incident_id)
                .order_by(AlarmEvent.received_at, AlarmEvent.id)
            )
        )
        analyses = list(
            session.scalars(
                select(Analysis).where(Analysis.incident_id == incident_id).order_by(Analysis.id)
            )
        )
        ids = [a.id for a in analyses]
        votes = list(
            session.scalars(
                select(Feedback).where(Feedback.analysis_id.in_(ids)).order_by(Feedback.updated_at)
            )
        )
    rated = [
        Rated(
            a,
            Investigation.model_validate(a.investigation),
            [v for v in votes if v.analysis_id == a.id],
        )
        for a in analyses
    ]
    return IncidentRecord(
        incident=incident,
        alarm=Alarm.model_validate(incident.alarm),
        deliveries=deliveries,
        analyses=rated,
        resolutions=store.memory.resolutions(incident_id),
        changes=store.memory.changes(incident_id),
    )


def latest_in_channel(store: Store, channel: str) -> Incident | None:
    """The incident most recently opened with its thread in this channel."""
    with store.session() as session:
        return session.scalars(
            select(Incident).where(Incident.channel == channel).order_by(Incident.id.desc())
        ).first()

"""Incidents and the alarm deliveries behind them: store, group, resolve, reopen.

A delivery is stored and grouped in one transaction, before it is acknowledged. Its key
(SNS MessageId, event id) makes a repeat a no-op; an ALARM joins the service's incident
inside the grouping window under a row lock per service, so two processes grouping alarms
of one service open one incident; OK resolves; a flapping alarm reopens its incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.models import Alarm
from bot.store.db import Database, now, retried
from bot.store.tables import AlarmEvent, AnalysisJob, Incident, ServiceLock

Outcome = Literal["duplicate", "ignored", "opened", "grouped", "refired", "resolved"]


@dataclass(frozen=True)
class Delivery:
    """What storing one alarm delivery did, for the caller to act on after the commit."""

    outcome: Outcome
    incident: Incident | None = None
    job_id: int | None = None
    newcomer: bool = False  # an alarm name the incident had not seen before


class IncidentStore:
    """Incidents and their alarm deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def record_alarm(
        self, key: str, alarm: Alarm, service: str, window: timedelta, question: str | None = None
    ) -> Delivery:
        """Store one delivery and group it, in one transaction, before it is acknowledged.

        A repeated key is a no-op. An ALARM joins the service's open incident inside the
        grouping window; one that fires again after its incident resolved (a flapping
        alarm) reopens that incident instead of starting a thread of its own. OK resolves.
        """
        try:
            with self.db.session() as session:
                session.add(AlarmEvent(key=key, alarm_name=alarm.name, state=alarm.state.value))
                session.flush()
                return self._group(session, key, alarm, service, window, question)
        except IntegrityError:
            return Delivery("duplicate")

    def request_analysis(
        self, alarm: Alarm, service: str, window: timedelta, question: str | None
    ) -> Delivery:
        """An analysis someone asked for: the service's incident (joined or opened) and a job."""
        with self.db.session() as session:
            incident = self._locked_incident(session, service, window)
            if incident is None or incident.status != "open":
                incident = self._new_incident(session, alarm, service)
            job = AnalysisJob(incident_id=incident.id, question=question)
            session.add(job)
            session.flush()
            return Delivery("opened", incident, job.id)

    def _group(
        self,
        session: Session,
        key: str,
        alarm: Alarm,
        service: str,
        window: timedelta,
        question: str | None,
    ) -> Delivery:
        incident = self._locked_incident(session, service, window)
        event_row = session.scalars(select(AlarmEvent).where(AlarmEvent.key == key)).one()
        if alarm.state.value == "OK":
            if incident is None or incident.status != "open" or incident.alarm_name != alarm.name:
                return Delivery("ignored")
            event_row.incident_id = incident.id
            incident.status, incident.resolved_at = "resolved", now()
            return Delivery("resolved", incident)
        if alarm.state.value != "ALARM":
            return Delivery("ignored")
        if incident is not None:
            seen = session.scalars(
                select(AlarmEvent.id).where(
                    AlarmEvent.incident_id == incident.id, AlarmEvent.alarm_name == alarm.name
                )
            ).first()
            event_row.incident_id = incident.id
            if incident.status == "open":
                return Delivery("grouped", incident, newcomer=seen is None)
            incident.status, incident.resolved_at = "open", None
            incident.flaps += 1
            return Delivery("refired", incident)
        incident = self._new_incident(session, alarm, service)
        event_row.incident_id = incident.id
        job = AnalysisJob(incident_id=incident.id, question=question)
        session.add(job)
        session.flush()
        return Delivery("opened", incident, job.id)

    @staticmethod
    def _locked_incident(session: Session, service: str, window: timedelta) -> Incident | None:
        """The service's latest incident inside the window, read under the service's lock."""
        if session.get(ServiceLock, service) is None:
            try:
                with session.begin_nested():
                    session.add(ServiceLock(service=service))
            except IntegrityError:
                pass  # another process added it first; its lock is taken below
        session.execute(
            select(ServiceLock).where(ServiceLock.service == service).with_for_update()
        ).one()
        return session.scalars(
            select(Incident)
            .where(Incident.service == service)
            .where(
                or_(
                    Incident.status == "open",
                    Incident.resolved_at >= now() - window,
                )
            )
            .where(Incident.opened_at >= now() - window)
            .order_by(Incident.id.desc())
        ).first()

    @staticmethod
    def _new_incident(session: Session, alarm: Alarm, service: str) -> Incident:
        incident = Incident(
            service=service, alarm_name=alarm.name, alarm=alarm.model_dump(mode="json")
        )
        session.add(incident)
        session.flush()
        return incident

    def firing_alarms(self, incident_id: int) -> list[str]:
        """Names of the alarms grouped into an incident, in the order they arrived."""
        with self.db.session() as session:
            names = session.scalars(
                select(AlarmEvent.alarm_name)
                .where(AlarmEvent.incident_id == incident_id, AlarmEvent.state == "ALARM")
                .order_by(AlarmEvent.id)
            )
            return list(dict.fromkeys(names))

    def list_open(self) -> list[Incident]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Incident)
                    .where(Incident.status == "open")
                    .order_by(Incident.opened_at.desc())
                )
            )

    @retried
    def update(self, incident_id: int, **values: Any) -> None:
        with self.db.session() as session:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                for key, value in values.items():
                    setattr(incident, key, value)

    def get(self, incident_id: int) -> Incident | None:
        with self.db.session() as session:
            return session.get(Incident, incident_id)

    def by_thread(self, channel: str, thread_ts: str) -> Incident | None:
        with self.db.session() as session:
            return session.scalars(
                select(Incident).where(Incident.channel == channel, Incident.root_ts == thread_ts)
            ).first()

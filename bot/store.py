"""Persistence: incidents, the alarm deliveries behind them, analyses and feedback.

SQLAlchemy 2 over SQLite by default (a file in the data directory, WAL mode), or
any URL in `DATABASE_URL` (PostgreSQL for more than one process). Idempotency is
the database's job: unique keys on alarm deliveries, Slack event ids and one vote
per user per analysis, so a retry from any process is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from bot.models import Investigation


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(255), index=True)
    alarm_name: Mapped[str] = mapped_column(String(255))
    alarm: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    root_ts: Mapped[str | None] = mapped_column(String(32))
    progress_ts: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlarmEvent(Base):
    """One delivery of an alarm; the key (SNS MessageId, event id) makes repeats no-ops."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    alarm_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Analysis(Base):
    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    investigation: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[str] = mapped_column(Text, default="")
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("analysis_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    vote: Mapped[int] = mapped_column(Integer)  # +1 or -1
    wrong: Mapped[str | None] = mapped_column(Text)
    real_category: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class SlackEvent(Base):
    """Slack retries events up to three times; the event id is seen once."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


def database_url(url: str | None, data_dir: Path) -> str:
    if url:
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'llm-incident.db'}"


class Store:
    def __init__(self, url: str) -> None:
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url,
            pool_pre_ping=True,
            connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
        )
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- idempotency -------------------------------------------------------------
    def first_delivery(self, key: str, alarm_name: str, state: str) -> bool:
        """Record a delivery; False when this key was seen before (by any process)."""
        try:
            with self.session() as session:
                session.add(AlarmEvent(key=key, alarm_name=alarm_name, state=state))
        except IntegrityError:
            return False
        return True

    def first_slack_event(self, event_id: str) -> bool:
        try:
            with self.session() as session:
                session.add(SlackEvent(event_id=event_id))
        except IntegrityError:
            return False
        return True

    # -- incidents -----------------------------------------------------------------
    def open_incident(self, service: str, window: timedelta) -> Incident | None:
        """The open incident of a service opened within the grouping window, if any."""
        with self.session() as session:
            return session.scalars(
                select(Incident)
                .where(Incident.service == service, Incident.status == "open")
                .where(Incident.opened_at >= now() - window)
                .order_by(Incident.opened_at.desc())
            ).first()

    def open_incidents(self) -> list[Incident]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(Incident)
                    .where(Incident.status == "open")
                    .order_by(Incident.opened_at.desc())
                )
            )

    def create_incident(self, service: str, alarm_name: str, alarm: dict[str, Any]) -> Incident:
        with self.session() as session:
            incident = Incident(service=service, alarm_name=alarm_name, alarm=alarm)
            session.add(incident)
            session.flush()
            return incident

    def update_incident(self, incident_id: int, **values: Any) -> None:
        with self.session() as session:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                for key, value in values.items():
                    setattr(incident, key, value)

    def incident(self, incident_id: int) -> Incident | None:
        with self.session() as session:
            return session.get(Incident, incident_id)

    def incident_by_thread(self, channel: str, thread_ts: str) -> Incident | None:
        with self.session() as session:
            return session.scalars(
                select(Incident).where(Incident.channel == channel, Incident.root_ts == thread_ts)
            ).first()

    def link_delivery(self, key: str, incident_id: int) -> None:
        with self.session() as session:
            found = session.scalars(select(AlarmEvent).where(AlarmEvent.key == key)).first()
            if found is not None:
                found.incident_id = incident_id

    # -- analyses and feedback -------------------------------------------------------
    def add_analysis(
        self, incident_id: int, investigation: Investigation, evidence: str, seconds: float
    ) -> Analysis:
        top = investigation.top
        with self.session() as session:
            analysis = Analysis(
                incident_id=incident_id,
                source=investigation.source,
                category=top.category.value if top else None,
                confidence=top.confidence if top else 0.0,
                investigation=json.loads(investigation.model_dump_json()),
                evidence=evidence,
                prompt_version=investigation.prompt_version,
                input_tokens=investigation.usage.input_tokens,
                output_tokens=investigation.usage.output_tokens,
                cost_usd=investigation.usage.cost_usd,
                seconds=seconds,
            )
            session.add(analysis)
            session.flush()
            return analysis

    def set_analysis_message(self, analysis_id: int, channel: str, ts: str) -> None:
        with self.session() as session:
            analysis = session.get(Analysis, analysis_id)
            if analysis is not None:
                analysis.channel, analysis.message_ts = channel, ts

    def analysis(self, analysis_id: int) -> Analysis | None:
        with self.session() as session:
            return session.get(Analysis, analysis_id)

    def analysis_by_message(self, channel: str, ts: str) -> Analysis | None:
        with self.session() as session:
            return session.scalars(
                select(Analysis).where(Analysis.channel == channel, Analysis.message_ts == ts)
            ).first()

    def latest_analysis(self, incident_id: int) -> Analysis | None:
        with self.session() as session:
            return session.scalars(
                select(Analysis)
                .where(Analysis.incident_id == incident_id)
                .order_by(Analysis.id.desc())
            ).first()

    def vote(self, analysis_id: int, user_id: str, vote: int, **details: str | None) -> None:
        """One vote per user per analysis: a second vote replaces the first."""
        with self.session() as session:
            found = session.scalars(
                select(Feedback).where(
                    Feedback.analysis_id == analysis_id, Feedback.user_id == user_id
                )
            ).first()
            if found is None:
                found = Feedback(analysis_id=analysis_id, user_id=user_id, vote=vote)
                session.add(found)
            found.vote = vote
            found.updated_at = now()
            for key, value in details.items():
                if value is not None:
                    setattr(found, key, value)

    def tally(self, analysis_id: int) -> tuple[int, int]:
        with self.session() as session:
            votes = list(
                session.scalars(select(Feedback.vote).where(Feedback.analysis_id == analysis_id))
            )
        return sum(1 for v in votes if v > 0), sum(1 for v in votes if v < 0)

    def feedback_since(self, since: datetime) -> tuple[int, int]:
        with self.session() as session:
            votes = list(session.scalars(select(Feedback.vote).where(Feedback.updated_at >= since)))
        return sum(1 for v in votes if v > 0), sum(1 for v in votes if v < 0)

    def analyses_since(self, since: datetime) -> list[Analysis]:
        with self.session() as session:
            return list(session.scalars(select(Analysis).where(Analysis.created_at >= since)))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()

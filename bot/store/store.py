"""Persistence: incidents, the alarm deliveries behind them, analysis jobs, analyses,
feedback and the leases that keep scheduled work to one process.

SQLAlchemy 2 over SQLite by default (a file in the data directory, WAL mode), or
any URL in `DATABASE_URL` (PostgreSQL for more than one process). The schema is
Alembic's (`bot/migrations`, `llm-incident db upgrade`). Every rule that must hold
across processes is the database's: unique keys on alarm deliveries, Slack event
ids and one vote per user per analysis; a row lock per service so that two
processes grouping alarms of one service open one incident; conditional updates
that let exactly one process claim a job or a lease.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

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
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from bot.models import Alarm, Investigation

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRY_SECONDS = 20.0  # how long a call keeps trying while the database is away


def now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


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
    flaps: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ServiceLock(Base):
    """One row per service, locked while an alarm of it is grouped into an incident."""

    __tablename__ = "service_locks"

    service: Mapped[str] = mapped_column(String(255), primary_key=True)


class AlarmEvent(Base):
    """One delivery of an alarm; the key (SNS MessageId, event id) makes repeats no-ops."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    alarm_name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class AnalysisJob(Base):
    """Durable work: an analysis owed to an incident thread, claimed under a lease.

    A job whose lease ran out (its process died) is claimed again by the next
    sweep; the steps already done (root message, progress message, stored
    analysis) are not repeated.
    """

    __tablename__ = "analysis_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    question: Mapped[str | None] = mapped_column(Text)
    progress_ts: Mapped[str | None] = mapped_column(String(32))  # its progress message
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class Analysis(Base):
    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_jobs.id"), unique=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    investigation: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_creation_input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


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
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SlackEvent(Base):
    """Slack retries events up to three times; the event id is seen once."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class JobLease(Base):
    """Which process runs a scheduled job (the weekly digest, say) until when."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


Outcome = Literal["duplicate", "ignored", "opened", "grouped", "refired", "resolved"]


@dataclass(frozen=True)
class Delivery:
    """What storing one alarm delivery did, for the caller to act on after the commit."""

    outcome: Outcome
    incident: Incident | None = None
    job_id: int | None = None
    newcomer: bool = False  # an alarm name the incident had not seen before


def database_url(url: str | None, data_dir: Path) -> str:
    if url:
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'llm-incident.db'}"


def engine_for(url: str, wait_s: float = DB_RETRY_SECONDS) -> Any:
    """An engine with the settings every process uses (SQLite: WAL, serialized writers
    that wait up to `wait_s` for a lock; PostgreSQL: connections checked before use)."""
    sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"check_same_thread": False, "timeout": wait_s} if sqlite else {},
    )
    if sqlite:
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _retry_while_unreachable(fn: Callable[..., T]) -> Callable[..., T]:
    """A call waits out a database that is briefly away (restart, failover, a lock) for
    the store's `retry_s`; after that the error reaches the caller, who has not yet
    acknowledged what it was storing (SNS and SQS deliver it again)."""

    @functools.wraps(fn)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> T:
        retrying = Retrying(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_delay(self.retry_s),
            wait=wait_exponential(multiplier=0.1, max=2),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        return retrying(fn, self, *args, **kwargs)

    return wrapper


class Store:
    def __init__(self, url: str, retry_s: float = DB_RETRY_SECONDS) -> None:
        self.url = url
        self.retry_s = retry_s
        self.engine = engine_for(url, retry_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- idempotency -------------------------------------------------------------
    @_retry_while_unreachable
    def first_slack_event(self, event_id: str) -> bool:
        try:
            with self.session() as session:
                session.add(SlackEvent(event_id=event_id))
        except IntegrityError:
            return False
        return True

    # -- alarm deliveries ----------------------------------------------------------
    @_retry_while_unreachable
    def record_alarm(
        self, key: str, alarm: Alarm, service: str, window: timedelta, question: str | None = None
    ) -> Delivery:
        """Store one delivery and group it, in one transaction, before it is acknowledged.

        A repeated key is a no-op. An ALARM joins the service's open incident inside the
        grouping window; one that fires again after its incident resolved (a flapping
        alarm) reopens that incident instead of starting a thread of its own. OK resolves.
        """
        try:
            with self.session() as session:
                session.add(AlarmEvent(key=key, alarm_name=alarm.name, state=alarm.state.value))
                session.flush()
                return self._group(session, key, alarm, service, window, question)
        except IntegrityError:
            return Delivery("duplicate")

    def request_analysis(
        self, alarm: Alarm, service: str, window: timedelta, question: str | None
    ) -> Delivery:
        """An analysis someone asked for: the service's incident (joined or opened) and a job."""
        with self.session() as session:
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
        with self.session() as session:
            names = session.scalars(
                select(AlarmEvent.alarm_name)
                .where(AlarmEvent.incident_id == incident_id, AlarmEvent.state == "ALARM")
                .order_by(AlarmEvent.id)
            )
            return list(dict.fromkeys(names))

    # -- incidents -----------------------------------------------------------------
    def open_incidents(self) -> list[Incident]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(Incident)
                    .where(Incident.status == "open")
                    .order_by(Incident.opened_at.desc())
                )
            )

    @_retry_while_unreachable
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

    # -- analysis jobs -------------------------------------------------------------
    @_retry_while_unreachable
    def claim_job(self, job_id: int, owner: str, lease: timedelta) -> AnalysisJob | None:
        """Take a job that is queued, or whose owner's lease ran out; None if another has it."""
        with self.session() as session:
            claimed = session.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id)
                .where(
                    or_(
                        AnalysisJob.state == "queued",
                        (AnalysisJob.state == "running") & (AnalysisJob.lease_until < now()),
                        (AnalysisJob.state == "running") & (AnalysisJob.owner == owner),
                    )
                )
                .values(
                    state="running",
                    owner=owner,
                    lease_until=now() + lease,
                    attempts=AnalysisJob.attempts + 1,
                )
            ).rowcount
            return session.get(AnalysisJob, job_id) if claimed else None

    @_retry_while_unreachable
    def renew_job(self, job_id: int, owner: str, lease: timedelta) -> bool:
        with self.session() as session:
            return bool(
                session.execute(
                    update(AnalysisJob)
                    .where(AnalysisJob.id == job_id, AnalysisJob.owner == owner)
                    .where(AnalysisJob.state == "running")
                    .values(lease_until=now() + lease)
                ).rowcount
            )

    @_retry_while_unreachable
    def finish_job(self, job_id: int, state: str = "done", error: str | None = None) -> None:
        with self.session() as session:
            session.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id)
                .values(state=state, error=error, lease_until=None)
            )

    @_retry_while_unreachable
    def set_job_progress(self, job_id: int, ts: str) -> None:
        with self.session() as session:
            session.execute(
                update(AnalysisJob).where(AnalysisJob.id == job_id).values(progress_ts=ts)
            )

    @_retry_while_unreachable
    def requeue_job(self, job_id: int, error: str) -> None:
        """Give a failed attempt back to the queue for the next sweep."""
        with self.session() as session:
            session.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id)
                .values(state="queued", error=error, owner=None, lease_until=None)
            )

    def job(self, job_id: int) -> AnalysisJob | None:
        with self.session() as session:
            return session.get(AnalysisJob, job_id)

    def stale_jobs(self, queued_for: timedelta) -> list[int]:
        """Jobs a dead process left: running past their lease, or queued and never taken."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(AnalysisJob.id)
                    .where(
                        or_(
                            (AnalysisJob.state == "running") & (AnalysisJob.lease_until < now()),
                            (AnalysisJob.state == "queued")
                            & (AnalysisJob.created_at < now() - queued_for),
                        )
                    )
                    .order_by(AnalysisJob.id)
                )
            )

    # -- leases for scheduled jobs -------------------------------------------------
    @_retry_while_unreachable
    def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """True for exactly one process at a time: the holder, or whoever finds it expired."""
        with self.session() as session:
            taken = session.execute(
                update(JobLease)
                .where(JobLease.name == name)
                .where(or_(JobLease.owner == owner, JobLease.expires_at < now()))
                .values(owner=owner, expires_at=now() + ttl)
            ).rowcount
            if taken:
                return True
        try:
            with self.session() as session:
                session.add(JobLease(name=name, owner=owner, expires_at=now() + ttl))
        except IntegrityError:
            return False  # the lease exists and another process holds it
        return True

    # -- analyses and feedback -------------------------------------------------------
    @_retry_while_unreachable
    def add_analysis(
        self,
        incident_id: int,
        investigation: Investigation,
        evidence: str,
        seconds: float,
        job_id: int | None = None,
    ) -> Analysis:
        top = investigation.top
        usage = investigation.usage
        with self.session() as session:
            analysis = Analysis(
                incident_id=incident_id,
                job_id=job_id,
                source=investigation.source,
                category=top.category.value if top else None,
                confidence=top.confidence if top else 0.0,
                investigation=json.loads(investigation.model_dump_json()),
                evidence=evidence,
                model=investigation.model,
                prompt_version=investigation.prompt_version,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cost_usd=usage.cost_usd,
                seconds=seconds,
            )
            session.add(analysis)
            session.flush()
            return analysis

    def analysis_for_job(self, job_id: int) -> Analysis | None:
        with self.session() as session:
            return session.scalars(select(Analysis).where(Analysis.job_id == job_id)).first()

    @_retry_while_unreachable
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

    @_retry_while_unreachable
    def vote(self, analysis_id: int, user_id: str, vote: int, **details: str | None) -> None:
        """One vote per user per analysis: a second vote replaces the first."""
        try:
            with self.session() as session:
                self._vote(session, analysis_id, user_id, vote, details)
        except IntegrityError:  # a double click raced us to the insert; now it is an update
            with self.session() as session:
                self._vote(session, analysis_id, user_id, vote, details)

    @staticmethod
    def _vote(
        session: Session, analysis_id: int, user_id: str, vote: int, details: dict[str, Any]
    ) -> None:
        found = session.scalars(
            select(Feedback).where(Feedback.analysis_id == analysis_id, Feedback.user_id == user_id)
        ).first()
        if found is None:
            found = Feedback(analysis_id=analysis_id, user_id=user_id, vote=vote)
            session.add(found)
        found.vote = vote
        found.updated_at = now()
        for key, value in details.items():
            if value is not None:
                setattr(found, key, value)
        session.flush()

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


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that `begin` below decides.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives a crash of the process (what SIGKILL tests); only a
    # power loss can undo the last commits, and SNS or SQS redeliver what was not acked.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Writers queue up at BEGIN instead of failing when a read upgrades to a write."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

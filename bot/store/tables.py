"""The tables (SQLAlchemy 2 declarative models); their history is `bot/store/migrations`.

Every rule that must hold across processes is the database's: unique keys on alarm
deliveries, Slack event ids and one vote per user per analysis; a row per service to lock
while grouping; leases and job states changed only by conditional updates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.db import UtcDateTime, now


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


class AnalysisFingerprint(Base):
    """What an analysis saw (`bot.models.Fingerprint`), so that a later incident of the same
    service can be recognised; `changes` keeps the changes near the onset for the report."""

    __tablename__ = "analysis_fingerprints"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    service: Mapped[str] = mapped_column(String(255), index=True)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class ResolutionNote(Base):
    """What fixed an incident, as someone wrote it in its thread."""

    __tablename__ = "resolution_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class SlackEvent(Base):
    """Slack retries events up to three times; the event is handled once, marked `done`
    after its handler finished. A handler that crashed leaves it `handling` until its
    lease runs out; the next retry then handles it again (once)."""

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    state: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class SlackPost(Base):
    """One message the bot posts, by the key that makes posting it idempotent: a post
    whose outcome is unknown (Slack answered 5xx, the connection dropped) is looked for in
    the channel before it is sent again, and a post already made is never made twice."""

    __tablename__ = "slack_posts"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(128))  # as asked: an id or a #name
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlarmSource(Base):
    """Who sends the bot alarms (an SNS topic, else an account), how many of its
    deliveries were taken or refused, and why the last refusal: what an operator reads
    to set the allow-list. One row per sender, so a stranger's flood adds counts, not rows."""

    __tablename__ = "alarm_sources"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(12), default="")
    topic_arn: Mapped[str] = mapped_column(String(512), default="")
    taken: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    last_alarm: Mapped[str] = mapped_column(String(255), default="")
    last_reason: Mapped[str | None] = mapped_column(Text)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class JobLease(Base):
    """Which process runs a scheduled job (the weekly digest, say) until when."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)

"""Durable work: analysis jobs claimed under leases, and leases for scheduled jobs.

A job is claimed by a conditional update (queued, or its owner's lease ran out), renewed
by its worker's heartbeat, and found by the sweep when its process died; the weekly
digest and the sweep itself run in whichever process holds their lease.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database, now, retried
from bot.store.tables import AnalysisJob, JobLease


class JobStore:
    """Analysis jobs: claim, renew, finish, requeue, find the stale ones."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def claim(self, job_id: int, owner: str, lease: timedelta) -> AnalysisJob | None:
        """Take a job that is queued, or whose owner's lease ran out; None if another has it."""
        with self.db.session() as session:
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

    @retried
    def renew(self, job_id: int, owner: str, lease: timedelta) -> bool:
        with self.db.session() as session:
            return bool(
                session.execute(
                    update(AnalysisJob)
                    .where(AnalysisJob.id == job_id, AnalysisJob.owner == owner)
                    .where(AnalysisJob.state == "running")
                    .values(lease_until=now() + lease)
                ).rowcount
            )

    @retried
    def finish(self, job_id: int, state: str = "done", error: str | None = None) -> None:
        with self.db.session() as session:
            session.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id)
                .values(state=state, error=error, lease_until=None)
            )

    @retried
    def set_progress(self, job_id: int, ts: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(AnalysisJob).where(AnalysisJob.id == job_id).values(progress_ts=ts)
            )

    @retried
    def requeue(self, job_id: int, error: str) -> None:
        """Give a failed attempt back to the queue for the next sweep."""
        with self.db.session() as session:
            session.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id)
                .values(state="queued", error=error, owner=None, lease_until=None)
            )

    def get(self, job_id: int) -> AnalysisJob | None:
        with self.db.session() as session:
            return session.get(AnalysisJob, job_id)

    def stale(self, queued_for: timedelta) -> list[int]:
        """Jobs a dead process left: running past their lease, or queued and never taken."""
        with self.db.session() as session:
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


class LeaseStore:
    """Named leases: at most one process runs a scheduled job at a time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def acquire(self, name: str, owner: str, ttl: timedelta) -> bool:
        """True for exactly one process at a time: the holder, or whoever finds it expired."""
        with self.db.session() as session:
            taken = session.execute(
                update(JobLease)
                .where(JobLease.name == name)
                .where(or_(JobLease.owner == owner, JobLease.expires_at < now()))
                .values(owner=owner, expires_at=now() + ttl)
            ).rowcount
            if taken:
                return True
        try:
            with self.db.session() as session:
                session.add(JobLease(name=name, owner=owner, expires_at=now() + ttl))
        except IntegrityError:
            return False  # the lease exists and another process holds it
        return True

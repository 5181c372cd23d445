"""Feedback: one vote per user per analysis (a second replaces the first), with what the
👎 modal said was wrong; and the Slack events handled or being handled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import Database, now, retried
from bot.store.tables import Feedback, SlackEvent


class FeedbackStore:
    """Votes on analyses."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def vote(self, analysis_id: int, user_id: str, vote: int, **details: str | None) -> None:
        """One vote per user per analysis: a second vote replaces the first."""
        try:
            with self.db.session() as session:
                self._vote(session, analysis_id, user_id, vote, details)
        except IntegrityError:  # a double click raced us to the insert; now it is an update
            with self.db.session() as session:
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
        with self.db.session() as session:
            votes = list(
                session.scalars(select(Feedback.vote).where(Feedback.analysis_id == analysis_id))
            )
        return sum(1 for v in votes if v > 0), sum(1 for v in votes if v < 0)

    def since(self, since: datetime) -> tuple[int, int]:
        with self.db.session() as session:
            votes = list(session.scalars(select(Feedback.vote).where(Feedback.updated_at >= since)))
        return sum(1 for v in votes if v > 0), sum(1 for v in votes if v < 0)


class SlackEventStore:
    """Slack retries an event it thinks went unanswered (up to three times): each event
    is handled once, and is marked done only after its handler finished. A handler that
    crashed (or whose process died) leaves a lease that runs out; a retry arriving after
    that handles the event again, once."""

    MAX_ATTEMPTS = 2

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def claim(self, event_id: str, owner: str, lease: timedelta) -> bool:
        """True when this process is to handle the event now."""
        try:
            with self.db.session() as session:
                session.add(
                    SlackEvent(
                        event_id=event_id,
                        state="handling",
                        owner=owner,
                        lease_until=now() + lease,
                        attempts=1,
                    )
                )
            return True
        except IntegrityError:
            pass
        with self.db.session() as session:
            return bool(
                session.execute(
                    update(SlackEvent)
                    .where(SlackEvent.event_id == event_id)
                    .where(SlackEvent.state == "handling")
                    .where(SlackEvent.attempts < self.MAX_ATTEMPTS)
                    .where(or_(SlackEvent.lease_until.is_(None), SlackEvent.lease_until < now()))
                    .values(
                        owner=owner, lease_until=now() + lease, attempts=SlackEvent.attempts + 1
                    )
                ).rowcount
            )

    @retried
    def done(self, event_id: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(SlackEvent)
                .where(SlackEvent.event_id == event_id)
                .values(state="done", lease_until=None)
            )

    @retried
    def release(self, event_id: str) -> None:
        """The handler failed: its lease ends now, so Slack's next retry handles it."""
        with self.db.session() as session:
            session.execute(
                update(SlackEvent)
                .where(SlackEvent.event_id == event_id, SlackEvent.state == "handling")
                .values(lease_until=now())
            )

    def state(self, event_id: str) -> str | None:
        with self.db.session() as session:
            found = session.get(SlackEvent, event_id)
            return found.state if found else None

"""Feedback: one vote per user per analysis (a second replaces the first), with what the
👎 modal said was wrong; and the Slack event ids already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
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
    """Slack retries events up to three times: each event id is handled once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def first(self, event_id: str) -> bool:
        try:
            with self.db.session() as session:
                session.add(SlackEvent(event_id=event_id))
        except IntegrityError:
            return False
        return True

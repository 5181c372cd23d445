"""Persistence: what must survive a restart and hold across replicas.

Owns the tables (`tables`), the database and its retry (`db`), one repository per
aggregate (`incidents`, `jobs`, `analyses`, `feedback` with the Slack events, `posts`:
Slack messages by key, `sources`: who sends alarms, `memory`: fingerprints of past
analyses and how their incidents ended), the Alembic migrations and the
schema check (`schema`). A leaf: it imports only `bot.models` and `bot.config`; the flow,
Slack, the server and `bot.observe` build on it.

`Store` is what the rest of the bot holds: one database, and a repository for each
aggregate (`store.incidents.record_alarm(...)`, `store.jobs.claim(...)`, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from bot.store.analyses import AnalysisStore
from bot.store.db import DB_RETRY_SECONDS, Database, database_url, redacted_url
from bot.store.feedback import FeedbackStore, SlackEventStore
from bot.store.incidents import Delivery, IncidentStore, Outcome
from bot.store.jobs import JobStore, LeaseStore
from bot.store.memory import MemoryStore
from bot.store.posts import PostStore
from bot.store.sources import SourceStore
from bot.store.tables import Analysis, AnalysisJob, Feedback, Incident

__all__ = [
    "Analysis",
    "AnalysisJob",
    "Delivery",
    "Feedback",
    "Incident",
    "Outcome",
    "Store",
    "database_url",
    "redacted_url",
]


class Store:
    """One database and the repositories over it."""

    def __init__(self, url: str, retry_s: float = DB_RETRY_SECONDS) -> None:
        self.db = Database(url, retry_s)
        self.incidents = IncidentStore(self.db)
        self.jobs = JobStore(self.db)
        self.leases = LeaseStore(self.db)
        self.analyses = AnalysisStore(self.db)
        self.feedback = FeedbackStore(self.db)
        self.slack_events = SlackEventStore(self.db)
        self.slack_posts = PostStore(self.db)
        self.sources = SourceStore(self.db)
        self.memory = MemoryStore(self.db)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def engine(self) -> Any:
        return self.db.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction for reads the repositories do not offer (stats, exports)."""
        with self.db.session() as session:
            yield session

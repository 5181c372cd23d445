"""Slack posts by key: what makes each message of the bot appear exactly once.

`begin` records that a post is about to be sent (and how often it was tried), `posted`
its channel id and ts once Slack answered; `find` tells a retry whether the post was
already made, or was tried with an outcome Slack never told (then the poster looks for
it in the channel before sending it again).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Database, now, retried
from bot.store.tables import SlackPost


class PostStore:
    """The ledger of keyed Slack posts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, key: str) -> SlackPost | None:
        with self.db.session() as session:
            return session.get(SlackPost, key)

    @retried
    def begin(self, key: str, channel: str, thread_ts: str | None) -> SlackPost:
        """The post's row, one more attempt counted (created on the first)."""
        try:
            with self.db.session() as session:
                session.add(SlackPost(key=key, channel=channel, thread_ts=thread_ts, attempts=1))
        except IntegrityError:
            with self.db.session() as session:
                session.execute(
                    update(SlackPost)
                    .where(SlackPost.key == key)
                    .values(attempts=SlackPost.attempts + 1)
                )
        found = self.find(key)
        assert found is not None  # noqa: S101 - inserted or updated just above
        return found

    @retried
    def posted(self, key: str, channel_id: str, ts: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(SlackPost)
                .where(SlackPost.key == key)
                .values(channel_id=channel_id, ts=ts, posted_at=now())
            )

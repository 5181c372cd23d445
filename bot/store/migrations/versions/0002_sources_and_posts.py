"""Alarm sources, Slack posts by key, and Slack events handled under a lease.

`alarm_sources` counts each sender's deliveries taken and refused; `slack_posts` makes
each message of the bot idempotent; `slack_events` gains a state, an owner, a lease and
an attempt count, so an event is marked done after it was handled (events recorded
before this revision were handled: they are `done`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_sources",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("delivery", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=12), nullable=False),
        sa.Column("topic_arn", sa.String(length=512), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("last_alarm", sa.String(length=255), nullable=False),
        sa.Column("last_reason", sa.Text(), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "slack_posts",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), server_default="done", nullable=False)
        )
        batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner")
        batch_op.drop_column("state")
    op.drop_table("slack_posts")
    op.drop_table("alarm_sources")

"""Memory of past incidents: a fingerprint per analysis, and resolution notes per incident.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_fingerprints",
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("analysis_id"),
    )
    with op.batch_alter_table("analysis_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analysis_fingerprints_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_analysis_fingerprints_service"), ["service"], unique=False
        )
    op.create_table(
        "resolution_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resolution_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resolution_notes_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resolution_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolution_notes_incident_id"))
    op.drop_table("resolution_notes")
    with op.batch_alter_table("analysis_fingerprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_fingerprints_service"))
        batch_op.drop_index(batch_op.f("ix_analysis_fingerprints_incident_id"))
    op.drop_table("analysis_fingerprints")

"""Alembic environment: run by `llm-incident db upgrade` (bot.store.schema), never by hand."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.store.tables import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `llm-incident db upgrade`")
run(connection)

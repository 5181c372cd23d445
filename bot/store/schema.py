"""The database schema's version: Alembic migrations applied by `llm-incident db upgrade`
and checked when the bot starts, so that a process never runs on a schema it does not
know (a replica started before the upgrade stops with one line saying what to run).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError
from bot.store.db import engine_for, redacted_url


class SchemaError(ConfigError):
    """The database is unreachable or not at the schema this code needs."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "bot.store:migrations")
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current(url: str) -> str | None:
    """The revision the database is at (None: no schema yet)."""
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise SchemaError(
            f"database {redacted_url(url)} is unreachable: {_first_line(exc)}"
        ) from exc
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    engine = engine_for(url)
    config = _config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise SchemaError(f"database {redacted_url(url)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def require_current(url: str) -> None:
    """Stop with one clear line unless the database is at the head revision."""
    found, wanted = current(url), head()
    if found != wanted:
        at = f"at revision {found}" if found else "empty"
        raise SchemaError(
            f"database {redacted_url(url)} is {at}, this version needs {wanted}: "
            "run `llm-incident db upgrade`"
        )


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__

"""The database itself: engine settings per backend, sessions, and the retry that waits out
a database that is briefly away.

SQLite by default (a file in the data directory, WAL mode, writers queued at BEGIN), or any
URL in `DATABASE_URL` (PostgreSQL for more than one process).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_RETRY_SECONDS = 20.0  # how long a call keeps trying while the database is away


def now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def database_url(url: str | None, data_dir: Path) -> str:
    if url:
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'llm-incident.db'}"


def engine_for(url: str, wait_s: float = DB_RETRY_SECONDS) -> Any:
    """An engine with the settings every process uses (SQLite: WAL, serialized writers
    that wait up to `wait_s` for a lock; PostgreSQL: connections checked before use)."""
    sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"check_same_thread": False, "timeout": wait_s} if sqlite else {},
    )
    if sqlite:
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class Database:
    """One engine and its sessions; every repository of the store shares one."""

    def __init__(self, url: str, retry_s: float = DB_RETRY_SECONDS) -> None:
        self.url = url
        self.retry_s = retry_s
        self.engine = engine_for(url, retry_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session


class _HasDatabase(Protocol):
    db: Database


def retried(fn: Callable[..., T]) -> Callable[..., T]:
    """A write waits out a database that is briefly away (restart, failover, a lock) for
    the database's `retry_s`; after that the error reaches the caller, who has not yet
    acknowledged what it was storing (SNS and SQS deliver it again)."""

    @functools.wraps(fn)
    def wrapper(self: _HasDatabase, *args: Any, **kwargs: Any) -> T:
        retrying = Retrying(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_delay(self.db.retry_s),
            wait=wait_exponential(multiplier=0.1, max=2),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        return retrying(fn, self, *args, **kwargs)

    return wrapper


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that `begin` below decides.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL survives a crash of the process (what SIGKILL tests); only a
    # power loss can undo the last commits, and SNS or SQS redeliver what was not acked.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Writers queue up at BEGIN instead of failing when a read upgrades to a write."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def redacted_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

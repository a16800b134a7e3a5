"""Engines and sessions for the embedded SQLite default and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from forecast.errors import StorageError
from forecast.settings import DEFAULT_SQLITE_PATH, get_settings, normalise_database_url

__all__ = ["make_engine", "session_scope", "is_sqlite", "is_postgres"]

logger = logging.getLogger(__name__)


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's debug lines of result rows (`Row (...)`): a row may hold a password hash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoResultRows())


def is_sqlite(engine: Engine) -> bool:
    """True when `engine` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def is_postgres(engine: Engine) -> bool:
    """True when `engine` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_folder(database: str) -> None:
    """Check the SQLite file's folder exists; only the default file's folder (`var/`) is created.

    A folder given in a URL is never created: a typo would otherwise start an empty database there.

    Raises:
        StorageError: the folder of a SQLite file other than the default does not exist.
    """
    folder = Path(database).parent
    if folder.is_dir():
        return
    if Path(database) == DEFAULT_SQLITE_PATH:
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise StorageError(f"the folder {folder} of the SQLite database {database} does not exist; "
                       f"create it (mkdir -p {folder}) or fix DEMAND_DATABASE_URL")


def make_engine(url: str | None = None, *, echo: bool | None = None) -> Engine:
    """Create an engine for `url` (default: the configured `DEMAND_DATABASE_URL`).

    SQLite files get WAL mode and foreign keys on (the default file `var/demand.db` also its folder);
    PostgreSQL URLs are pointed at psycopg 3. Bound parameters are never logged nor put in error
    messages, and result rows are never logged, whatever the log levels: they may hold password hashes.

    Raises:
        StorageError: the folder of a SQLite file (other than the default) does not exist.
    """
    settings = get_settings()
    url = normalise_database_url(url or settings.database_url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": settings.sql_echo if echo is None else echo, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
            _sqlite_folder(parsed.database)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_engine(url, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    For entry points (commands, jobs, pages); repository functions never commit.
    """
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

The caller owns the transaction: services only flush; a CLI command or a GraphQL operation opens
`session_scope()` and its end commits, or rolls back on an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hub.config import get_settings

__all__ = ["make_engine", "make_sessionmaker", "session_scope"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while ingestion writes; NORMAL sync is durable at each checkpoint.
    # Big pages suit the hub's wide JSON rows: fewer B-tree pages per insert (only applies to new files).
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-262144")
    # Checkpoint every ~40 MB of WAL rather than 4 MB: bulk ingestion fsyncs far less often.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for `url` (default `HUB_DATABASE_URL`) with the hub's connection settings."""
    url = url or get_settings().database_url
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back if anything raised."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session

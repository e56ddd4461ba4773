"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

The caller owns the transaction: services only flush; a CLI command (e.g. `ingest_file`, one commit
per batch) or a GraphQL operation (the `UnitOfWork` extension) commits or rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.config import get_settings
from hub.errors import BusyError

__all__ = [
    "SQLITE_BUSY_MS",
    "bounded_write",
    "bulk_session",
    "json_array_contains",
    "make_engine",
    "settle_after_bulk",
]

SQLITE_BUSY_MS = 10_000
# PostgreSQL's codes for a wait that ran out: lock_timeout, a deadlock broken by the server.
_LOCK_WAIT_CODES = {"55P03", "40P01"}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while ingestion writes. With NORMAL sync a crash never corrupts the file;
    # a power cut may lose the last commits, which re-running an ingest restores.
    # Big pages suit the hub's wide JSON rows: fewer B-tree pages per insert (only applies to new files).
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA cache_size=-262144")
    # Checkpoint every 10,000 pages of WAL (160 MB at 16 KiB pages) rather than 1,000: bulk
    # ingestion fsyncs far less often.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for `url` (default `HUB_DATABASE_URL`) with the hub's connection settings."""
    url = url or get_settings().database_url
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    # A failed statement's message leaves out its values: it is logged, and the values are where the
    # ID numbers, phones and names are.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


@contextmanager
def bulk_session(engine: Engine) -> Iterator[Session]:
    """A session for a bulk load; on SQLite, one that does not check foreign keys row by row.

    The bulk writers (hub.store.bulk) take every reference from a row they inserted or read in the same
    transaction, and rows are never deleted, so SQLite's checks of each inserted row's parents find
    nothing; they cost about a tenth of ingestion's writing (1.5 s of 4.3 s for the record versions
    of the 100k-person city). PostgreSQL keeps checking, and every test runs there too. The caller
    commits; the setting is put back for the next user of the pooled connection.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # outside a transaction, where SQLite takes it
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                yield session
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def settle_after_bulk(engine: Engine, tables: tuple[str, ...]) -> bool:
    """After a bulk rewrite of `tables` (a batch resolution): on PostgreSQL, vacuum and analyze them now.

    A batch run closes and adds a million rows; until autovacuum gets round to them the planner works
    from stale statistics, index-only scans visit the heap, and the API's first minutes compete with
    the vacuum. Settling them at once makes the state after `hub resolve` the steady one. SQLite keeps
    no such statistics unless asked, and nothing is done there. Returns whether anything was done.
    """
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")
    return True


def json_array_contains(session: Session, column: Any, value: str) -> TextClause:
    """A condition: the JSON array in `column` holds `value` (JSONB containment on PostgreSQL, a
    json_each lookup on SQLite)."""
    where = f"{column.table.name}.{column.key}"
    if session.get_bind().dialect.name == "postgresql":
        clause = text(f"{where} @> CAST(:contained AS jsonb)")
        return clause.bindparams(contained=orjson.dumps([value]).decode())
    clause = text(f"EXISTS (SELECT 1 FROM json_each({where}) WHERE value = :contained)")
    return clause.bindparams(contained=value)


@contextmanager
def bounded_write(engine: Engine, lock_wait: float) -> Iterator[Session]:
    """A session for one write that waits at most `lock_wait` seconds for locks held by others.

    Committed when the block ends, rolled back when it raises. A lock wait that runs out (PostgreSQL's
    `lock_timeout`, a deadlock the server broke, SQLite's busy timeout) rolls back and raises
    `BusyError`: nothing changed and a retry will likely succeed. The caller never waits without end.
    """
    millis = max(1, int(lock_wait * 1000))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # per connection, so it is put back below for the next user of the pooled connection
            connection.exec_driver_sql(f"PRAGMA busy_timeout={millis}")
            connection.commit()
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                if engine.dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL lock_timeout = {millis}"))
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except OperationalError as exc:
            if not _lock_wait_ran_out(exc):
                raise
            raise BusyError(
                f"another edit held what this one needs for more than {lock_wait:g} s; nothing changed,"
                " try again in a moment",
                retry_after=1.0,
            ) from None
        finally:
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
                connection.commit()


def _lock_wait_ran_out(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    if code is not None:
        return code in _LOCK_WAIT_CODES
    return "database is locked" in str(exc.orig) or "database table is locked" in str(exc.orig)

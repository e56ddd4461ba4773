"""The few helpers for SQL below the ORM, where ingestion, resolution and the API's loaders go for speed.

Driver-level statements differ by database in three ways, each handled here once: the parameter mark
(`?` for SQLite, `%s` for psycopg), how JSON columns come back (text from SQLite, parsed from
PostgreSQL's JSONB), and temporary tables and cursors (SQLite can key a table without a row id;
PostgreSQL can stream rows through a server-side cursor).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

__all__ = [
    "driver_cursor",
    "is_sqlite",
    "json_object",
    "json_value",
    "placeholder",
    "raw_cursor",
    "stored_time",
    "temporary_table",
]


def is_sqlite(bind: Connection | Engine) -> bool:
    return bind.dialect.name == "sqlite"


def placeholder(connection: Connection | Engine) -> str:
    """The parameter mark of the connection's driver in `exec_driver_sql` and driver cursors."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def json_value(value: Any) -> Any:
    """A JSON column's value as Python (PostgreSQL hands JSONB over parsed, SQLite as text); None stays."""
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object column's value as a dict; {} when the column is null."""
    loaded = json_value(value)
    return loaded if isinstance(loaded, dict) else {}


def stored_time(bind: Connection | Engine, moment: datetime) -> Any:
    """`moment` as the database stores it (SQLite: the text SQLAlchemy writes and reads back)."""
    if is_sqlite(bind):
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


@contextmanager
def temporary_table(
    connection: Connection, name: str, columns: str, *, keyed: bool = False
) -> Iterator[None]:
    """A temporary table for the length of the block (this connection only), dropped after it.

    `keyed`: on SQLite the table is its primary key's B-tree (WITHOUT ROWID), not a row table plus an
    index of the key, so filling it writes one tree instead of two.
    """
    suffix = " WITHOUT ROWID" if keyed and is_sqlite(connection) else ""
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({columns}){suffix}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"DROP TABLE {name}")


def raw_cursor(connection: Connection) -> Any:
    """The driver's own cursor, which the caller closes: `driver_cursor` without a context manager's
    generator, for the few statements of every request."""
    driver: Any = connection.connection.driver_connection
    return driver.cursor()


@contextmanager
def driver_cursor(connection: Connection, *, stream: str | None = None) -> Iterator[Any]:
    """The driver's own cursor, for reads where SQLAlchemy's per-row result objects cost more than the
    query. `stream` names a server-side cursor on PostgreSQL, so that a large result comes batch by
    batch (`fetchmany`) instead of all at once into the client's memory."""
    if stream and not is_sqlite(connection):
        driver: Any = connection.connection.driver_connection
        cursor = driver.cursor(name=stream)
    else:
        cursor = raw_cursor(connection)
    try:
        yield cursor
    finally:
        cursor.close()

"""Fast bulk writes for ingestion and resolution, below the ORM on purpose.

The ORM's bulk paths spend most of their time per row on type processing; here each batch is one
`executemany` (SQLite) or one `COPY` (PostgreSQL) of plain tuples whose values are already in the
database's own form (timestamps as SQLite text or aware datetimes, JSON as text). Reads still go
through the typed models.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import Connection

from hub.store.sql import is_sqlite, placeholder, stored_time

__all__ = ["ROWS_PER_STATEMENT", "BulkWriter"]

# Rows per SQLite INSERT statement. `executemany` steps once per row, and the driver releases and takes
# back the GIL around each step: with ingestion's reading thread running Python, the writer waited for
# the GIL at most of those (2 s of the 3.7 s it took to insert the field-notes city's 280,680 records).
# Several rows per statement step once. A full statement's text and last values stay in the driver's
# statement cache, so every insert uses the one size and sends what is left over row by row.
ROWS_PER_STATEMENT = 500


class BulkWriter:
    """Writes rows of tuples to tables on one connection, in that connection's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sqlite = is_sqlite(connection)
        self.mark = placeholder(connection)
        self._sql: dict[tuple[Any, ...], str] = {}
        self._variable_limit: int | None = None

    def timestamp(self, moment: datetime) -> Any:
        """`moment` as the database stores it (SQLite: the text SQLAlchemy writes and reads back)."""
        return stored_time(self.connection, moment)

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        utf8: Collection[str] = (),
    ) -> None:
        """Insert `rows`. The columns named in `utf8` are text columns given as UTF-8 bytes, stored as
        text: SQLite takes the bytes as they are, PostgreSQL is given them decoded."""
        if not rows:
            return
        if not self.sqlite:
            if utf8:
                rows = _decoded(rows, [i for i, column in enumerate(columns) if column in utf8])
            self._copy(table, columns, rows)
            return
        per = self._rows_per_statement(len(columns))
        whole = len(rows) - len(rows) % per
        if whole:
            sql = self._insert_sql(table, columns, utf8, per)
            for start in range(0, whole, per):
                self.connection.exec_driver_sql(sql, tuple(chain.from_iterable(rows[start : start + per])))
        if whole < len(rows):
            self.connection.exec_driver_sql(self._insert_sql(table, columns, utf8, 1), list(rows[whole:]))

    def _rows_per_statement(self, width: int) -> int:
        """How many rows of `width` values one SQLite INSERT takes: `ROWS_PER_STATEMENT`, fewer where the
        library allows fewer parameters than that (999 before SQLite 3.32)."""
        if self._variable_limit is None:
            dbapi: Any = self.connection.connection.dbapi_connection
            self._variable_limit = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return max(1, min(ROWS_PER_STATEMENT, self._variable_limit // width))

    def _insert_sql(self, table: str, columns: Sequence[str], utf8: Collection[str], rows: int) -> str:
        signature = ("insert", table, tuple(columns), *sorted(utf8), rows)
        sql = self._sql.get(signature)
        if sql is None:
            marks = ", ".join(f"CAST({self.mark} AS TEXT)" if c in utf8 else self.mark for c in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([f"({marks})"] * rows)
            self._sql[signature] = sql
        return sql

    def insert_returning_ids(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        """Insert `rows` and return their new integer primary keys, in the order of `rows`."""
        if not rows:
            return []
        if self.sqlite:
            # Within our write transaction no one else inserts, and an INTEGER PRIMARY KEY takes max + 1,
            # so the new keys are the consecutive ones ending at the last inserted row id.
            self.insert(table, columns, rows)
            last = self.connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
            return list(range(last - len(rows) + 1, last + 1))
        # PostgreSQL: take the keys from the table's sequence first, then COPY the rows with them.
        ids: list[int] = [
            row[0]
            for row in self.connection.exec_driver_sql(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                (len(rows),),
            )
        ]
        self._copy(table, ("id", *columns), [(key, *row) for key, row in zip(ids, rows, strict=True)])
        return ids

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        dbapi: Any = self.connection.connection.dbapi_connection
        with dbapi.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def lookup(
        self, table: str, columns: Sequence[str], where: dict[str, Any], key: str, values: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """Rows of `table` whose `key` is one of `values` and whose `where` columns equal the given values.

        SQLite gets `key IN (...)` in chunks under its parameter limit. PostgreSQL gets a join with the
        unnested array, which keeps to the unique index even when the statistics are stale in the middle
        of a bulk load (with `IN` it then filtered every row of the source instead).
        """
        if not values:
            return []
        selected = ", ".join(f"t.{column}" for column in columns)
        conditions = " AND ".join(f"t.{column} = {self.mark}" for column in where)
        if not self.sqlite:
            sql = (
                f"SELECT {selected} FROM unnest({self.mark}::text[]) AS v(value)"
                f" JOIN {table} t ON t.{key} = v.value AND {conditions}"
            )
            return [
                tuple(row) for row in self.connection.exec_driver_sql(sql, (list(values), *where.values()))
            ]
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 5000):
            part = list(values[start : start + 5000])
            marks = ", ".join("?" for _ in part)
            sql = f"SELECT {selected} FROM {table} t WHERE {conditions} AND t.{key} IN ({marks})"
            rows.extend(tuple(row) for row in self.connection.exec_driver_sql(sql, (*where.values(), *part)))
        return rows

    def update(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Set `columns` on rows by primary key `id`; each tuple holds the new values, then the id."""
        if not rows:
            return
        signature = ("update", table, tuple(columns))
        sql = self._sql.get(signature)
        if sql is None:
            assignments = ", ".join(f"{column} = {self.mark}" for column in columns)
            sql = f"UPDATE {table} SET {assignments} WHERE id = {self.mark}"
            self._sql[signature] = sql
        self.connection.exec_driver_sql(sql, list(rows))


def _decoded(rows: Sequence[tuple[Any, ...]], positions: list[int]) -> list[tuple[Any, ...]]:
    """`rows` with the UTF-8 bytes at `positions` decoded to text."""
    out = []
    for row in rows:
        values = list(row)
        for i in positions:
            values[i] = values[i].decode()
        out.append(tuple(values))
    return out

"""Bulk inserts keep every row, in order, however the rows are split into statements."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

import hub.store.bulk
from hub.store.bulk import BulkWriter
from hub.store.models import utcnow

_COLUMNS = ("name", "trust", "created_at")


def _rows(count: int, stamp: object, *, utf8: bool = False) -> list[tuple[object, ...]]:
    trust = [f'{{"rank": {i}}}' for i in range(count)]
    return [(f"source_{i:05d}", text.encode() if utf8 else text, stamp) for i, text in enumerate(trust)]


@pytest.mark.parametrize("count", [0, 1, 499, 500, 1234])
def test_new_ids_name_the_rows_in_the_order_given(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        bulk = BulkWriter(connection)
        ids = bulk.insert_returning_ids("source", _COLUMNS, _rows(count, bulk.timestamp(utcnow())))
        stored = {int(i): str(name) for i, name in connection.exec_driver_sql("SELECT id, name FROM source")}
    assert len(ids) == len(set(ids)) == count == len(stored)
    assert [stored[i] for i in ids] == [f"source_{i:05d}" for i in range(count)]


def test_rows_split_by_the_statement_size_and_the_driver_limit_all_arrive(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23 rows, 7 to a statement: three full statements and two rows sent one by one; the text given as
    UTF-8 bytes is stored as text."""
    monkeypatch.setattr(hub.store.bulk, "ROWS_PER_STATEMENT", 7)
    with engine.begin() as connection:
        bulk = BulkWriter(connection)
        bulk.insert("source", _COLUMNS, _rows(23, bulk.timestamp(utcnow()), utf8=True), utf8={"trust"})
        if bulk.sqlite:  # a library allowing 10 parameters: three rows of three columns to a statement
            assert bulk._rows_per_statement(3) == 7
            bulk._variable_limit = 10
            assert bulk._rows_per_statement(3) == 3
            assert bulk._rows_per_statement(11) == 1
        stored = connection.exec_driver_sql("SELECT name, trust FROM source ORDER BY id").all()
    assert [name for name, _ in stored] == [f"source_{i:05d}" for i in range(23)]
    ranks = [trust["rank"] if isinstance(trust, dict) else int(trust[9:-1]) for _, trust in stored]
    assert ranks == list(range(23))

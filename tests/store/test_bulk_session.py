"""A bulk load's session skips SQLite's row-by-row foreign-key checks, and only for its own work."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub.store.database import bulk_session, make_engine


@pytest.fixture
def one_connection(tmp_path: Path) -> Engine:
    """A SQLite engine whose pool holds one connection: every user gets the one the bulk load had."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}", pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        connection.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))"
        )
    return engine


def _checks(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one())


def test_the_bulk_session_commits_without_checks_and_puts_them_back(one_connection: Engine) -> None:
    with bulk_session(one_connection) as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 0
        session.execute(text("INSERT INTO parent (id) VALUES (1)"))
        session.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 1)"))
        session.commit()
    assert _checks(one_connection) == 1
    with one_connection.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM child").scalar_one() == 1
        with pytest.raises(Exception, match="FOREIGN KEY"):  # the next user is checked again
            connection.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES (2, 99)")


def test_a_failed_bulk_load_leaves_the_last_commit_and_the_checks_on(one_connection: Engine) -> None:
    with pytest.raises(RuntimeError), bulk_session(one_connection) as session:
        session.execute(text("INSERT INTO parent (id) VALUES (1)"))
        session.commit()
        session.execute(text("INSERT INTO parent (id) VALUES (2)"))
        raise RuntimeError("the load stops mid-batch")
    assert _checks(one_connection) == 1
    with one_connection.connect() as connection:
        assert connection.exec_driver_sql("SELECT id FROM parent").scalars().all() == [1]

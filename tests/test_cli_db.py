"""`hub db current`, `hub db upgrade` and `hub audit verify` on databases that are not what this hub
expects: a check never creates the schema it checks for, and every refusal is one line and exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision

Hub = Callable[..., tuple[int, str, str]]
CHECKS = [["db", "current"], ["audit", "verify"]]


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_current_prints_the_revision_of_a_hub_database(hub: Hub, database_url: str) -> None:
    code, out, err = hub(database_url, "db", "current")
    assert code == 0, err
    assert out.strip() == head_revision()


@pytest.mark.parametrize("args", CHECKS, ids=" ".join)
def test_a_check_of_an_empty_database_fails_and_creates_no_schema(
    hub: Hub, blank_engine: Engine, args: list[str]
) -> None:
    """What a failed pg_restore or a mistyped database name leaves: it must not pass as a restore."""
    with blank_engine.connect():  # the database exists (for SQLite, its file), without any table
        pass
    code, out, err = hub(blank_engine.url.render_as_string(hide_password=False), *args)
    assert code == 2 and one_line(err), err
    assert "holds no hub schema" in err and out == ""
    assert inspect(blank_engine).get_table_names() == []


@pytest.mark.parametrize("args", CHECKS, ids=" ".join)
def test_a_check_of_a_missing_sqlite_file_fails_and_creates_none(
    hub: Hub, tmp_path: Path, args: list[str]
) -> None:
    code, out, err = hub(f"sqlite:///{tmp_path / 'hub.db'}", *args)
    assert code == 2 and one_line(err), err
    assert f"there is no database at {tmp_path / 'hub.db'}" in err and out == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", CHECKS, ids=" ".join)
def test_a_check_of_a_file_that_is_not_a_database_fails_in_one_line(
    hub: Hub, tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "hub.db").write_bytes(b"junk" * 100)
    code, _, err = hub(f"sqlite:///{tmp_path / 'hub.db'}", *args)
    assert code == 2 and one_line(err), err
    assert "is not a readable database" in err
    assert (tmp_path / "hub.db").read_bytes() == b"junk" * 100


def test_upgrading_a_database_a_newer_hub_migrated_says_what_to_do(hub: Hub, database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:  # as after rolling the hub back
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    try:
        code, _, err = hub(database_url, "db", "upgrade")
        assert code == 2 and one_line(err), err
        assert "revision 0099" in err and "does not know" in err
        assert "install that hub version" in err and "restore a backup made by this one" in err
        assert current_revision(engine) == "0099"
        code, _, err = hub(database_url, "clients", "list")  # any other command: the same advice
        assert code == 2 and one_line(err), err
        assert "does not know" in err and "hub db upgrade" not in err
    finally:  # the PostgreSQL test database is shared by the session's tests
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()}
            )
        engine.dispose()


def test_upgrading_to_a_revision_this_hub_does_not_have_gets_one_line(hub: Hub, database_url: str) -> None:
    code, _, err = hub(database_url, "db", "upgrade", "nonsense")
    assert code == 2 and one_line(err), err
    assert "'nonsense'" in err and f"up to {head_revision()}" in err

"""`hub db backup` and `hub db restore`: a SQLite backup taken while the hub writes restores into a fresh
database with every row, the same crosswalk and an audit chain that holds; what is not a hub backup,
or would overwrite data, is refused; PostgreSQL is pointed to its own tools."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from resolved_city import resolved_city
from sqlalchemy import Engine, text

from hub.store.backup import table_counts
from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision, upgrade

Hub = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """The URL of a small resolved SQLite city (left alone by the tests: each backs it up)."""
    engine = resolved_city(request, tmp_path_factory.mktemp("backup"), persons=200, backend="sqlite")
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url


def create_database(hub: Hub, directory: Path) -> str:
    """A new, empty, migrated SQLite database file in `directory`, by `hub db upgrade`."""
    url = f"sqlite:///{directory / 'hub.db'}"
    code, _, err = hub(url, "db", "upgrade")
    assert code == 0, err
    return url


def crosswalk(hub: Hub, url: str) -> list[str]:
    code, out, err = hub(url, "export", "crosswalk")
    assert code == 0, err
    return sorted(out.splitlines())


def test_a_backup_restores_into_a_fresh_database_with_every_row(hub: Hub, city: str, tmp_path: Path) -> None:
    code, out, err = hub(city, "clients", "add", "tax-bureau")  # one more audit event, by a command
    assert code == 0, err
    source = make_engine(city)
    before = table_counts(source)
    source.dispose()
    assert before["entity"] > 100 and before["audit_event"] >= 2 and before["link"] > 0

    backup = tmp_path / "city.backup"
    code, out, err = hub(city, "db", "backup", str(backup))
    assert code == 0, err
    assert f"{before['entity']:,} entities" in out
    assert not list(tmp_path.glob("*.partial*"))
    with sqlite3.connect(backup) as connection:  # one self-contained file, not a WAL database
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    fresh = f"sqlite:///{tmp_path / 'restored.db'}"
    code, out, err = hub(fresh, "db", "restore", str(backup))
    assert code == 0, err
    assert f"{before['audit_event']:,} events hold" in out
    assert not list(tmp_path.glob("*.restoring*"))

    restored = make_engine(fresh)
    assert table_counts(restored) == before
    assert current_revision(restored) == head_revision()
    restored.dispose()
    assert crosswalk(hub, fresh) == crosswalk(hub, city)
    code, out, _ = hub(fresh, "audit", "verify")
    assert code == 0 and out.startswith(f"ok: {before['audit_event']:,} events hold")
    code, out, _ = hub(fresh, "clients", "list")
    assert "tax-bureau" in out


def test_a_backup_is_the_database_as_of_one_instant_while_another_writes(hub: Hub, tmp_path: Path) -> None:
    database_url = create_database(hub, tmp_path)
    assert hub(database_url, "clients", "add", "committed")[0] == 0
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a write under way, holding the write lock
    writer.execute(
        "INSERT INTO source (name, trust, created_at) VALUES ('half-written', '{}', '2026-01-01 00:00:00')"
    )
    try:
        code, _, err = hub(database_url, "db", "backup", str(tmp_path / "b.db"))
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert code == 0, err
    with sqlite3.connect(tmp_path / "b.db") as copy:
        assert copy.execute("SELECT name FROM client").fetchall() == [("committed",)]
        assert copy.execute("SELECT count(*) FROM source WHERE name = 'half-written'").fetchone() == (0,)


def test_restore_refuses_a_database_holding_data_unless_forced(hub: Hub, tmp_path: Path) -> None:
    database_url = create_database(hub, tmp_path)
    source = f"sqlite:///{tmp_path / 'source.db'}"
    assert hub(source, "clients", "add", "from-the-backup")[0] == 0
    assert hub(source, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    assert hub(database_url, "clients", "add", "already-here")[0] == 0

    code, _, err = hub(database_url, "db", "restore", str(tmp_path / "b.db"))
    assert code == 2
    assert "holds data" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert "already-here" in hub(database_url, "clients", "list")[1]  # untouched

    code, _, err = hub(database_url, "db", "restore", str(tmp_path / "b.db"), "--force")
    assert code == 0, err
    listed = hub(database_url, "clients", "list")[1]
    assert "from-the-backup" in listed and "already-here" not in listed


def test_backup_refuses_to_overwrite_a_file_unless_forced(hub: Hub, tmp_path: Path) -> None:
    database_url = create_database(hub, tmp_path)
    (tmp_path / "b.db").write_text("precious")
    code, _, err = hub(database_url, "db", "backup", str(tmp_path / "b.db"))
    assert code == 2 and "exists already" in err
    assert (tmp_path / "b.db").read_text() == "precious"
    assert hub(database_url, "db", "backup", str(tmp_path / "b.db"), "--force")[0] == 0
    assert (tmp_path / "b.db").read_bytes().startswith(b"SQLite format 3\0")


def test_restore_refuses_what_is_not_a_hub_backup(hub: Hub, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'hub.db'}"
    (tmp_path / "notes.txt").write_text("not a database at all, just some text " * 100)
    code, _, err = hub(target, "db", "restore", str(tmp_path / "notes.txt"))
    assert code == 2 and "cannot be read as a SQLite database" in err
    with sqlite3.connect(tmp_path / "other.db") as other:
        other.execute("CREATE TABLE t (x)")
    code, _, err = hub(target, "db", "restore", str(tmp_path / "other.db"))
    assert code == 2 and "not a hub database" in err
    with sqlite3.connect(tmp_path / "future.db") as future:
        future.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        future.execute("INSERT INTO alembic_version VALUES ('9999')")
    code, _, err = hub(target, "db", "restore", str(tmp_path / "future.db"))
    assert code == 2 and "revision 9999" in err
    code, _, err = hub(target, "db", "restore", str(tmp_path / "missing.db"))
    assert code == 2 and "there is no backup" in err
    assert not (tmp_path / "hub.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["future.db", "notes.txt", "other.db"]


def test_an_older_backup_is_migrated_on_restore(hub: Hub, tmp_path: Path) -> None:
    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old, "0007")
    old.dispose()
    target = f"sqlite:///{tmp_path / 'hub.db'}"
    code, _, err = hub(target, "db", "restore", str(tmp_path / "old.db"))
    assert code == 0, err
    engine = make_engine(target)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert current_revision(old) == "0007"  # the backup was only read
    old.dispose()


def test_restore_refuses_a_backup_whose_audit_trail_was_changed(hub: Hub, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    assert hub(source, "clients", "add", "one")[0] == 0
    assert hub(source, "clients", "add", "two")[0] == 0
    assert hub(source, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    with sqlite3.connect(tmp_path / "b.db") as backup:  # past the append-only guard, as a forger would
        backup.execute("DROP TRIGGER audit_event_no_update")
        backup.execute("UPDATE audit_event SET actor = 'someone-else' WHERE id = 1")
    target = f"sqlite:///{tmp_path / 'hub.db'}"
    code, _, err = hub(target, "db", "restore", str(tmp_path / "b.db"))
    assert code == 2 and "audit trail is broken at event 1" in err and "nothing restored" in err
    assert not (tmp_path / "hub.db").exists() and not list(tmp_path.glob("*.restoring*"))


def test_restore_refuses_while_the_database_is_in_use(hub: Hub, tmp_path: Path) -> None:
    database_url = create_database(hub, tmp_path)
    source = f"sqlite:///{tmp_path / 'source.db'}"
    assert hub(source, "clients", "add", "one")[0] == 0
    assert hub(source, "db", "backup", str(tmp_path / "b.db"))[0] == 0
    server: Engine = make_engine(database_url)
    with server.connect() as connection:  # a server's open connection, reading
        connection.execute(text("SELECT count(*) FROM client")).scalar_one()
        code, _, err = hub(database_url, "db", "restore", str(tmp_path / "b.db"))
    server.dispose()
    assert code == 2 and "in use" in err and "stop the hub's servers" in err


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_postgres_is_pointed_to_pg_dump_and_pg_restore(hub: Hub, command: str, tmp_path: Path) -> None:
    url = "postgresql+psycopg://hub:secret@127.0.0.1:1/hub"  # never connected to
    code, _, err = hub(url, "db", command, str(tmp_path / "b.dump"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "pg_dump" in err and "pg_restore" in err
    assert "secret" not in err and "docs/operations.md" in err
    assert not (tmp_path / "b.dump").exists()


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory in which no file can be created: a read-only one, or, for root (whom permissions do
    not stop), /proc."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for directory in (locked, Path("/proc")):
            try:
                (directory / "probe").touch()
            except OSError:
                yield directory
                return
            (directory / "probe").unlink()
        pytest.skip("no directory here refuses to create a file")
    finally:
        locked.chmod(0o755)


def create_backup(hub: Hub, directory: Path, client: str = "from-the-backup") -> Path:
    """A backup of a database holding one client, `directory/b.db`."""
    source = f"sqlite:///{directory / 'source.db'}"
    assert hub(source, "clients", "add", client)[0] == 0
    assert hub(source, "db", "backup", str(directory / "b.db"))[0] == 0
    return directory / "b.db"


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_file_that_is_not_a_database_is_replaced_by_a_restore_only_when_forced(
    hub: Hub, tmp_path: Path
) -> None:
    backup = create_backup(hub, tmp_path)
    damaged, junk = tmp_path / "hub.db", b"junk, not a database " * 500
    damaged.write_bytes(junk)
    (tmp_path / "hub.db-wal").write_bytes(b"a stale log of the damaged file")
    url = f"sqlite:///{damaged}"

    code, _, err = hub(url, "db", "restore", str(backup))
    assert code == 2 and one_line(err), err
    assert "not a readable hub database" in err and "--force" in err
    assert damaged.read_bytes() == junk

    code, out, err = hub(url, "db", "restore", str(backup), "--force")
    assert code == 0, err
    assert "audit trail ok" in out
    assert "from-the-backup" in hub(url, "clients", "list")[1]
    code, out, _ = hub(url, "audit", "verify")
    assert code == 0 and out.startswith("ok: 1 events hold")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("hub.db")) == ["hub.db"]


def test_a_forced_restore_over_a_damaged_file_still_checks_the_backup_first(hub: Hub, tmp_path: Path) -> None:
    backup = create_backup(hub, tmp_path)
    with sqlite3.connect(backup) as forged:
        forged.execute("DROP TRIGGER audit_event_no_update")
        forged.execute("UPDATE audit_event SET actor = 'someone-else' WHERE id = 1")
    damaged = tmp_path / "hub.db"
    damaged.write_bytes(b"junk" * 100)
    code, _, err = hub(f"sqlite:///{damaged}", "db", "restore", str(backup), "--force")
    assert code == 2 and "nothing restored" in err
    assert damaged.read_bytes() == b"junk" * 100 and not list(tmp_path.glob("*.restoring*"))


def test_restore_refuses_to_replace_another_applications_database_unless_forced(
    hub: Hub, tmp_path: Path
) -> None:
    backup = create_backup(hub, tmp_path)
    with sqlite3.connect(tmp_path / "notes.db") as other:
        other.execute("CREATE TABLE note (text)")
        other.execute("INSERT INTO note VALUES ('precious')")
    code, _, err = hub(f"sqlite:///{tmp_path / 'notes.db'}", "db", "restore", str(backup))
    assert code == 2 and one_line(err) and "holds data" in err and "--force" in err
    with sqlite3.connect(tmp_path / "notes.db") as other:
        assert other.execute("SELECT text FROM note").fetchall() == [("precious",)]


def test_backup_into_a_directory_gets_one_line(hub: Hub, tmp_path: Path) -> None:
    database_url = create_database(hub, tmp_path)
    (tmp_path / "backups").mkdir()
    for force in ([], ["--force"]):
        code, _, err = hub(database_url, "db", "backup", str(tmp_path / "backups"), *force)
        assert code == 2 and one_line(err), err
        assert "is a directory" in err and "name a file in it" in err
    assert list((tmp_path / "backups").iterdir()) == []


def test_backup_where_nothing_can_be_written_names_the_directory(
    hub: Hub, tmp_path: Path, unwritable: Path
) -> None:
    database_url = create_database(hub, tmp_path)
    code, _, err = hub(database_url, "db", "backup", str(unwritable / "b.db"))
    assert code == 2 and one_line(err), err
    assert f"the directory {unwritable} cannot be written" in err and "permissions" in err


def test_restore_into_a_directory_that_cannot_be_written_names_it_not_the_backup(
    hub: Hub, tmp_path: Path, unwritable: Path
) -> None:
    backup = create_backup(hub, tmp_path)
    code, _, err = hub(f"sqlite:///{unwritable / 'new.db'}", "db", "restore", str(backup))
    assert code == 2 and one_line(err), err
    assert f"cannot restore into the directory {unwritable}" in err and "permissions" in err
    assert str(backup) not in err


@pytest.mark.parametrize("name", ["hub.db", "./hub.db", "hub.db-wal", "linked.db", "hard-link.db"])
def test_backup_refuses_to_write_over_the_database_it_copies(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    database_url = "sqlite:///hub.db"  # the default URL, as `hub db backup hub.db --force` uses it
    assert hub(database_url, "clients", "add", "kept")[0] == 0
    (tmp_path / "linked.db").symlink_to(tmp_path / "hub.db")
    (tmp_path / "hard-link.db").hardlink_to(tmp_path / "hub.db")
    server = make_engine(database_url)  # a server with the database open, writing on after the backup
    with server.connect() as connection:
        connection.execute(text("SELECT count(*) FROM client")).scalar_one()
        inode = (tmp_path / "hub.db").stat().st_ino
        code, _, err = hub(database_url, "db", "backup", name, "--force")
        connection.execute(
            text(
                "INSERT INTO source (name, trust, created_at)"
                " VALUES ('written-after', '{}', '2026-01-01 00:00:00')"
            )
        )
        connection.commit()
    server.dispose()
    assert code == 2 and one_line(err), err
    assert "is the database being backed up" in err and "elsewhere" in err
    assert (tmp_path / "hub.db").stat().st_ino == inode
    with sqlite3.connect(tmp_path / "hub.db") as reader:
        assert reader.execute("SELECT name FROM client").fetchall() == [("kept",)]
        assert reader.execute("SELECT name FROM source").fetchall() == [("written-after",)]

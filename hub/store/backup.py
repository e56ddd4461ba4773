"""Backups of the embedded SQLite database with SQLite's online backup API, and their restore.

The backup API copies the database page by page under one read transaction: in WAL mode writers go
on meanwhile, and the copy is the database as of one instant, whatever the hub is serving. A backup
is a single self-contained file (rollback journal, not WAL), so it can be copied anywhere as is.

A restore goes through a staging file beside the target: the backup is copied there, checked (a
SQLite file holding a hub schema at a revision this hub knows), migrated if it is older, and only
then copied into the target, again with the backup API, so the target is never left half-written.
PostgreSQL has its own tools for all this (`pg_dump`, `pg_restore`, WAL archiving; docs/operations.md).
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from hub.errors import DatabaseStateError, InputError
from hub.store.database import make_engine
from hub.store.migrations import alembic_config, current_revision, head_revision, upgrade
from hub.store.models import MIGRATION_TABLES, Base

__all__ = [
    "BackupSummary",
    "backup_sqlite",
    "discard_staged",
    "install_staged",
    "is_empty",
    "sqlite_path",
    "sqlite_url",
    "stage_restore",
    "table_counts",
]


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup or a staged restore holds: its file, size, schema revision and rows per table."""

    path: Path
    size: int
    revision: str | None
    counts: dict[str, int]


def sqlite_path(engine: Engine) -> Path:
    """The file of a SQLite engine; refuse any other database (and SQLite in memory)."""
    if engine.dialect.name != "sqlite":
        raise InputError(f"{engine.url.render_as_string()} is not a SQLite database")
    database = engine.url.database
    if not database or database == ":memory:":
        raise InputError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in each of the hub's tables that the database holds (the schema's tables, by name)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {
            table.name: connection.execute(text(f'SELECT count(*) FROM "{table.name}"')).scalar_one()
            for table in Base.metadata.sorted_tables
            if table.name in present
        }


def is_empty(engine: Engine) -> bool:
    """Whether a database holds no row in any of the hub's tables but those the migrations wrote
    (a missing schema counts as empty)."""
    present = set(inspect(engine).get_table_names()) - MIGRATION_TABLES
    with engine.connect() as connection:
        return not any(
            connection.execute(text(f'SELECT 1 FROM "{table.name}" LIMIT 1')).first()
            for table in Base.metadata.sorted_tables
            if table.name in present
        )


def backup_sqlite(engine: Engine, target: Path, *, overwrite: bool = False) -> BackupSummary:
    """Copy the SQLite database behind `engine` into the new file `target`, consistent as of one
    instant while others go on writing; the copy is written beside `target` and renamed into place."""
    source_path = sqlite_path(engine)
    if not source_path.is_file():
        raise InputError(f"there is no database to back up at {source_path}")
    if target.exists() and not overwrite:
        raise InputError(f"{target} exists already; name a new file, or pass --force to replace it")
    if not target.parent.is_dir():
        raise InputError(f"cannot write {target}: the directory {target.parent} does not exist")
    partial = target.with_name(target.name + ".partial")
    _remove_database_files(partial)
    try:
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                source.backup(copy)  # all pages in one step: one read transaction, one instant
                copy.execute("PRAGMA journal_mode=DELETE")
                problem = copy.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise DatabaseStateError(f"the backup of {source_path} does not check out: {problem}")
        finally:
            raw.close()
        partial.replace(target)
    finally:
        _remove_database_files(partial)
    return _summary(target)


def stage_restore(backup: Path, staging: Path) -> BackupSummary:
    """Copy `backup` into the new file `staging`, refuse what is not a hub database at a revision this
    hub knows, and migrate it to the newest revision if it is older. The backup itself is only read."""
    if not backup.is_file():
        raise InputError(f"there is no backup at {backup}")
    _remove_database_files(staging)
    try:
        source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            with contextlib.closing(sqlite3.connect(staging)) as copy:
                source.backup(copy)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{backup} cannot be read as a SQLite database ({exc})") from None
        finally:
            source.close()
        engine = make_engine(sqlite_url(staging))
        try:
            revision = current_revision(engine)
            if revision is None:
                raise InputError(f"{backup} is not a hub database: it has no schema revision")
            if not _known(revision):
                raise DatabaseStateError(
                    f"{backup} is at revision {revision}, which this hub does not know (a newer hub's"
                    " backup?); restore it with that version"
                )
            if revision != head_revision():
                upgrade(engine)
        finally:
            engine.dispose()
        return _summary(staging)
    except BaseException:
        _remove_database_files(staging)
        raise


def install_staged(staging: Path, target: Path) -> None:
    """Copy the staged database into `target` (created if missing) and remove the staging file.

    The target's connections switch it out of WAL mode for the copy, which needs the database to
    itself: a hub server still using it makes this fail, and nothing is changed.
    """
    try:
        with contextlib.closing(sqlite3.connect(staging)) as source:
            source.execute("PRAGMA journal_mode=DELETE")
            destination = sqlite3.connect(target, timeout=1.0)
            try:
                mode = destination.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
                if str(mode).lower() != "delete":
                    raise DatabaseStateError(
                        f"{target} is in use (its journal stays {mode}); stop the hub's servers and"
                        " commands on it, then restore again"
                    )
                source.backup(destination)
                destination.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                raise DatabaseStateError(
                    f"{target} is in use ({exc}); stop the hub's servers and commands on it, then"
                    " restore again"
                ) from None
            finally:
                destination.close()
    finally:
        _remove_database_files(staging)


def _summary(path: Path) -> BackupSummary:
    engine = make_engine(sqlite_url(path))
    try:
        revision, counts = current_revision(engine), table_counts(engine)
    finally:
        engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")  # leave one self-contained file
    return BackupSummary(path, path.stat().st_size, revision, counts)


def _known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`."""
    return make_url("sqlite://").set(database=str(path)).render_as_string(hide_password=False)


def discard_staged(staging: Path) -> None:
    """Remove a staged restore that is not to be installed."""
    _remove_database_files(staging)


def _remove_database_files(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)

"""Backups of the embedded SQLite database with SQLite's online backup API, and their restore.

The backup API copies the database page by page under one read transaction: in WAL mode writers go
on meanwhile, and the copy is the database as of one instant, whatever the hub is serving. A backup
is a single self-contained file (rollback journal, not WAL), so it can be copied anywhere as is.

A restore goes through a staging file beside the target: the backup is copied there, checked (a
SQLite file holding a hub schema at a revision this hub knows), migrated if it is older, and only
then copied into the target, again with the backup API, so the target is never left half-written.
A target that is not a readable database (the usual reason to restore) is replaced by the staged file
instead, renamed into place.
PostgreSQL has its own tools for all this (`pg_dump`, `pg_restore`, WAL archiving; docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from hub.errors import DatabaseStateError, InputError
from hub.store.database import make_engine
from hub.store.migrations import current_revision, head_revision, known_revision, upgrade
from hub.store.models import MIGRATION_TABLES, Base

__all__ = [
    "BackupSummary",
    "backup_sqlite",
    "discard_staged",
    "install_staged",
    "is_empty",
    "restore_target",
    "sqlite_path",
    "sqlite_url",
    "stage_restore",
    "table_counts",
]

# The files of one SQLite database: the database, its rollback journal, its WAL and the WAL's index.
_SUFFIXES = ("", "-journal", "-wal", "-shm")


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
    """Whether a database holds no row in any table but those the migrations wrote (a missing schema
    counts as empty; rows in another application's tables count as data)."""
    present = set(inspect(engine).get_table_names()) - MIGRATION_TABLES - {"alembic_version"}
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        return not any(
            connection.execute(text(f"SELECT 1 FROM {quote(name)} LIMIT 1")).first()
            for name in sorted(present)
        )


def restore_target(engine: Engine, *, force: bool) -> Path:
    """The SQLite file a restore is to replace, once it is clear that it may: a file in an existing
    directory, and unless `force` one that is missing, or a hub database holding no data. A file that
    is not a readable database is refused without `force` too (with it, the restore replaces it)."""
    target = sqlite_path(engine)
    if not target.parent.is_dir():
        raise InputError(
            f"cannot restore into {target}: the directory {target.parent} does not exist; create it"
        )
    if target.is_dir():
        raise InputError(f"cannot restore into {target}: it is a directory; set HUB_DATABASE_URL to a file")
    if force or not target.exists():
        return target
    try:
        empty = is_empty(engine)
    except DBAPIError as exc:
        if isinstance(exc, OperationalError):  # locked, or cannot be opened: not the file's content
            raise
        raise InputError(
            f"{target} is not a readable hub database ({exc.orig}); pass --force to replace it with the"
            " backup"
        ) from None
    if not empty:
        raise InputError(
            f"{engine.url.render_as_string()} holds data; restore into an empty database, or pass --force"
            " to replace it"
        )
    return target


def backup_sqlite(engine: Engine, target: Path, *, overwrite: bool = False) -> BackupSummary:
    """Copy the SQLite database behind `engine` into the new file `target`, consistent as of one
    instant while others go on writing; the copy is written beside `target` and renamed into place."""
    source_path = sqlite_path(engine)
    if not source_path.is_file():
        raise InputError(f"there is no database to back up at {source_path}")
    if target.is_dir():
        raise InputError(f"{target} is a directory; name a file in it, such as {target / 'hub-backup.db'}")
    partial = target.with_name(target.name + ".partial")
    if _shares_a_file(target, source_path) or _shares_a_file(partial, source_path):
        raise InputError(
            f"{target} is the database being backed up ({source_path}) or one of its files; name a"
            " backup file elsewhere"
        )
    if target.exists() and not overwrite:
        raise InputError(f"{target} exists already; name a new file, or pass --force to replace it")
    if not target.parent.is_dir():
        raise InputError(f"cannot write {target}: the directory {target.parent} does not exist")
    _remove_database_files(partial)
    try:
        raw = engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            try:
                copy = sqlite3.connect(partial)
            except sqlite3.Error as exc:
                raise InputError(
                    f"cannot write {target}: the directory {target.parent} cannot be written ({exc});"
                    " check its permissions, or name a file elsewhere"
                ) from None
            with contextlib.closing(copy):
                try:
                    source.backup(copy)  # all pages in one step: one read transaction, one instant
                    copy.execute("PRAGMA journal_mode=DELETE")
                    problem = copy.execute("PRAGMA quick_check").fetchone()[0]
                except sqlite3.OperationalError as exc:
                    raise InputError(
                        f"cannot write {target} ({exc}); check the free space and permissions of"
                        f" {target.parent}"
                    ) from None
            if problem != "ok":
                raise DatabaseStateError(f"the backup of {source_path} does not check out: {problem}")
        finally:
            raw.close()
        # A journal or WAL left by a database the backup replaces would be applied to the backup.
        _remove_database_files(target, companions_only=True)
        try:
            partial.replace(target)
        except OSError as exc:
            raise InputError(f"cannot replace {target} ({exc.strerror}); name another file") from None
    finally:
        _remove_database_files(partial)
    return _summary(target)


def stage_restore(backup: Path, staging: Path) -> BackupSummary:
    """Copy `backup` into the new file `staging`, refuse what is not a hub database at a revision this
    hub knows, and migrate it to the newest revision if it is older. The backup itself is only read."""
    if not backup.is_file():
        raise InputError(f"there is no backup at {backup}")
    if _shares_a_file(staging, backup):
        raise InputError(f"{backup} is where the restore stages its copy; move or rename the backup first")
    _remove_database_files(staging)
    try:
        source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        try:
            try:
                source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                raise InputError(f"{backup} cannot be read as a SQLite database ({exc})") from None
            try:  # beside the target, so in its directory
                copy = sqlite3.connect(staging)
            except sqlite3.Error as exc:
                raise InputError(
                    f"cannot restore into the directory {staging.parent}: it cannot be written ({exc});"
                    " check its permissions"
                ) from None
            with contextlib.closing(copy):
                try:
                    source.backup(copy)
                    problem = copy.execute("PRAGMA quick_check").fetchone()[0]
                except sqlite3.DatabaseError as exc:
                    raise DatabaseStateError(
                        f"copying {backup} to {staging} failed ({exc}); nothing restored"
                    ) from None
            if problem != "ok":
                raise InputError(f"{backup} is damaged ({problem}); nothing restored")
        finally:
            source.close()
        engine = make_engine(sqlite_url(staging))
        try:
            revision = current_revision(engine)
            if revision is None:
                raise InputError(f"{backup} is not a hub database: it has no schema revision")
            if not known_revision(revision):
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
    itself: a hub server still using it makes this fail, and nothing is changed. A target that is not
    a readable database (damaged, or some other file) cannot be copied into, and is replaced by the
    staged file, renamed over it.
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
                damaged = False
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise DatabaseStateError(f"cannot write {target} ({exc}); nothing restored") from None
                raise DatabaseStateError(
                    f"{target} is in use ({exc}); stop the hub's servers and commands on it, then"
                    " restore again"
                ) from None
            except sqlite3.DatabaseError:  # not a database, or a damaged one: nothing to copy into
                damaged = True
            finally:
                destination.close()
        if damaged:
            _replace_damaged(staging, target)
    finally:
        _remove_database_files(staging)


def _replace_damaged(staging: Path, target: Path) -> None:
    # Its journal or WAL must go first: SQLite would apply them to the restored file.
    _remove_database_files(target, companions_only=True)
    staging.replace(target)  # the same directory: the target is the old file or the new, never half
    with contextlib.closing(sqlite3.connect(target)) as restored:
        restored.execute("PRAGMA journal_mode=WAL")


def _summary(path: Path) -> BackupSummary:
    engine = make_engine(sqlite_url(path))
    try:
        revision, counts = current_revision(engine), table_counts(engine)
    finally:
        engine.dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")  # leave one self-contained file
    return BackupSummary(path, path.stat().st_size, revision, counts)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite file at `path`."""
    return make_url("sqlite://").set(database=str(path)).render_as_string(hide_password=False)


def discard_staged(staging: Path) -> None:
    """Remove a staged restore that is not to be installed."""
    _remove_database_files(staging)


def _database_files(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in _SUFFIXES]


def _remove_database_files(path: Path, *, companions_only: bool = False) -> None:
    for file in _database_files(path)[1 if companions_only else 0 :]:
        file.unlink(missing_ok=True)


def _shares_a_file(written: Path, kept: Path) -> bool:
    """Whether writing or removing the files of the database `written` would touch one of `kept`'s
    (the same path, through a link or a relative name, or the same file under another name)."""
    for ours in _database_files(written):
        for theirs in _database_files(kept):
            if ours.resolve() == theirs.resolve():
                return True
            with contextlib.suppress(OSError):
                if os.path.samefile(ours, theirs):
                    return True
    return False

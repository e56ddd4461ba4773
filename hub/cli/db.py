"""`hub db`: the database schema, migrated with alembic only, and backups of the embedded SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.common import console, shown_url

if TYPE_CHECKING:
    from hub.store.backup import BackupSummary

app = typer.Typer(help="Database schema (migrated with alembic) and SQLite backups.", no_args_is_help=True)

_POSTGRES_TOOLS = (
    "{command} is for the embedded SQLite database; {url} is PostgreSQL: use pg_dump -Fc and"
    " pg_restore (and WAL archiving for point-in-time recovery), see docs/operations.md"
)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    from alembic.util.exc import CommandError

    from hub.errors import DatabaseStateError, InputError
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, head_revision, known_revision, upgrade

    engine = make_engine()
    try:
        before = current_revision(engine)
        if before is not None and not known_revision(before):
            raise DatabaseStateError(
                f"the database {shown_url()} is at revision {before}, which this hub does not know (a"
                " newer hub's); install that hub version, or restore a backup made by this one"
            )
        try:
            upgrade(engine, revision)
        except CommandError as exc:
            raise InputError(
                f"cannot upgrade to revision {revision!r} ({exc}); name one of this hub's revisions, up"
                f" to {head_revision()}, or leave it out for the newest"
            ) from None
        after = current_revision(engine)
    finally:
        engine.dispose()
    console.print(f"database {shown_url()}: {before} -> {after}")


@app.command("current")
def db_current() -> None:
    """Print the database's schema revision; exit 2 if it holds no hub schema (nothing is created)."""
    from hub.store.database import make_engine
    from hub.store.migrations import existing_revision

    engine = make_engine()
    try:
        print(existing_revision(engine))
    finally:
        engine.dispose()


@app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database into FILE while the hub goes on serving (SQLite's online backup)."""
    from hub.store.backup import backup_sqlite
    from hub.store.database import make_engine

    _refuse_postgres("hub db backup")
    engine = make_engine()
    try:
        summary = backup_sqlite(engine, file, overwrite=force)
    finally:
        engine.dispose()
    print(f"backed up {shown_url()} to {file}: {_described(summary)}")


@app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A backup `hub db backup` wrote.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the configured database even if it holds data.")
    ] = False,
) -> None:
    """Restore the SQLite database from a backup: checked, migrated if older, its audit chain verified.

    Refuses a database that holds data, or a file that is not a readable database, unless --force;
    stop the hub's servers on it first.
    """
    from sqlalchemy.orm import Session

    from hub.audit import verify
    from hub.errors import DatabaseStateError
    from hub.store.backup import discard_staged, install_staged, restore_target, sqlite_url, stage_restore
    from hub.store.database import make_engine

    _refuse_postgres("hub db restore")
    engine = make_engine()
    try:
        target = restore_target(engine, force=force)
    finally:
        engine.dispose()
    staging = target.with_name(target.name + ".restoring")
    summary = stage_restore(file, staging)
    staged = make_engine(sqlite_url(staging))
    try:
        with Session(staged) as session:
            chain = verify(session)
    finally:
        staged.dispose()
    if not chain.ok:
        discard_staged(staging)
        raise DatabaseStateError(
            f"{file}: the audit trail is broken at event {chain.broken_id} ({chain.reason}); nothing restored"
        )
    install_staged(staging, target)
    print(f"restored {file} into {shown_url()}: {_described(summary)}")
    print(f"audit trail ok: {chain.checked:,} events hold; head {chain.head_hash}")


def _refuse_postgres(command: str) -> None:
    from hub.config import get_settings

    url = get_settings().database_url
    if not url.startswith("sqlite"):
        console.print(_POSTGRES_TOOLS.format(command=command, url=shown_url(url)), highlight=False)
        raise typer.Exit(2)


def _described(summary: BackupSummary) -> str:
    records = summary.counts.get("record_version", 0)
    entities = summary.counts.get("entity", 0)
    events = summary.counts.get("audit_event", 0)
    return (
        f"{summary.size / 1_048_576:,.1f} MiB, revision {summary.revision},"
        f" {records:,} record versions, {entities:,} entities, {events:,} audit events"
    )

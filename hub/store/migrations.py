"""Alembic, driven from code: `hub db upgrade` and the tests migrate with these."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from alembic import command
from hub.errors import DatabaseStateError

__all__ = [
    "alembic_config",
    "current_revision",
    "existing_revision",
    "head_revision",
    "known_revision",
    "upgrade",
]

_SCRIPT_LOCATION = Path(__file__).resolve().parents[2] / "alembic"
# The advisory lock that makes PostgreSQL migrations take turns ("MIGR"; the audit chain's is "AUDT").
MIGRATION_LOCK_KEY = 0x4D494752


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision` (default: the newest).

    Migrations take turns: on PostgreSQL under a transaction-scoped advisory lock, on SQLite under the
    database's write lock, taken before anything is read. Processes starting together on an empty
    database then create the schema once: the others read the revision only once they hold the lock
    and find nothing left to do (without it they create the same tables at once, and all but one fail).
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        elif connection.dialect.name == "sqlite":  # the driver would begin only at the first row written
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)  # reads the revision now, under the lock


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of this hub's migrations (a newer hub's is not)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def existing_revision(engine: Engine) -> str:
    """The schema revision of a database that must hold the hub's schema already, for the commands
    that check one (`hub db current`, `hub audit verify`): a missing SQLite file (which connecting would
    create), a database without the schema (an empty one after a failed restore, a mistyped name) or a
    file that is not a database is refused, and nothing is created."""
    url = engine.url.render_as_string(hide_password=True)
    sqlite = engine.dialect.name == "sqlite" and not engine.url.query.get("uri")
    path = engine.url.database if sqlite else None
    if path and path != ":memory:" and not Path(path).is_file():
        raise DatabaseStateError(
            f"there is no database at {path}; check HUB_DATABASE_URL ({url}), or restore one"
        )
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        if isinstance(exc, OperationalError):  # the server or the file cannot be reached: said elsewhere
            raise
        raise DatabaseStateError(
            f"{url} is not a readable database ({exc.orig}); check HUB_DATABASE_URL"
        ) from None
    if revision is None:
        raise DatabaseStateError(
            f"{url} holds no hub schema (an empty database, or not the hub's); check HUB_DATABASE_URL,"
            " or the restore that should have filled it"
        )
    return revision

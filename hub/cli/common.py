"""What every `hub` command shares: the console, the database it opens, who runs it, the kinds it covers.

Kept apart from the command modules so that each imports only what it needs, and heavy modules load
inside the commands that use them.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from rich.console import Console

from hub.domain import Kind, parse_kind

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy import Engine

__all__ = [
    "actor",
    "console",
    "database_failure",
    "open_engine",
    "print_table",
    "selected_kinds",
    "shown_url",
]

console = Console(stderr=True, soft_wrap=True)


_opened: list[Engine] = []


def print_table(table: Table, *, stderr: bool = False) -> None:
    """Print `table`; to a pipe or a file with every row on one line, however long its values."""
    from rich.measure import Measurement

    out = Console(highlight=False, stderr=stderr)
    if not out.is_terminal:
        width = Measurement.get(out, out.options.update_width(100_000), table).maximum
        out = Console(highlight=False, stderr=stderr, width=max(80, width))
    out.print(table)


def close_engines() -> None:
    """Close the connections of every engine a command opened (a command may run in a process that
    goes on, such as a test's)."""
    while _opened:
        _opened.pop().dispose()


def open_engine(create_if_empty: bool = True) -> Engine:
    """Open the configured database; create the schema if it is empty, refuse if it is behind."""
    from hub.errors import DatabaseStateError
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, head_revision, known_revision, upgrade

    engine = make_engine()
    _opened.append(engine)
    revision, head = current_revision(engine), head_revision()
    if revision == head:
        return engine
    if revision is None and create_if_empty:
        upgrade(engine)
        console.print(f"[dim]created the hub schema in {engine.url.render_as_string()}[/dim]")
        return engine
    if revision is not None and not known_revision(revision):  # after this hub was rolled back
        raise DatabaseStateError(
            f"the database is at revision {revision}, which this hub does not know (a newer hub's);"
            " install that hub version, or restore a backup made by this one"
        )
    raise DatabaseStateError(
        f"the database is at revision {revision}, this hub needs {head}; run `hub db upgrade` first"
    )


def shown_url(url: str | None = None) -> str:
    """The database URL (default the configured one) as it may be shown: any password as `***`."""
    from hub.config import get_settings

    url = url or get_settings().database_url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: hide whatever stands between `:` and `@`
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


# How PostgreSQL's driver begins the message of a connection it could not make.
_CONNECTING = (
    "connection failed",
    "connection to server",
    "failed to resolve host",
    "could not translate host",
)


def database_failure(exc: BaseException) -> str | None:
    """One line saying which database could not be opened and what to do, if `exc` is such a failure.

    A failure to connect (the server down or unknown, a database that does not exist, a SQLite file in
    a missing directory, one that is not a database, is damaged or cannot be written) or a URL no
    driver understands; any other error is left alone (None), since a failure in the middle of a
    statement is not the operator's configuration.
    """
    exceptions = sys.modules.get("sqlalchemy.exc")
    if exceptions is None:  # SQLAlchemy never loaded, so the error cannot be one of its
        return None
    url = shown_url()
    if isinstance(exc, ModuleNotFoundError) and not url.startswith(("sqlite", "postgresql")):
        return (
            f"HUB_DATABASE_URL={url}: its driver ({exc.name}) is not installed;"
            " use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
        )
    if isinstance(exc, exceptions.NoSuchModuleError):
        return f"HUB_DATABASE_URL={url}: no database driver for it ({exc}); use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    if isinstance(exc, exceptions.ArgumentError) and "URL" in str(exc):
        return f"HUB_DATABASE_URL={url} is not a database URL; use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB"
    if not isinstance(exc, exceptions.DBAPIError) or exc.statement is not None:
        return None
    reason = " ".join(str(exc.orig).split())  # the driver's message on one line
    if url.startswith("sqlite"):
        if reason.startswith(("file is not a database", "database disk image is malformed")):
            return (
                f"the SQLite database {url} is not a database or is damaged ({reason}); restore it from a"
                " backup (hub db restore BACKUP --force) or set HUB_DATABASE_URL to another file"
            )
        if reason.startswith("attempt to write a readonly database"):
            return (
                f"the SQLite database {url} cannot be written ({reason}); the hub keeps its write-ahead"
                " log beside the file: give the hub's user write access to the file and its directory"
            )
        if not isinstance(exc, exceptions.OperationalError) or not reason.startswith(
            "unable to open database"
        ):
            return None  # a lock or a full disk during a command, not the database's address
        from sqlalchemy.engine import make_url

        path = make_url(url).database or ""
        parent = os.path.dirname(os.path.abspath(path))
        if path and not os.path.isdir(parent):
            return (
                f"cannot open the SQLite database {url}: the directory {parent} does not exist; create it"
                " or set HUB_DATABASE_URL to a file in an existing directory"
            )
        return (
            f"cannot open the SQLite database {url}: {reason}; check the file and its directory's permissions"
        )
    if not isinstance(exc, exceptions.OperationalError) or not reason.startswith(_CONNECTING):
        return None
    if 'database "' in reason and "does not exist" in reason:
        detail = reason.split("FATAL:", 1)[-1].strip()
        return (
            f"the database of {url} does not exist ({detail}); create it (createdb) or fix HUB_DATABASE_URL"
        )
    if "authentication" in reason or ('role "' in reason and "does not exist" in reason):
        return f"the database server of {url} refused the login ({reason}); check the user and password"
    detail = reason.removeprefix("connection failed:").strip()
    return (
        f"cannot reach the database server of {url}: {detail}; start it, or fix the host and port in"
        " HUB_DATABASE_URL"
    )


def actor() -> str:
    """Who runs a command, for the audit trail: `HUB_ACTOR` if set, else the login name."""
    import getpass

    return os.environ.get("HUB_ACTOR") or f"cli:{getpass.getuser()}"


def selected_kinds(kind: str | None) -> list[Kind]:
    """The kind named by a `--kind` option, or all three."""
    return [parse_kind(kind)] if kind else [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON]

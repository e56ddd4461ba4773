"""What every `hub` command shares: the console, the database it opens, who runs it, the kinds it covers.

Kept apart from the command modules so that each imports only what it needs, and heavy modules load
inside the commands that use them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from rich.console import Console

from hub.domain import Kind, parse_kind

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["actor", "console", "open_engine", "selected_kinds"]

console = Console(stderr=True, soft_wrap=True)


_opened: list[Engine] = []


def close_engines() -> None:
    """Close the connections of every engine a command opened (a command may run in a process that
    goes on, such as a test's)."""
    while _opened:
        _opened.pop().dispose()


def open_engine(create_if_empty: bool = True) -> Engine:
    """Open the configured database; create the schema if it is empty, refuse if it is behind."""
    from hub.errors import DatabaseStateError
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, head_revision, upgrade

    engine = make_engine()
    _opened.append(engine)
    revision, head = current_revision(engine), head_revision()
    if revision == head:
        return engine
    if revision is None and create_if_empty:
        upgrade(engine)
        console.print(f"[dim]created the hub schema in {engine.url.render_as_string()}[/dim]")
        return engine
    raise DatabaseStateError(
        f"the database is at revision {revision}, this hub needs {head}; run `hub db upgrade` first"
    )


def actor() -> str:
    """Who runs a command, for the audit trail: `HUB_ACTOR` if set, else the login name."""
    import getpass

    return os.environ.get("HUB_ACTOR") or f"cli:{getpass.getuser()}"


def selected_kinds(kind: str | None) -> list[Kind]:
    """The kind named by a `--kind` option, or all three."""
    return [parse_kind(kind)] if kind else [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON]

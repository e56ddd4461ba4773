"""`hub db`: the database schema, migrated with alembic only."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import console

app = typer.Typer(help="Database schema: migrate with alembic.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, upgrade

    engine = make_engine()
    before = current_revision(engine)
    upgrade(engine, revision)
    console.print(f"database {engine.url.render_as_string()}: {before} -> {current_revision(engine)}")


@app.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision

    print(current_revision(make_engine()))

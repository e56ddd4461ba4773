"""`hub export`: data for other systems, such as the crosswalk of records to entities."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import console, open_engine

app = typer.Typer(help="Export data for other systems.", no_args_is_help=True)


@app.command("crosswalk")
def export_crosswalk(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write to FILE instead of standard output.")] = None,
) -> None:
    """CSV of every current source record with its entity: source,kind,key,entity_id."""
    from hub.domain import parse_kind
    from hub.export import write_crosswalk

    engine = open_engine()
    selected = parse_kind(kind) if kind else None
    if output is None:
        count = write_crosswalk(engine, sys.stdout, selected)
        sys.stdout.flush()  # the rows before the count on a terminal showing both streams
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            count = write_crosswalk(engine, out, selected)
    console.print(f"[dim]{count} rows[/dim]")

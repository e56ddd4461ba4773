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


@app.command("entities")
def export_entities(
    kind: Annotated[str, typer.Option(help="person, address or legal_entity.")],
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")] = "csv",
    output: Annotated[
        Path | None, typer.Option(help="Write to FILE instead of standard output (needed for parquet).")
    ] = None,
    unmasked: Annotated[
        bool,
        typer.Option(
            "--unmasked", help="ID numbers, phones and birth dates whole (logged; needs --purpose)."
        ),
    ] = False,
    purpose: Annotated[str | None, typer.Option(help="Why personal data is read: a purpose code.")] = None,
) -> None:
    """The golden records of one kind: every active entity with its id, version, last change, number of
    source records and golden values, personal values masked unless --unmasked."""
    from sqlalchemy.orm import Session

    from hub.access_log import check_purpose, log_export
    from hub.cli.common import actor
    from hub.config import get_settings
    from hub.domain import parse_kind
    from hub.export import ENTITY_FORMATS, golden_records, write_golden
    from hub.privacy import PERSONAL_FIELDS

    selected = parse_kind(kind)
    if fmt not in ENTITY_FORMATS:
        raise typer.BadParameter(f"{fmt!r}: choose one of {', '.join(ENTITY_FORMATS)}", param_hint="--format")
    if fmt == "parquet" and output is None:
        raise typer.BadParameter("Parquet is binary: give a file to write", param_hint="--output")
    engine = open_engine()
    if unmasked:
        code = check_purpose(purpose, get_settings().purposes)
        if code is None:
            raise typer.BadParameter("an unmasked export needs a purpose", param_hint="--purpose")
        command = f"{actor()}: hub export entities --kind {selected.value} --format {fmt} --unmasked"
        with Session(engine) as session, session.begin():
            log_export(session, command, list(PERSONAL_FIELDS[selected]), code)
    records = golden_records(engine, selected, unmasked=unmasked)
    if output is None:
        count = write_golden(records, selected, sys.stdout.buffer, fmt)
        sys.stdout.flush()
    else:
        with output.open("wb") as out:
            count = write_golden(records, selected, out, fmt)
    console.print(f"[dim]{count} {selected.value} entities[/dim]")


@app.command("changes")
def export_changes(
    since: Annotated[
        str | None,
        typer.Option(
            help="A cursor this command or the API gave (or a time, ISO 8601 with a zone). Default: all."
        ),
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="Only entries touching this kind (repeatable).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="Write to FILE instead of standard output.")] = None,
) -> None:
    """The change feed after a cursor: entities created, changed, merged or split and links opened or
    closed, in commit order. The cursor to pass next time is printed last, on standard error."""
    import csv
    from datetime import datetime

    import orjson
    from sqlalchemy.orm import Session

    from hub.changes import COLUMNS, change_cursor, changes_after, cursor_position, position_before
    from hub.domain import parse_kind
    from hub.errors import InputError

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter(f"{fmt!r}: choose jsonl or csv", param_hint="--format")
    columns = ("cursor", *COLUMNS)
    kinds = [parse_kind(k) for k in kind or []]
    engine = open_engine()
    with Session(engine) as session:
        after = 0
        if since:
            try:
                moment = datetime.fromisoformat(since)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is None:
                raise typer.BadParameter(
                    f"{since!r}: give the time with its zone, e.g. +08:00", param_hint="--since"
                )
            try:
                after = position_before(session, moment) if moment else cursor_position(since)
            except InputError as exc:
                raise typer.BadParameter(str(exc), param_hint="--since") from exc
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(columns)
        count, more = 0, True
        try:
            while more:
                entries, after, more = changes_after(session, after, kinds or None, 10_000)
                for e in entries:
                    row = (
                        e.cursor,
                        e.at.isoformat(),
                        e.action.value,
                        e.kind.value,
                        e.entity_id,
                        e.other_kind.value if e.other_kind else None,
                        e.other_id,
                        e.relation,
                        e.link_id,
                        e.version,
                        e.actor,
                    )
                    if writer is not None:
                        writer.writerow(row)
                    else:
                        out.write(orjson.dumps(dict(zip(columns, row, strict=True))).decode() + "\n")
                count += len(entries)
        finally:
            if output:
                out.close()
            else:
                sys.stdout.flush()
    console.print(f"[dim]{count} entries; next time pass --since {change_cursor(after)}[/dim]")

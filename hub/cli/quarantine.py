"""`hub quarantine`: the rows ingestion set aside, listed, shown whole and exported as CSV."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from hub.cli.common import console, open_engine

if TYPE_CHECKING:
    from hub.ingest.quarantine import QuarantinedRow

app = typer.Typer(help="The rows ingestion quarantined: list, show, export.", no_args_is_help=True)

SourceOption = Annotated[str | None, typer.Option(help="Only rows of this source system.")]
FileOption = Annotated[str | None, typer.Option("--file", help="Only rows of this file (its name).")]
ReasonOption = Annotated[str | None, typer.Option(help="Only rows whose reason contains this text.")]
AllOption = Annotated[
    bool, typer.Option("--all", help="Released rows too (those a fixed file no longer has).")
]
EXPORT_COLUMNS = (
    "id", "source", "kind", "file", "line", "reason", "raw_text", "created_at", "released_at",
)  # fmt: skip


def _rows(
    source: str | None, file: str | None, reason: str | None, released: bool, limit: int | None
) -> list[QuarantinedRow]:
    from sqlalchemy.orm import Session

    from hub.ingest.quarantine import quarantined_rows

    with Session(open_engine()) as session:
        return quarantined_rows(
            session, source=source, file=file, reason=reason, released=released, limit=limit
        )


def _status(row: QuarantinedRow) -> str:
    if row.released_at is None:
        return "open"
    return f"released by run {row.released_by_run_id}"


@app.command("list")
def quarantine_list(
    source: SourceOption = None,
    file: FileOption = None,
    reason: ReasonOption = None,
    all_rows: AllOption = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (oldest first).")] = 100,
) -> None:
    """The quarantined rows, oldest first: id, source, kind, file, line, reason."""
    from rich.table import Table

    rows = _rows(source, file, reason, all_rows, limit)
    table = Table(
        title=f"quarantine: {len(rows)} rows" + (f" (at most {limit})" if len(rows) == limit else "")
    )
    for column in ("id", "source", "kind", "file", "line", "reason", *(("status",) if all_rows else ())):
        table.add_column(column, justify="right" if column in ("id", "line") else "left", overflow="fold")
    for row in rows:
        cells = [str(row.id), row.source, row.kind.value, row.file, str(row.line or ""), row.reason]
        table.add_row(*cells, *((_status(row),) if all_rows else ()))
    # Printed on standard output, wide enough for whole reasons: the list is the command's answer.
    from rich.console import Console

    Console(soft_wrap=False, width=max(console.width, 160)).print(table)


@app.command("show")
def quarantine_show(
    row_id: Annotated[int, typer.Argument(help="The row's id (`hub quarantine list`).")],
) -> None:
    """One quarantined row whole: its reason, source, file, line and raw text."""
    from sqlalchemy.orm import Session

    from hub.errors import NotFoundError
    from hub.ingest.quarantine import quarantined_row

    with Session(open_engine()) as session:
        row = quarantined_row(session, row_id)
    if row is None:
        raise NotFoundError(f"no quarantined row {row_id}; `hub quarantine list` shows them")
    for label, value in (
        ("id", row.id),
        ("source", row.source),
        ("kind", row.kind.value),
        ("file", row.file),
        ("line", row.line if row.line is not None else "-"),
        ("run", row.run_id),
        ("at", row.created_at.isoformat()),
        ("status", _status(row) + (f" at {row.released_at.isoformat()}" if row.released_at else "")),
        ("reason", row.reason),
    ):
        print(f"{label + ':':<8}{value}")
    print("raw text:")
    print(row.raw_text)


@app.command("export")
def quarantine_export(
    source: SourceOption = None,
    file: FileOption = None,
    reason: ReasonOption = None,
    all_rows: AllOption = False,
    output: Annotated[Path | None, typer.Option(help="Write here (default: standard output).")] = None,
) -> None:
    """The quarantined rows as CSV: id, source, kind, file, line, reason, raw_text, created_at, released_at
    (UTF-8)."""
    rows = _rows(source, file, reason, all_rows, None)
    if output is None:
        _write_csv(sys.stdout, rows)
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        _write_csv(out, rows)
    console.print(f"wrote {len(rows)} rows to {output}")


def _write_csv(out: TextIO, rows: list[QuarantinedRow]) -> None:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.id, row.source, row.kind.value, row.file, row.line if row.line is not None else "",
                row.reason, row.raw_text, row.created_at.isoformat(),
                row.released_at.isoformat() if row.released_at else "",
            )
        )  # fmt: skip

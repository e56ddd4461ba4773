"""`hub ingest`, `hub normalize` and `hub renormalize`: source files in, normalized features out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hub.cli.common import console, open_engine
from hub.domain import Kind

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.ingest import IngestSummary


def _print_summary(summary: IngestSummary) -> None:
    table = Table(title=f"{summary.file} → {summary.source} / {summary.kind.value}", title_justify="left")
    for column in ("new", "changed", "unchanged", "quarantined", "flagged"):
        table.add_column(column, justify="right")
    table.add_row(
        *(str(getattr(summary, c)) for c in ("new", "changed", "unchanged", "quarantined", "flagged"))
    )
    console.print(table)
    for reason, count in summary.reasons.most_common():
        console.print(f"  quarantined {count:>7} × {reason}")


def ingest(
    path: Annotated[Path, typer.Argument(help="A .jsonl, .ndjson, .json or .csv file.")],
    source: Annotated[str, typer.Option(help="The departmental source system, e.g. public_security.")],
    kind: Annotated[str, typer.Option(help="person, address or legal_entity.")],
    encoding: Annotated[str, typer.Option(help="utf-8 (BOM allowed) or gb18030.")] = "utf-8",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    resolve_now: Annotated[
        bool,
        typer.Option(
            "--resolve", help="Resolve the new and changed records at once against the stored entities."
        ),
    ] = False,
) -> None:
    """Ingest a departmental source file; bad rows are quarantined with their reason."""
    from hub.config import get_settings
    from hub.domain import parse_kind

    engine = open_engine()
    summary = ingest_with_progress(
        engine, path, source, parse_kind(kind), encoding, get_settings().ingest_batch, quiet
    )
    _print_summary(summary)
    print(
        f"new={summary.new} changed={summary.changed} unchanged={summary.unchanged} "
        f"quarantined={summary.quarantined}"
    )
    if resolve_now and summary.new + summary.changed:
        _resolve_run(engine, summary)


def _resolve_run(engine: Engine, summary: IngestSummary) -> None:
    """Resolve the records one ingest run added or changed."""
    from hub.resolve.run import resolve_ingest_run

    result = resolve_ingest_run(engine, summary.run_id, summary.kind)
    print(
        f"resolved={result.records} joined={result.joined} merged_entities={result.merged_entities} "
        f"review={result.review_items}"
    )


def ingest_with_progress(
    engine: Engine, path: Path, source: str, kind: Kind, encoding: str, batch: int, quiet: bool
) -> IngestSummary:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from hub.ingest import ingest_file

    show = not quiet and console.is_terminal and path.exists() and path.stat().st_size > 1 << 20
    if not show:
        return ingest_file(engine, path, source, kind, encoding=encoding, batch_size=batch)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"ingesting {path.name}", total=path.stat().st_size)
        return ingest_file(
            engine,
            path,
            source,
            kind,
            encoding=encoding,
            batch_size=batch,
            progress=lambda done, _total: bar.update(task, completed=done),
        )


def normalize(
    kind: Annotated[str, typer.Option(help="person, address or legal_entity.")],
    flags: Annotated[bool, typer.Option(help="Add a `flags` object naming malformed fields.")] = False,
) -> None:
    """Read JSON Lines records on standard input; write their normalized features, one JSON object a line."""
    import orjson

    from hub.domain import parse_kind
    from hub.normalize.records import normalize_record

    selected = parse_kind(kind)
    out = sys.stdout.buffer
    for number, line in enumerate(sys.stdin.buffer, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            console.print(f"line {number}: broken JSON ({exc}); skipped")
            continue
        if not isinstance(record, dict):
            console.print(f"line {number}: not a JSON object; skipped")
            continue
        normalized = normalize_record(selected, record)
        result = normalized.output()
        if flags:
            result["flags"] = normalized.flags
        out.write(orjson.dumps(result) + b"\n")
    out.flush()


def renormalize(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
) -> None:
    """Normalize the stored records again (after normalization improved); payloads stay as they are."""
    from hub.domain import parse_kind
    from hub.ingest.renormalize import renormalize as run

    summary = run(open_engine(), parse_kind(kind) if kind else None)
    print(f"checked={summary.checked} updated={summary.updated}")

"""`hub ingest`, `hub normalize` and `hub renormalize`: source files in, normalized features out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hub.cli.common import console, open_engine, print_table, selected_kinds
from hub.domain import Kind
from hub.logs import note

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.progress import Progress
    from sqlalchemy import Engine

    from hub.ingest import IngestSummary, LoadFile


_SHOWN_REASONS = 5
_COUNTS = ("new", "changed", "unchanged", "quarantined", "flagged")
_SEPARATOR_NAMES = {
    "\t": "tab",
    ";": "semicolon",
    "|": "vertical bar",
    "，": "full-width comma",
    "；": "full-width semicolon",
}


def _separator(summary: IngestSummary) -> str:
    name = _SEPARATOR_NAMES.get(summary.separator or "", summary.separator or "")
    return f"{name}, a printed table" if summary.printed else name


def _read_as(summary: IngestSummary) -> str:
    """How `hub load` read a file, for its table: the encoding (and whether it was detected), a
    separator other than the comma, and the source's stored column mapping; "-" for a workbook read
    with the built-in headers."""
    parts = []
    if summary.encoding is not None:
        parts.append(f"{summary.encoding} (detected)" if summary.encoding_detected else summary.encoding)
    if summary.separator is not None and summary.separator != ",":
        parts.append(_separator(summary))
    if summary.mapping_version is not None:
        parts.append(f"mapping v{summary.mapping_version}")
    return ", ".join(parts) or "-"


def _print_summary(summary: IngestSummary) -> None:
    if summary.encoding is not None:
        how = "detected" if summary.encoding_detected else "given"
        console.print(f"encoding: {summary.encoding} ({how})")
    if summary.separator is not None and summary.separator != ",":
        console.print(f"separator: {_separator(summary)} (detected)")
    if summary.mapping_version is not None:
        console.print(
            f"mapping: version {summary.mapping_version} of {summary.source}'s, over the built-in headers"
        )
    table = Table(title=f"{summary.file} → {summary.source} / {summary.kind.value}", title_justify="left")
    for column in _COUNTS:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(summary, c)) for c in _COUNTS))
    console.print(table)
    for reason, count in summary.reasons.most_common():
        console.print(f"  quarantined {count:>7} × {reason}")
    if summary.released:
        console.print(
            f"  released {summary.released} quarantined rows of earlier runs of {summary.file}:"
            " the file no longer has them (`hub quarantine list --all` shows them)"
        )
    warn_if_empty(summary)


def warn_if_empty(summary: IngestSummary) -> None:
    """A file without records is most often an export that failed at the department: say so."""
    if summary.read == 0:
        console.print(
            f"[yellow]warning:[/yellow] {summary.file} holds no records; an export that failed at the"
            " department looks like this (the hub's records stay as they were: none is removed for being"
            " absent)"
        )


def parse_share(text: str) -> float:
    """A share of rows: "0.5" or "50%" → 0.5; refused outside 0–1 (0–100%)."""
    from hub.errors import InputError

    cleaned = text.strip()
    try:
        share = float(cleaned[:-1]) / 100 if cleaned.endswith("%") else float(cleaned)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise InputError(
            f"--max-bad-rows {text!r}: expected a fraction from 0 to 1 (0.5) or a percentage (50%)"
        )
    return share


def _hint(summary: IngestSummary) -> str | None:
    """What the reasons suggest: another encoding, another separator, or a mapping that names the key."""
    encoding = summary.encoding or "utf-8"
    if any(reason.startswith("not valid") for reason in summary.reasons):
        others = [e for e in ("gb18030", "utf-8", "utf-16") if e != encoding]
        return (
            f"the rows do not decode as {encoding}: the file may be in another encoding;"
            f" try --encoding {others[0]} (or {others[1]})"
        )
    if summary.reasons.get("wrong field count", 0) * 2 > summary.quarantined:
        return (
            "most rows have another number of fields than the header: is a separator inside a value"
            " not quoted, or are the rows separated otherwise than the header?"
        )
    if summary.reasons.get("missing key", 0) * 2 > summary.quarantined:
        return (
            "no column gives the records' key: name it in a mapping file,"
            f' e.g. [columns] "人员编号" = "key", with `hub sources map {summary.source} FILE`'
        )
    return None


def _rows(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'} {'is' if count == 1 else 'are'}"


def report_not_read(summary: IngestSummary) -> bool:
    """Print how much of the file its reader could not split into records; whether there was any.
    Never a success: the rows in that part are neither stored nor quarantined one by one."""
    from hub.ingest.readers import NOT_READ_TO_END

    count = summary.reasons.get(NOT_READ_TO_END, 0)
    if not count:
        return False
    _line, whole = summary.examples[NOT_READ_TO_END]
    console.print(
        f"[red]error:[/red] {summary.file} was not read to its end; the unread part is quarantined"
        " as one row (`hub quarantine list` shows it):",
    )
    console.print(f"  {whole[:500]}", markup=False)
    return True


def report_too_many_bad_rows(summary: IngestSummary, max_share: float) -> bool:
    """Print why, when more than `max_share` of the file's rows were quarantined, or when the file
    was not read to its end (`report_not_read`); whether either was so."""
    not_read = report_not_read(summary)
    if summary.bad_share <= max_share:
        return not_read
    console.print(
        f"[red]error:[/red] {summary.quarantined} of {summary.read} rows of {summary.file}"
        f" ({summary.bad_share:.0%}) were quarantined, over --max-bad-rows {max_share:.0%};"
        f" {_rows(summary.read - summary.quarantined, 'good row')} stored. The reasons:"
    )
    for reason, count in summary.reasons.most_common(_SHOWN_REASONS):
        line, whole = summary.examples[reason]
        where = f"line {line}" if line is not None else "a row"
        console.print(f"  {count:>7} × {reason}   (first at {where}: {whole})", markup=False)
    if len(summary.reasons) > _SHOWN_REASONS:
        console.print(f"  … and {len(summary.reasons) - _SHOWN_REASONS} other reasons")
    console.print(
        f"  `hub quarantine list --source {summary.source} --file {summary.file}` lists the rows",
        markup=False,
    )
    if (hint := _hint(summary)) is not None:
        console.print(f"hint: {hint}", markup=False)
    return True


def ingest(
    path: Annotated[
        Path, typer.Argument(help="A .jsonl, .ndjson, .json, .csv (.tsv, .txt), .xlsx or .xls file.")
    ],
    source: Annotated[str, typer.Option(help="The departmental source system, e.g. public_security.")],
    kind: Annotated[str, typer.Option(help="person, address or legal_entity.")],
    encoding: Annotated[
        str | None,
        typer.Option(help="utf-8 (BOM allowed), gb18030 or utf-16 (with BOM); detected when left out."),
    ] = None,
    max_bad_rows: Annotated[
        str,
        typer.Option(
            help="Exit 1 when more than this share of the rows is quarantined: a fraction (0.5) or a"
            " percentage (50%); the good rows are stored either way."
        ),
    ] = "0.5",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    resolve_now: Annotated[
        bool,
        typer.Option(
            "--resolve", help="Resolve the new and changed records at once against the stored entities."
        ),
    ] = False,
) -> None:
    """Ingest a departmental source file; bad rows are quarantined with their reason.

    Exits 1, after storing the good rows, when more than --max-bad-rows of the rows were quarantined.
    """
    from hub.config import get_settings
    from hub.domain import parse_kind

    max_share = parse_share(max_bad_rows)
    engine = open_engine()
    summary = ingest_with_progress(
        engine, path, source, parse_kind(kind), encoding, get_settings().ingest_batch, quiet
    )
    _print_summary(summary)
    print(
        f"new={summary.new} changed={summary.changed} unchanged={summary.unchanged} "
        f"quarantined={summary.quarantined}"
    )
    note(
        source=summary.source,
        kind=summary.kind.value,
        run_id=summary.run_id,
        read=summary.read,
        new=summary.new,
        changed=summary.changed,
        unchanged=summary.unchanged,
        quarantined=summary.quarantined,
        flagged=summary.flagged,
    )
    if resolve_now and summary.new + summary.changed:
        _resolve_run(engine, summary)
    if report_too_many_bad_rows(summary, max_share):
        raise typer.Exit(1)


def load(
    manifest: Annotated[
        Path,
        typer.Argument(
            help='A JSON manifest listing the files: {"files": [{"path", "source", "kind",'
            ' "encoding"?}]}, paths relative to it (the manifest.json `hub generate` writes is one).'
        ),
    ],
    max_bad_rows: Annotated[
        str,
        typer.Option(
            help="Exit 1 when more than this share of a file's rows is quarantined: a fraction (0.5) or"
            " a percentage (50%); the good rows are stored either way."
        ),
    ] = "0.5",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    resolve_now: Annotated[
        bool,
        typer.Option(
            "--resolve",
            help="Then resolve what is new and rebuild the links, as `hub resolve` does (a kind's first"
            " run is a batch run).",
        ),
    ] = False,
) -> None:
    """Ingest every file a manifest lists, in its order: a night's exports in one command.

    Each file is ingested as `hub ingest` would (a run of its own, a commit every `HUB_INGEST_COMMIT`
    records), but the next file is read and normalized while the one before is still being written,
    so a load is faster than one command per file. Every file is checked before anything is stored.
    """
    from time import perf_counter

    from rich.box import SIMPLE_HEAD

    from hub.config import get_settings
    from hub.ingest.manifest import read_manifest

    max_share = parse_share(max_bad_rows)
    files = read_manifest(manifest)
    engine = open_engine()
    started = perf_counter()
    summaries = load_with_progress(engine, files, get_settings().ingest_batch, quiet)
    seconds = perf_counter() - started
    table = Table(box=SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("file", overflow="fold")
    table.add_column("source")
    table.add_column("kind")
    table.add_column("read as")
    for column in _COUNTS:
        table.add_column(column, justify="right")
    for summary in summaries:
        counts = (str(getattr(summary, c)) for c in _COUNTS)
        table.add_row(summary.file, summary.source, summary.kind.value, _read_as(summary), *counts)
    print_table(table, stderr=True)
    for summary in summaries:
        warn_if_empty(summary)
    totals = {c: sum(getattr(s, c) for s in summaries) for c in ("read", *_COUNTS)}
    runs = ",".join(str(s.run_id) for s in summaries)
    note(files=len(summaries), runs=runs, **totals)
    print(
        f"files={len(summaries)} runs={runs} new={totals['new']} changed={totals['changed']}"
        f" unchanged={totals['unchanged']} quarantined={totals['quarantined']} seconds={seconds:.1f}"
        f" records_per_second={totals['read'] / seconds if seconds else 0:.0f}"
    )
    changed = {summary.kind for summary in summaries if summary.new + summary.changed}
    if resolve_now and changed:
        from hub.cli.resolve import resolve_and_report

        resolve_and_report(engine, [k for k in selected_kinds(None) if k in changed], quiet=quiet)
    too_many = [report_too_many_bad_rows(summary, max_share) for summary in summaries]
    if any(too_many):
        raise typer.Exit(1)


def load_with_progress(
    engine: Engine,
    files: list[LoadFile],
    batch: int,
    quiet: bool,
    done: Callable[[IngestSummary], None] | None = None,
) -> list[IngestSummary]:
    """`ingest_files` with a progress bar over the load's bytes on a terminal; `done(summary)` after
    each file."""
    from hub.ingest import ingest_files

    sizes = [f.path.stat().st_size for f in files]
    if quiet or not console.is_terminal:
        return ingest_files(engine, files, batch_size=batch, done=done)
    before = [sum(sizes[:index]) for index in range(len(files))]
    with _bytes_bar() as bar:
        task = bar.add_task(f"loading {files[0].path.name}", total=sum(sizes))

        def advance(index: int, done: int, _size: int) -> None:
            bar.update(task, completed=before[index] + done, description=f"loading {files[index].path.name}")

        return ingest_files(engine, files, batch_size=batch, progress=advance, done=done)


def _bytes_bar() -> Progress:
    """A progress bar over the bytes read, on the terminal, gone once done; its task names the file."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _resolve_run(engine: Engine, summary: IngestSummary) -> None:
    """Resolve the records one ingest run added or changed, then rebuild the links (as `hub resolve`
    does after any run), so that the graph shows where the new records lead."""
    from hub.cli.resolve import links_line, one_resolution
    from hub.resolve.links import rebuild_links
    from hub.resolve.run import resolve_ingest_run

    with one_resolution(engine, then="run hub resolve: the file is stored, its records wait for it"):
        result = resolve_ingest_run(engine, summary.run_id, summary.kind)
        print(
            f"resolved={result.records} joined={result.joined} merged_entities={result.merged_entities} "
            f"review={result.review_items}"
        )
        print(links_line(rebuild_links(engine)))


def ingest_with_progress(
    engine: Engine, path: Path, source: str, kind: Kind, encoding: str | None, batch: int, quiet: bool
) -> IngestSummary:
    from hub.ingest import ingest_file

    show = not quiet and console.is_terminal and path.exists() and path.stat().st_size > 1 << 20
    if not show:
        return ingest_file(engine, path, source, kind, encoding=encoding, batch_size=batch)
    with _bytes_bar() as bar:
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

"""The `hub` command line: ingest, export, generate, serve and the quick-start demo.

Every command is one unit of work against `HUB_DATABASE_URL`; an empty database is created on first
use, while an older one must be migrated explicitly with `hub db upgrade`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.errors import HubError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.generate import CityManifest
    from hub.ingest import IngestSummary

app = typer.Typer(
    help="The link hub: links a city's person, address and legal-entity records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema: migrate with alembic.", no_args_is_help=True)
export_app = typer.Typer(help="Export data for other systems.", no_args_is_help=True)
clients_app = typer.Typer(help="API clients: tokens, roles and scopes.", no_args_is_help=True)
sources_app = typer.Typer(help="Source systems and how far each is trusted per field.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(clients_app, name="clients")
app.add_typer(sources_app, name="sources")
audit_app = typer.Typer(
    help="The audit trail of changes: check that it holds, anchor it outside the database.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

console = Console(stderr=True, soft_wrap=True)


def _engine(create_if_empty: bool = True) -> Engine:
    """Open the configured database; create the schema if it is empty, refuse if it is behind."""
    from hub.errors import DatabaseStateError
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, head_revision, upgrade

    engine = make_engine()
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


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision, upgrade

    engine = make_engine()
    before = current_revision(engine)
    upgrade(engine, revision)
    console.print(f"database {engine.url.render_as_string()}: {before} -> {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    from hub.store.database import make_engine
    from hub.store.migrations import current_revision

    print(current_revision(make_engine()))


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


@app.command()
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
    from hub.contract import parse_kind

    engine = _engine()
    summary = _ingest_with_progress(
        engine, path, source, parse_kind(kind).value, encoding, get_settings().ingest_batch, quiet
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
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.resolve.realtime import resolve_records
    from hub.store.models import Kind, RecordVersion

    with Session(engine) as session:
        record_ids = list(
            session.scalars(
                select(RecordVersion.record_id).where(RecordVersion.ingest_run_id == summary.run_id)
            )
        )
        result = resolve_records(session, Kind(summary.kind), record_ids)
        session.commit()
    print(
        f"resolved={result.records} joined={result.joined} merged_entities={result.merged_entities} "
        f"review={result.review_items}"
    )


def _ingest_with_progress(
    engine: Engine, path: Path, source: str, kind: str, encoding: str, batch: int, quiet: bool
) -> IngestSummary:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from hub.ingest import ingest_file
    from hub.store.models import Kind

    show = not quiet and console.is_terminal and path.exists() and path.stat().st_size > 1 << 20
    if not show:
        return ingest_file(engine, path, source, Kind(kind), encoding=encoding, batch_size=batch)
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
            Kind(kind),
            encoding=encoding,
            batch_size=batch,
            progress=lambda done, _total: bar.update(task, completed=done),
        )


@export_app.command("crosswalk")
def export_crosswalk(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write to FILE instead of standard output.")] = None,
) -> None:
    """CSV of every current source record with its entity: source,kind,key,entity_id."""
    from hub.contract import parse_kind
    from hub.export import write_crosswalk

    engine = _engine()
    selected = parse_kind(kind) if kind else None
    if output is None:
        count = write_crosswalk(engine, sys.stdout, selected)
        sys.stdout.flush()  # the rows before the count on a terminal showing both streams
    else:
        with output.open("w", encoding="utf-8", newline="") as out:
            count = write_crosswalk(engine, out, selected)
    console.print(f"[dim]{count} rows[/dim]")


@app.command()
def generate(
    persons: Annotated[int, typer.Option(min=1, help="Number of real persons in the city.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-city"),
) -> None:
    """Write a synthetic city's source files, truth.csv and manifest.json."""
    from rich.progress import Progress

    from hub.generate import generate_city

    out.mkdir(parents=True, exist_ok=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("generating", total=persons)
        manifest = generate_city(persons, seed, out, progress=lambda done: bar.update(task, completed=done))
    table = Table(title=f"city of {persons} persons, seed {seed}, in {out}", title_justify="left")
    for column in ("file", "source", "kind", "encoding", "records"):
        table.add_column(column)
    for f in manifest.files:
        table.add_row(f.path, f.source, f.kind, f.encoding, str(f.records))
    console.print(table)


@app.command()
def normalize(
    kind: Annotated[str, typer.Option(help="person, address or legal_entity.")],
    flags: Annotated[bool, typer.Option(help="Add a `flags` object naming malformed fields.")] = False,
) -> None:
    """Read JSON Lines records on standard input; write their normalized features, one JSON object a line."""
    import orjson

    from hub.contract import parse_kind
    from hub.normalize.records import normalize_record

    selected = parse_kind(kind).value
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


@app.command()
def renormalize(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
) -> None:
    """Normalize the stored records again (after normalization improved); payloads stay as they are."""
    from hub.contract import parse_kind
    from hub.ingest.renormalize import renormalize as run

    summary = run(_engine(), parse_kind(kind) if kind else None)
    print(f"checked={summary.checked} updated={summary.updated}")


def _kinds(kind: str | None) -> list[str]:
    from hub.contract import parse_kind

    return [parse_kind(kind).value] if kind else ["address", "legal_entity", "person"]


_REWRITTEN_BY_RESOLUTION = ("entity", "membership", "judgement", "review_item", "link", "link_evidence")


@app.command()
def resolve(
    kind: Annotated[str | None, typer.Option(help="Only this kind (default: all three).")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Resolve every record anew (a batch run), not only new ones.")
    ] = False,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", help="Match settings JSON instead of the built-in ones (implies --all)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
) -> None:
    """Resolve what is not resolved yet; with --all, every record of every kind anew.

    A kind never resolved gets a batch run (it trains the weights); after that, new and changed
    records are resolved one by one against the stored entities with the latest weights, unless they
    are more than half of the kind, which gets a batch run again.
    """
    import time

    import orjson
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from hub.config import get_settings
    from hub.errors import InputError
    from hub.resolve.batch import pending_records, resolve_kinds
    from hub.resolve.links import link_entities
    from hub.resolve.realtime import resolve_records
    from hub.resolve.settings import MatchSettings
    from hub.store.database import settle_after_bulk
    from hub.store.models import Kind, SourceRecord

    custom = None
    if settings_file is not None:
        try:
            custom = MatchSettings.from_json(orjson.loads(settings_file.read_bytes()))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"{settings_file}: {exc}") from exc
    engine = _engine()
    batch: list[Kind] = []
    incremental: dict[Kind, list[int]] = {}
    with Session(engine) as session:
        for name in _kinds(kind):
            pending = None if everything or custom is not None else pending_records(session, Kind(name))
            total = session.scalar(select(func.count()).where(SourceRecord.kind == Kind(name))) or 0
            if pending is None or len(pending) * 2 > total:
                batch.append(Kind(name))
            elif pending:
                incremental[Kind(name)] = pending
            else:
                print(f"{name}: up to date, nothing new since the last run")
    print(
        f"{'kind':<14}{'records':>10}{'entities':>10}{'new':>10}{'retired':>11}{'moved':>11}"
        f"{'pairs':>11}{'review':>8}{'seconds':>9}"
    )
    started = time.perf_counter()
    with console.status("resolving …", spinner="dots") as status:

        def progress(kind: Kind, stage: str) -> None:
            if not quiet:
                status.update(f"resolving {kind.value}: {stage} done …")

        for summary in resolve_kinds(
            engine, batch, settings=custom, workers=get_settings().resolve_workers, progress=progress
        ):
            seconds = sum(summary.stats["seconds"].values())
            print(
                f"{summary.kind.value:<14}{summary.records:>10,}{summary.entities:>10,}{summary.created:>10,}"
                f"{summary.retired:>11,}{summary.moved_records:>11,}{summary.stats['candidate_pairs']:>11,}"
                f"{summary.review_items:>8,}{seconds:>9.1f}",
                flush=True,
            )
        for incremental_kind, record_ids in incremental.items():
            progress(incremental_kind, f"{len(record_ids):,} new records")
            clock = time.perf_counter()
            with Session(engine) as session:
                result = resolve_records(session, incremental_kind, record_ids)
                session.commit()
            print(
                f"{incremental_kind.value:<14}{result.records:>10,} new or changed, resolved one by one:"
                f" {result.joined:,} joined an entity, {result.merged_entities:,} entities merged,"
                f" {result.review_items:,} for review ({time.perf_counter() - clock:.1f} s)",
                flush=True,
            )
    print(f"resolved in {time.perf_counter() - started:.1f} s")
    with Session(engine) as session:
        links = link_entities(session)
        session.commit()
    missing = ", ".join(f"{relation} {count:,}" for relation, count in sorted(links.unresolved.items()))
    print(
        f"links: {links.links:,} current ({links.added:,} new, {links.closed:,} closed)"
        + (f"; references that resolved to no single entity: {missing}" if missing else "")
    )
    if batch:
        clock = time.perf_counter()
        if settle_after_bulk(engine, _REWRITTEN_BY_RESOLUTION):
            print(f"vacuumed and analyzed the rewritten tables in {time.perf_counter() - clock:.1f} s")


@app.command("settings")
def settings_command(
    kind: Annotated[str, typer.Argument(help="person, address or legal_entity.")],
) -> None:
    """Print the built-in match settings of KIND as JSON: a starting point for `hub resolve --settings`."""
    import orjson

    from hub.contract import parse_kind
    from hub.resolve.kinds import SETTINGS

    text = orjson.dumps(SETTINGS[parse_kind(kind).value].to_json(), option=orjson.OPT_INDENT_2)
    sys.stdout.write(text.decode() + "\n")


def _record(session: object, reference: str) -> tuple[int, str]:
    """A record id from `source/kind/key` or a plain record id."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.contract import parse_kind
    from hub.errors import InputError, NotFoundError
    from hub.store.models import Source, SourceRecord

    assert isinstance(session, Session)
    if reference.isdigit():
        row = session.get(SourceRecord, int(reference))
        if row is None:
            raise NotFoundError(f"no source record with id {reference}")
        return row.id, row.kind.value
    parts = reference.split("/", 2)
    if len(parts) != 3:
        raise InputError(f"{reference!r}: give a record as SOURCE/KIND/KEY or as its numeric id")
    source, kind, key = parts
    found = session.execute(
        select(SourceRecord.id, SourceRecord.kind)
        .join(Source, Source.id == SourceRecord.source_id)
        .where(Source.name == source, SourceRecord.kind == parse_kind(kind), SourceRecord.key == key)
    ).first()
    if found is None:
        raise NotFoundError(f"no source record {reference}")
    return found[0], found[1].value


@app.command()
def explain(
    record_a: Annotated[str, typer.Argument(help="SOURCE/KIND/KEY or a record id.")],
    record_b: Annotated[str, typer.Argument(help="SOURCE/KIND/KEY or a record id.")],
) -> None:
    """Why two records are (or are not) one entity: each comparison's level and weight, as a waterfall."""
    from sqlalchemy.orm import Session

    from hub.resolve.explain import explain_records, format_waterfall

    with Session(_engine()) as session:
        a, _ = _record(session, record_a)
        b, _ = _record(session, record_b)
        result = explain_records(session, a, b)
    sys.stdout.write(format_waterfall(result, record_a, record_b))


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option(help="CSV with source,kind,key,true_id (as `hub generate` writes).")],
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    worst: Annotated[
        int, typer.Option(min=0, help="How many worst false merges and missed links to list.")
    ] = 10,
) -> None:
    """Compare the current entities with a ground truth: pairwise and B-cubed precision, recall, F1."""
    from sqlalchemy.orm import Session

    from hub.resolve.evaluate import evaluate as run
    from hub.resolve.evaluate import format_evaluation
    from hub.resolve.truth import current_clusters, read_truth

    expected = read_truth(truth)
    with Session(_engine()) as session:
        for name in _kinds(kind):
            predicted = current_clusters(session, name)
            wanted = {k: v for k, v in expected.items() if k[1] == name}
            result = run(predicted, wanted, worst=worst)
            sys.stdout.write(format_evaluation(name, result) + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve /graphql and /health on HUB_DATABASE_URL."""
    import uvicorn

    _engine().dispose()
    uvicorn.run(
        "hub.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def schema() -> None:
    """Print the GraphQL schema (the same text as schema.graphql)."""
    from hub.api import schema_sdl

    sys.stdout.write(schema_sdl())


@app.command()
def demo(
    persons: Annotated[int, typer.Option(min=1, help="Persons in the demo city.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    out: Annotated[Path, typer.Option(help="Where the city's files go.")] = Path("demo-city"),
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the city and stop.")] = False,
) -> None:
    """The quick start: generate a city, ingest every file, serve GraphQL."""
    from hub.config import get_settings
    from hub.generate import generate_city

    engine = _engine()
    console.print(f"[bold]1/4[/bold] generating a city of {persons} persons in {out}/ …")
    manifest = generate_city(persons, seed, out)
    console.print(f"[bold]2/4[/bold] ingesting {len(manifest.files)} source files …")
    batch = get_settings().ingest_batch
    for f in manifest.files:
        summary = _ingest_with_progress(engine, out / f.path, f.source, f.kind, f.encoding, batch, False)
        console.print(
            f"  {f.path:<36} new {summary.new:>7}  changed {summary.changed:>5}"
            f"  unchanged {summary.unchanged:>7}  quarantined {summary.quarantined:>4}"
            f"  flagged {summary.flagged:>4}",
            soft_wrap=True,
        )
    console.print("[bold]3/4[/bold] resolving records into entities …")
    _demo_trust(engine)
    resolve(kind=None, everything=False, settings_file=None, quiet=True)
    tokens = _demo_clients(engine)
    engine.dispose()
    url = f"http://{host}:{port}/graphql"
    key = _first_key(out, manifest)
    query = (
        f'{{ sourceRecord(source: \\"household_registry\\", kind: PERSON, key: \\"{key}\\") '
        "{ entityId version flags { field reason } } }"
    )
    where = engine.url.render_as_string()
    console.print(
        "[bold]4/4[/bold] "
        + (f"loaded into {where}; serve it with `hub serve`" if no_serve else f"serving {where}")
    )
    print(
        f"\n  GraphQL (GraphiQL in a browser): {url}\n"
        f"  Health:                          http://{host}:{port}/health\n"
        "  Demo clients (send `Authorization: Bearer <token>`):\n"
        + "".join(f"    {name:<14} {token}\n" for name, token in tokens.items())
        + "  Try:\n"
        f"    curl -s {url} -H 'content-type: application/json' \\\n"
        f"      -H 'authorization: Bearer {tokens['reader']}' \\\n"
        f'      -d \'{{"query": "{query}"}}\'\n'
        "  The city's graph, three hops from an address:\n"
        '    { searchAddresses(text: "…") { address { text residents { person { name legalEntities {\n'
        "      role legalEntity { name addresses { address { text } } } } } } } } }\n"
        "  Crosswalk: hub export crosswalk --output crosswalk.csv\n"
        f"  Quality:   hub evaluate --truth {out}/truth.csv\n"
        "  Stop with Ctrl+C.\n",
        flush=True,
    )
    if not no_serve:
        serve(host=host, port=port, workers=1)


@clients_app.command("add")
def clients_add(
    name: Annotated[str, typer.Argument(help="A unique name, e.g. the calling department's system.")],
    role: Annotated[str, typer.Option(help="reader, steward, auditor or admin.")] = "reader",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="person, address, legal_entity (kinds it reads; default all three) or pii:read (personal"
            " fields unmasked). Repeat for several."
        ),
    ] = None,
) -> None:
    """Register an API client; its token is printed once, alone on the last line."""
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.clients import add_client

    with Session(_engine()) as session, session.begin():
        token = add_client(session, name, role, scope or ())
        record_event(
            session, _actor(), "client.add", [f"client:{name}"], after={"role": role, "scopes": scope or []}
        )
    scopes = ", ".join(scope or ()) or "all kinds, personal fields masked"
    print(f"client {name!r} added as {role} ({scopes}); keep this token, it is not shown again:")
    print(token)


@clients_app.command("list")
def clients_list() -> None:
    """The registered clients, their roles and scopes (never their tokens)."""
    from sqlalchemy.orm import Session

    from hub.clients import list_clients

    with Session(_engine()) as session:
        clients = list_clients(session)
        print(f"{'name':<24}{'role':<10}{'scopes':<40}status")
        for c in clients:
            status = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
            print(f"{c.name:<24}{c.role:<10}{', '.join(c.scopes) or '-':<40}{status}")


@clients_app.command("revoke")
def clients_revoke(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Refuse a client's token from the next request on."""
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.clients import revoke_client

    with Session(_engine()) as session, session.begin():
        revoke_client(session, name)
        record_event(session, _actor(), "client.revoke", [f"client:{name}"])
    print(f"client {name!r} revoked")


@sources_app.command("list")
def sources_list() -> None:
    """The source systems and their trust per field (higher wins when golden values are chosen)."""
    import orjson
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.store.models import Source

    with Session(_engine()) as session:
        for source in session.scalars(select(Source).order_by(Source.name)):
            print(f"{source.name:<24}{orjson.dumps(source.trust).decode() if source.trust else '-'}")


@sources_app.command("trust")
def sources_trust(
    name: Annotated[str, typer.Argument(help="The source system.")],
    ranks: Annotated[
        list[str],
        typer.Argument(help='FIELD=RANK pairs, e.g. name=90 id_number=90 "*=50" (* for every other field).'),
    ],
) -> None:
    """Set how far a source is trusted per golden field (0 when unset; higher wins)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.errors import InputError, NotFoundError
    from hub.store.models import Source

    parsed: dict[str, int] = {}
    for item in ranks:
        field, _, rank = item.partition("=")
        if not field or not rank.lstrip("-").isdigit():
            raise InputError(f"{item!r}: expected FIELD=RANK with a whole-number rank")
        parsed[field] = int(rank)
    with Session(_engine()) as session, session.begin():
        source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
        if source is None:
            raise NotFoundError(f"no source named {name!r}; `hub sources list` shows them")
        before = dict(source.trust or {})
        source.trust = {**before, **parsed}
        trusted = {"trust": source.trust}
        record_event(
            session, _actor(), "source.trust", [f"source:{name}"], before={"trust": before}, after=trusted
        )
    print(f"{name}: trust {parsed}")


_DEMO_TRUST = {
    "household_registry": {"name": 90, "id_number": 90, "birth_date": 90, "gender": 90, "*": 70},
    "doorplate_platform": {"*": 90},
    "market_regulation": {"*": 90},
    "tax": {"phone": 70, "*": 60},
    "migrant_registry": {"*": 50},
    "grid_collection": {"address": 80, "phone": 60, "*": 40},
    "rental_registry": {"*": 30},
}


def _demo_trust(engine: Engine) -> None:
    """Rank the demo city's sources for golden values: registries over field collection."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.store.models import Source

    with Session(engine) as session, session.begin():
        for source in session.scalars(select(Source)):
            if source.name in _DEMO_TRUST and not source.trust:
                source.trust = _DEMO_TRUST[source.name]


def _demo_clients(engine: Engine) -> dict[str, str]:
    """A reader (personal fields masked), a reader with pii:read, and a steward, with fresh tokens."""
    import time

    from sqlalchemy.orm import Session

    from hub.clients import add_client

    suffix = time.strftime("%Y%m%d%H%M%S")
    wanted = {"reader": ("reader", ()), "reader+pii": ("reader", ("pii:read",)), "steward": ("steward", ())}
    with Session(engine) as session, session.begin():
        return {
            label: add_client(session, f"demo-{label}-{suffix}", role, scopes)
            for label, (role, scopes) in wanted.items()
        }


def _first_key(out: Path, manifest: CityManifest) -> str:
    import orjson

    for f in manifest.files:
        if f.source == "household_registry" and f.path.endswith(".jsonl"):
            with (out / f.path).open("rb") as handle:
                return str(orjson.loads(handle.readline())["key"])
    return "KEY"


def main() -> None:
    """Entry point of the `hub` console script: expected errors print a message, not a trace."""
    try:
        app()
    except HubError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from None


def _actor() -> str:
    """Who runs a command, for the audit trail: `HUB_ACTOR` if set, else the login name."""
    import getpass

    return os.environ.get("HUB_ACTOR") or f"cli:{getpass.getuser()}"


_KEY_FILE_HELP = "The checkpoint key (default: the file HUB_AUDIT_KEY_FILE names)."


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint file: the trail must still reach each of its signed heads."),
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help=_KEY_FILE_HELP)] = None,
) -> None:
    """Walk the audit trail's hash chain (and check its checkpoints); exit 1 naming what does not hold."""
    from sqlalchemy.orm import Session

    from hub.audit import check_checkpoint, load_key, read_checkpoints, verify

    points, key = [], b""
    if checkpoint is not None:
        key = load_key(key_file)
        points = read_checkpoints(checkpoint)
    with Session(_engine()) as session:
        check = verify(session)
        failures = [problem for point in points if (problem := check_checkpoint(session, point, key))]
    if check.ok:
        print(f"ok: {check.checked:,} events hold; head {check.head_hash}")
    else:
        print(f"BROKEN at event {check.broken_id}: {check.reason} ({check.checked:,} events before it hold)")
    for problem in failures:
        print(f"BROKEN: {problem}")
    if points and not failures:
        newest = points[-1]
        print(f"ok: {len(points):,} checkpoints hold, the newest the {newest.describe()}")
        if check.ok and check.checked > newest.events:
            later = check.checked - newest.events
            print(f"note: {later:,} events came after it; checkpoint again to anchor them")
    if failures or not check.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    output: Annotated[
        Path | None,
        typer.Option(help="Append the checkpoint to this JSON Lines file (default: print it)."),
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help=_KEY_FILE_HELP)] = None,
) -> None:
    """Sign the trail's head (count, head event and hash, time) with a key kept outside the database."""
    from sqlalchemy.orm import Session

    from hub.audit import checkpoint as sign_head
    from hub.audit import load_key

    key = load_key(key_file)
    with Session(_engine()) as session:
        check, point = sign_head(session, key)
    if point is None:
        print(
            f"BROKEN at event {check.broken_id}: {check.reason} ({check.checked:,} events before it hold);"
            " no checkpoint written"
        )
        raise typer.Exit(1)
    if output is None:
        sys.stdout.write(point.line())
        return
    with output.open("a", encoding="utf-8") as handle:
        handle.write(point.line())
    print(f"{point.describe()} appended to {output}")

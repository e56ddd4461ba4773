"""`hub generate` and `hub demo`: a synthetic city, and the quick start that loads and serves one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hub.cli.common import console, open_engine
from hub.cli.ingest import load_with_progress
from hub.cli.resolve import resolve
from hub.cli.serve import PORT, check_startup, serve
from hub.domain import Kind

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.generate import CityManifest


def generate(
    persons: Annotated[int, typer.Option(min=1, help="Number of real persons in the city.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-city"),
    profile: Annotated[
        str,
        typer.Option(
            help="How the offices write their records: `classic`, or `field-notes` (the patterns of"
            " docs/field-notes.md, frozen)."
        ),
    ] = "classic",
) -> None:
    """Write a synthetic city's source files, truth.csv, relations.csv and manifest.json."""
    from rich.progress import Progress

    from hub.generate import PROFILES, generate_city

    if profile not in PROFILES:
        raise typer.BadParameter(f"{profile!r}: choose one of {', '.join(PROFILES)}", param_hint="--profile")
    out.mkdir(parents=True, exist_ok=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("generating", total=persons)
        manifest = generate_city(
            persons, seed, out, progress=lambda done: bar.update(task, completed=done), profile=profile
        )
    title = f"city of {persons} persons, seed {seed}, {profile} profile, in {out}"
    table = Table(title=title, title_justify="left")
    for column in ("file", "source", "kind", "encoding", "records"):
        table.add_column(column)
    for f in manifest.files:
        table.add_row(f.path, f.source, f.kind, f.encoding, str(f.records))
    console.print(table)


def demo(
    persons: Annotated[int, typer.Option(min=1, help="Persons in the demo city.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    out: Annotated[Path, typer.Option(help="Where the city's files go.")] = Path("demo-city"),
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, PORT] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the city and stop.")] = False,
) -> None:
    """The quick start: generate a city, ingest every file, serve GraphQL."""
    from hub.config import get_settings
    from hub.generate import generate_city
    from hub.ingest import IngestSummary, LoadFile

    engine = open_engine()
    if not no_serve:  # an address it cannot serve on is said now, not after the city is loaded
        check_startup(host, port, 1)
    console.print(f"[bold]1/4[/bold] generating a city of {persons} persons in {out}/ …")
    manifest = generate_city(persons, seed, out)
    console.print(f"[bold]2/4[/bold] ingesting {len(manifest.files)} source files …")
    files = [LoadFile(out / f.path, f.source, Kind(f.kind), f.encoding) for f in manifest.files]

    def done(summary: IngestSummary) -> None:
        console.print(
            f"  {summary.file:<36} new {summary.new:>7}  changed {summary.changed:>5}"
            f"  unchanged {summary.unchanged:>7}  quarantined {summary.quarantined:>4}"
            f"  flagged {summary.flagged:>4}",
            soft_wrap=True,
        )

    load_with_progress(engine, files, get_settings().ingest_batch, False, done)
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
    clients = "".join(f"    {name:<14} {token}\n" for name, token in tokens.items())
    graph = (
        "  The city's graph, three hops from an address:\n"
        '    { searchAddresses(text: "…") { address { text residents { person { name legalEntities {\n'
        "      role legalEntity { name addresses { address { text } } } } } } } } }\n"
        "  Crosswalk: hub export crosswalk --output crosswalk.csv\n"
        f"  Quality:   hub evaluate --truth {out}\n"
    )
    if no_serve:  # nothing listens: no address to open, nothing to stop, only how to start it
        print(
            f"\n  Serve it:  hub serve --host {host} --port {port}\n"
            "             then /console/ (stewards, auditors), /graphql (GraphiQL in a browser) and"
            " /health on that host and port\n"
            "  Demo clients (send `Authorization: Bearer <token>`; sign in to the console with the"
            " steward's or auditor's):\n" + clients + graph,
            flush=True,
        )
        return
    print(
        f"\n  Console (stewards, auditors):    http://{host}:{port}/console/"
        " (sign in with the steward's or auditor's token)\n"
        f"  GraphQL (GraphiQL in a browser): {url}\n"
        f"  Health:                          http://{host}:{port}/health\n"
        "  Demo clients (send `Authorization: Bearer <token>`):\n" + clients + "  Try:\n"
        f"    curl -s {url} -H 'content-type: application/json' \\\n"
        f"      -H 'authorization: Bearer {tokens['reader']}' \\\n"
        f'      -d \'{{"query": "{query}"}}\'\n' + graph + "  Stop with Ctrl+C.\n",
        flush=True,
    )
    serve(host=host, port=port, workers=1)


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
    """A reader (personal fields masked), a reader with pii:read, a steward and an auditor (who sign in
    to the console), with fresh tokens."""
    import time

    from sqlalchemy.orm import Session

    from hub.clients import add_client

    suffix = time.strftime("%Y%m%d%H%M%S")
    wanted = {
        "reader": ("reader", ()),
        "reader+pii": ("reader", ("pii:read",)),
        "steward": ("steward", ()),
        "auditor": ("auditor", ()),
    }
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

"""`hub resolve`, `hub settings`, `hub explain` and `hub evaluate`: records into entities, and why."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli.common import console, open_engine, selected_kinds
from hub.logs import note

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.domain import Kind
    from hub.resolve.links import LinkSummary
    from hub.resolve.persist import RunSummary
    from hub.resolve.settings import MatchSettings


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
    import orjson

    from hub.errors import InputError
    from hub.resolve.settings import MatchSettings

    custom = None
    if settings_file is not None:
        try:
            custom = MatchSettings.from_json(orjson.loads(settings_file.read_bytes()))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise InputError(f"{settings_file}: {exc}") from exc
    resolve_and_report(
        open_engine(), selected_kinds(kind), everything=everything, settings=custom, quiet=quiet
    )


def resolve_and_report(
    engine: Engine,
    kinds: list[Kind],
    *,
    everything: bool = False,
    settings: MatchSettings | None = None,
    quiet: bool = False,
) -> None:
    """`hub resolve`'s work and report, for `kinds` (also `hub load --resolve`'s): what is not resolved
    yet, or with `everything` (or `settings`) every record anew; then the links, rebuilt. One at a
    time on a database (`hub.store.locks`): two would plan the same records and each merge them."""
    with one_resolution(engine):
        _resolve_and_report(engine, kinds, everything=everything, settings=settings, quiet=quiet)


def one_resolution(engine: Engine, then: str = "run this again") -> AbstractContextManager[None]:
    """The lock every command that resolves holds (`hub resolve`, `hub load --resolve`, `hub ingest
    --resolve`), refused at once while another holds it, saying to wait and `then` do what."""
    from hub.store.locks import exclusive

    return exclusive(engine, "resolve", "another hub resolve (or hub load --resolve)", then)


def _resolve_and_report(
    engine: Engine, kinds: list[Kind], *, everything: bool, settings: MatchSettings | None, quiet: bool
) -> None:
    from hub.resolve.run import IncrementalRun, plan_resolution, run_resolution

    plan = plan_resolution(engine, kinds, everything=everything or settings is not None)
    for fresh in plan.up_to_date:
        print(f"{fresh.value}: up to date, nothing new since the last run")
    print(
        f"{'kind':<14}{'records':>10}{'entities':>10}{'new':>10}{'retired':>11}{'moved':>11}"
        f"{'pairs':>11}{'review':>8}{'seconds':>9}"
    )
    # The command's log line (`hub.command`): what the operator's dashboard would chart per night.
    figures = ("records", "entities", "entities_new", "entities_retired", "moved", "review_items")
    totals = dict.fromkeys(figures, 0)
    resolved: list[str] = []
    with console.status("resolving …", spinner="dots") as status:

        def progress(kind: Kind, stage: str) -> None:
            if not quiet:
                status.update(f"resolving {kind.value}: {stage} done …")

        def print_kind(summary: RunSummary | IncrementalRun) -> None:
            resolved.append(summary.kind.value)
            if isinstance(summary, IncrementalRun):
                result = summary.result
                totals["records"] += result.records
                totals["review_items"] += result.review_items
                print(
                    f"{summary.kind.value:<14}{result.records:>10,} new or changed, resolved one by one:"
                    f" {result.joined:,} joined an entity, {result.merged_entities:,} entities merged,"
                    f" {result.review_items:,} for review ({summary.seconds:.1f} s)",
                    flush=True,
                )
                return
            seconds = sum(summary.stats["seconds"].values())
            totals["records"] += summary.records
            totals["entities"] += summary.entities
            totals["entities_new"] += summary.created
            totals["entities_retired"] += summary.retired
            totals["moved"] += summary.moved_records
            totals["review_items"] += summary.review_items
            print(
                f"{summary.kind.value:<14}{summary.records:>10,}{summary.entities:>10,}{summary.created:>10,}"
                f"{summary.retired:>11,}{summary.moved_records:>11,}{summary.stats['candidate_pairs']:>11,}"
                f"{summary.review_items:>8,}{seconds:>9.1f}",
                flush=True,
            )

        outcome = run_resolution(engine, plan, settings=settings, progress=progress, on_kind=print_kind)
    print(f"resolved in {outcome.seconds:.1f} s")
    links = outcome.links
    print(links_line(links))
    note(
        kinds=",".join(resolved) or "-",
        **totals,
        resolve_seconds=round(outcome.seconds, 3),
        links=links.links,
        links_added=links.added,
    )
    if links.derived:
        print(
            f"{links.derived:,} addresses written in person or company records that no address record"
            " describes became address records of the hub's own source (hub)"
        )
    if links.unresolved:
        print("references that resolved to no single entity:")
        for relation, count in sorted(links.unresolved.items()):
            why = links.reasons.get(relation, {})
            detail = ", ".join(f"{reason} {n:,}" for reason, n in sorted(why.items(), key=lambda i: -i[1]))
            print(f"  {relation} {count:,}" + (f" ({detail})" if detail else ""))
    if outcome.settled_seconds is not None:
        print(f"vacuumed and analyzed the rewritten tables in {outcome.settled_seconds:.1f} s")


def settings_command(
    kind: Annotated[str, typer.Argument(help="person, address or legal_entity.")],
) -> None:
    """Print the built-in match settings of KIND as JSON: a starting point for `hub resolve --settings`."""
    import orjson

    from hub.domain import parse_kind
    from hub.resolve.kinds import SETTINGS

    text = orjson.dumps(SETTINGS[parse_kind(kind)].to_json(), option=orjson.OPT_INDENT_2)
    sys.stdout.write(text.decode() + "\n")


def _record(session: object, reference: str) -> tuple[int, str]:
    """A record id from `source/kind/key` or a plain record id."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.domain import parse_kind
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


def explain(
    record_a: Annotated[str, typer.Argument(help="SOURCE/KIND/KEY or a record id.")],
    record_b: Annotated[str, typer.Argument(help="SOURCE/KIND/KEY or a record id.")],
) -> None:
    """Why two records are (or are not) one entity: each comparison's level and weight, as a waterfall."""
    from sqlalchemy.orm import Session

    from hub.resolve.explain import explain_records, format_waterfall

    with Session(open_engine()) as session:
        a, _ = _record(session, record_a)
        b, _ = _record(session, record_b)
        result = explain_records(session, a, b)
    sys.stdout.write(format_waterfall(result, record_a, record_b))


def evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            help="A generated city's folder (truth.csv, and relations.csv to score the links too), or a"
            " CSV with source,kind,key,true_id."
        ),
    ],
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    worst: Annotated[
        int, typer.Option(min=0, help="How many worst false merges and missed links to list.")
    ] = 10,
) -> None:
    """Compare the current entities with a ground truth: pairwise and B-cubed precision, recall, F1;
    with relations.csv beside the truth, the links per relation too."""
    from sqlalchemy.orm import Session

    from hub.domain import Kind
    from hub.resolve.evaluate import evaluate as run
    from hub.resolve.evaluate import format_evaluation, link_scores
    from hub.resolve.truth import (
        current_clusters,
        current_links,
        read_relations,
        read_truth,
        true_ids_of_entities,
    )

    folder = truth if truth.is_dir() else truth.parent
    expected = read_truth(folder / "truth.csv" if truth.is_dir() else truth)
    relations = folder / "relations.csv"
    with Session(open_engine()) as session:
        for name in selected_kinds(kind):
            predicted = current_clusters(session, name)
            wanted = {k: v for k, v in expected.items() if k[1] == name}
            result = run(predicted, wanted, worst=worst)
            sys.stdout.write(format_evaluation(name, result) + "\n")
        if kind is None and relations.exists():
            clusters = {k: v for each in Kind for k, v in current_clusters(session, each).items()}
            scores = link_scores(
                current_links(session), true_ids_of_entities(clusters, expected), read_relations(relations)
            )
            sys.stdout.write("links (relation: precision, recall, F1)\n")
            for relation, s in scores.items():
                sys.stdout.write(f"  {relation:<26}{s.precision:>8.4f}{s.recall:>8.4f}{s.f1:>8.4f}\n")


def links_line(links: LinkSummary) -> str:
    """The line that says what rebuilding the links came to."""
    return f"links: {links.links:,} current ({links.added:,} new, {links.closed:,} closed)"

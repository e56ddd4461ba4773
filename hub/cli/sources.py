"""`hub sources`: the source systems and how far each is trusted per golden field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import actor, open_engine

app = typer.Typer(
    help="Source systems: how far each is trusted per field, and how their files' columns map to fields.",
    no_args_is_help=True,
)


@app.command("list")
def sources_list() -> None:
    """The source systems and their trust per field (higher wins when golden values are chosen)."""
    import orjson
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.store.models import Source

    with Session(open_engine()) as session:
        for source in session.scalars(select(Source).order_by(Source.name)):
            print(f"{source.name:<24}{orjson.dumps(source.trust).decode() if source.trust else '-'}")


@app.command("trust")
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
    with Session(open_engine()) as session, session.begin():
        source = session.scalars(select(Source).where(Source.name == name)).one_or_none()
        if source is None:
            raise NotFoundError(f"no source named {name!r}; `hub sources list` shows them")
        before = dict(source.trust or {})
        source.trust = {**before, **parsed}
        trusted = {"trust": source.trust}
        record_event(
            session, actor(), "source.trust", [f"source:{name}"], before={"trust": before}, after=trusted
        )
    print(f"{name}: trust {parsed}")


@app.command("map")
def sources_map(
    name: Annotated[str, typer.Argument(help="The source system (registered if new).")],
    file: Annotated[Path, typer.Argument(help="A TOML mapping: \\[columns], \\[values.FIELD], \\[dates].")],
) -> None:
    """Store a new version of the source's column mapping; later ingests of the source apply it."""
    from sqlalchemy.orm import Session

    from hub.audit import record_event
    from hub.domain import DERIVED_SOURCE
    from hub.errors import InputError
    from hub.ingest.mapping import parse_mapping
    from hub.ingest.service import get_or_create_source
    from hub.ingest.stored_mappings import store_mapping

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read the mapping file as UTF-8 text ({exc})") from exc
    if name == DERIVED_SOURCE:
        raise InputError(f"the source name {name!r} is the hub's own; name the departmental system")
    mapping = parse_mapping(text, file.name)
    with Session(open_engine()) as session, session.begin():
        source = get_or_create_source(session, name)
        stored = store_mapping(session, source, text, file.name, actor())
        record_event(
            session,
            actor(),
            "source.map",
            [f"source:{name}"],
            after={"mapping_version": stored.version, "file": file.name},
        )
        version = stored.version
    print(
        f"{name}: mapping version {version} ({len(mapping.columns)} columns,"
        f" {len(mapping.values)} value maps, {len(mapping.dates)} date fields)"
    )


@app.command("mapping")
def sources_mapping(
    name: Annotated[str, typer.Argument(help="The source system.")],
    version: Annotated[
        int | None, typer.Option(help="This version (default: the newest, which ingests use).")
    ] = None,
) -> None:
    """Print a source's column mapping as stored: its version, file, who stored it and when, its text."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hub.errors import NotFoundError
    from hub.store.models import Source, SourceMapping

    query = (
        select(SourceMapping)
        .join(Source, Source.id == SourceMapping.source_id)
        .where(Source.name == name)
        .order_by(SourceMapping.version.desc())
        .limit(1)
    )
    if version is not None:
        query = query.where(SourceMapping.version == version)
    with Session(open_engine()) as session:
        stored = session.scalars(query).one_or_none()
    if stored is None:
        which = f"version {version}" if version is not None else "mapping"
        raise NotFoundError(f"{name!r} has no {which}; `hub sources map {name} FILE` stores one")
    print(
        f"# {name}: mapping version {stored.version} from {stored.file_name},"
        f" stored by {stored.actor} at {stored.created_at.isoformat()}"
    )
    print(stored.text, end="" if stored.text.endswith("\n") else "\n")

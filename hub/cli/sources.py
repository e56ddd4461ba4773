"""`hub sources`: the source systems and how far each is trusted per golden field."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.common import actor, open_engine

app = typer.Typer(help="Source systems and how far each is trusted per field.", no_args_is_help=True)


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

"""`changes`: the change feed over GraphQL, for a department that keeps a copy of the graph by polling.

The entries are `hub.changes`': entities created, changed, merged or split and links opened or closed,
in commit order. A client reads only the kinds it may read: an entry shows when both entities it names
are of such kinds. Who made a change shows as its kind of actor (ingestion, resolution, a steward),
never a steward's name.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from hub.api.context import Info
from hub.api.records import EntityKind
from hub.changes import MAX_CHANGES, Change, change_cursor, changes_after, cursor_position
from hub.domain import Kind, LinkRelation
from hub.errors import InputError

__all__ = ["ChangeFeed", "changes"]


@strawberry.enum(description="What an entry of the change feed says happened.")
class ChangeKind(Enum):
    CREATED = strawberry.enum_value("created", description="A new entity.")
    CHANGED = strawberry.enum_value(
        "changed",
        description="Records joined or left it, a source changed one, or a steward set a value.",
    )
    MERGED = strawberry.enum_value("merged", description="Retired into `otherId`; its id resolves to that.")
    SPLIT = strawberry.enum_value(
        "split", description="A new (or restored) entity that took records from `otherId`."
    )
    LINK_OPENED = strawberry.enum_value("link_opened", description="A link from `entityId` to `otherId`.")
    LINK_CLOSED = strawberry.enum_value("link_closed", description="A link that no longer holds.")


@strawberry.enum(description="Who made a change: ingestion, resolution or a steward.")
class ChangeActor(Enum):
    INGEST = "ingest"
    RESOLUTION = "resolution"
    STEWARD = "steward"


# The domain's relations as they are, under the name the schema gives them.
strawberry.enum(LinkRelation, name="Relation", description="How a link joins two entities.")


@strawberry.type(description="One entry of the change feed.")
class ChangeEntry:
    cursor: str = strawberry.field(description="Pass it as `after` to read on from this entry.")
    at: datetime
    change: ChangeKind
    kind: EntityKind = strawberry.field(description="The kind of `entityId` (a link's subject).")
    entity_id: strawberry.ID
    other_kind: EntityKind | None
    other_id: strawberry.ID | None = strawberry.field(
        description="A merge's survivor, the entity a split took records from, or a link's object."
    )
    relation: LinkRelation | None = strawberry.field(description="A link's relation.")
    link_id: strawberry.ID | None
    version: int | None = strawberry.field(description="The entity's version after the change.")
    actor: ChangeActor


@strawberry.type(description="A page of the change feed.")
class ChangeFeed:
    entries: list[ChangeEntry]
    end_cursor: str = strawberry.field(
        description="Where to read on next time, also when nothing was new (it can move past entries"
        " of kinds the client did not ask for)."
    )
    has_more: bool = strawberry.field(description="More entries wait: ask again at once with `endCursor`.")


def _actor(actor: str) -> ChangeActor:
    if actor in ("ingest", "resolution"):
        return ChangeActor(actor)
    return ChangeActor.STEWARD


def _entry(change: Change) -> ChangeEntry:
    return ChangeEntry(
        cursor=change_cursor(change.position),
        at=change.at,
        change=ChangeKind(change.action.value),
        kind=EntityKind(change.kind.value),
        entity_id=strawberry.ID(change.entity_id),
        other_kind=EntityKind(change.other_kind.value) if change.other_kind else None,
        other_id=strawberry.ID(change.other_id) if change.other_id else None,
        relation=LinkRelation(change.relation) if change.relation else None,
        link_id=strawberry.ID(str(change.link_id)) if change.link_id is not None else None,
        version=change.version,
        actor=_actor(change.actor),
    )


def changes(
    info: Info,
    after: str | None = None,
    kinds: list[EntityKind] | None = None,
    first: int = 1000,
) -> ChangeFeed:
    """The entries after `after` (from the first without it) touching `kinds` (all the client may read
    without it), at most `first` (1 to 10,000), oldest first."""
    client = info.context.client
    readable = set(client.kinds) if client is not None else set(Kind)
    asked = {k.to_kind() for k in kinds} if kinds else readable
    refused = asked - readable
    if refused:
        info.context.require_kind(sorted(refused)[0])
    if first < 1 or first > MAX_CHANGES:
        raise InputError(f"first: {first} is out of range; ask for 1 to {MAX_CHANGES:,} at a time")
    position = cursor_position(after)
    session = info.context.session
    shown: list[ChangeEntry] = []
    while True:
        entries, position, more = changes_after(session, position, sorted(asked), first - len(shown))
        for change in entries:
            ends = {change.kind} if change.other_kind is None else {change.kind, change.other_kind}
            if ends <= readable:
                shown.append(_entry(change))
        if not more or len(shown) == first:
            return ChangeFeed(entries=shown, end_cursor=change_cursor(position), has_more=more)

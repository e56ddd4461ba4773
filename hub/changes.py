"""The change feed: what happened to the golden graph, entry by entry, in commit order.

Every writer that creates, changes, merges or splits entities, or opens or closes links, adds an
entry in the same transaction: ingestion (a new record's entity), resolution (batch and one by one),
the links step and stewards' edits. Entries are numbered by `change_event.id`, and a writer takes
the audit chain's lock (`hold`) before it adds any, holding it until it commits: no entry becomes
visible after one with a higher number, so a department that read up to an entry and asks for what
came after it misses nothing. The cursor a reader gets back is that number, opaque.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from hub.audit import LOCK_KEY
from hub.domain import LINK_ENDS, ChangeAction, Kind
from hub.errors import InputError
from hub.store.bulk import BulkWriter
from hub.store.models import ChangeEvent, Entity, Link

__all__ = [
    "COLUMNS",
    "MAX_CHANGES",
    "Change",
    "change_cursor",
    "changes_after",
    "cursor_position",
    "entity_changes",
    "hold",
    "link_changes",
    "position_before",
    "record_entity_change",
    "record_link_change",
]

MAX_CHANGES = 10_000  # entries per page at most

COLUMNS = (  # of change_event, as entries are added and exported
    "at",
    "action",
    "kind",
    "entity_id",
    "other_kind",
    "other_id",
    "relation",
    "link_id",
    "version",
    "actor",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the feed, as a reader gets it."""

    position: int
    at: datetime
    action: ChangeAction
    kind: Kind
    entity_id: str
    other_kind: Kind | None
    other_id: str | None
    relation: str | None
    link_id: int | None
    version: int | None
    actor: str

    @property
    def cursor(self) -> str:
        return change_cursor(self.position)


def hold(connection: Connection) -> None:
    """Take the right to add entries until the transaction ends (the audit chain's lock on PostgreSQL;
    on SQLite the transaction's first write took the database's write lock, held until it ends)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))


def entity_changes(
    bulk: BulkWriter, rows: Iterable[tuple[ChangeAction, Kind, str, str | None, int]], actor: str, at: Any
) -> None:
    """Add entries for entities: (action, kind, entity id, other entity id, version) each."""
    hold(bulk.connection)
    bulk.insert(
        "change_event",
        COLUMNS,
        [
            (
                at,
                action.value,
                kind.value,
                entity_id,
                kind.value if other else None,
                other,
                None,
                None,
                version,
                actor,
            )
            for action, kind, entity_id, other, version in rows
        ],
    )


def _link_kinds(column: str, end: int) -> str:
    """SQL: the kind of a link's subject (end 0) or object (end 1), from its relation."""
    cases = " ".join(
        f"WHEN '{relation.value}' THEN '{kinds[end].value}'" for relation, kinds in LINK_ENDS.items()
    )
    return f"CASE {column} {cases} END"


def link_changes(
    bulk: BulkWriter, action: ChangeAction, where: str, params: Sequence[Any], actor: str, at: Any
) -> None:
    """Add an entry for each link that `where` (SQL on table `link`, with `params`) selects: opened or
    closed at `at`."""
    hold(bulk.connection)
    mark = bulk.mark
    bulk.connection.exec_driver_sql(
        f"INSERT INTO change_event ({', '.join(COLUMNS)})"
        f" SELECT {mark}, {mark}, {_link_kinds('relation', 0)}, subject_id, {_link_kinds('relation', 1)},"
        f" object_id, relation, id, NULL, {mark} FROM link WHERE {where} ORDER BY id",
        (at, action.value, actor, *params),
    )


def record_entity_change(
    session: Session, action: ChangeAction, entity: Entity, actor: str, at: Any, other: str | None = None
) -> None:
    """Add the entry of one entity's change (a steward's edit; the session holds the lock already)."""
    hold(session.connection())
    session.add(
        ChangeEvent(
            at=at,
            action=action.value,
            kind=entity.kind.value,
            entity_id=entity.id,
            other_kind=entity.kind.value if other else None,
            other_id=other,
            version=entity.version,
            actor=actor,
        )
    )


def record_link_change(session: Session, action: ChangeAction, link: Link, actor: str, at: Any) -> None:
    """Add the entry of one link opened or closed (the link flushed, so that it has its id)."""
    hold(session.connection())
    subject, obj = LINK_ENDS[link.relation]
    session.add(
        ChangeEvent(
            at=at,
            action=action.value,
            kind=subject.value,
            entity_id=link.subject_id,
            other_kind=obj.value,
            other_id=link.object_id,
            relation=link.relation.value,
            link_id=link.id,
            actor=actor,
        )
    )


def change_cursor(position: int) -> str:
    """The opaque cursor of the entry numbered `position` (0: before the first)."""
    return base64.urlsafe_b64encode(f"c:{position}".encode()).decode()


def cursor_position(cursor: str | None) -> int:
    """The entry a cursor names (0 for none); BAD_INPUT for a cursor the feed did not give out."""
    if cursor is None or cursor == "":
        return 0
    if len(cursor) <= 32:
        try:
            prefix, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
            if prefix == "c" and number.isdigit() and len(number) <= 18:
                return int(number)
        except ValueError:
            pass
    shown = cursor if len(cursor) <= 40 else f"{cursor[:40]}…"
    raise InputError(f"after: {shown!r} is not a cursor of the change feed; pass the last cursor it gave")


def changes_after(
    session: Session, after: int, kinds: Sequence[Kind] | None = None, first: int = 1000
) -> tuple[list[Change], int, bool]:
    """The entries after position `after` that touch one of `kinds` (all when None), at most `first`,
    in order; the position to ask after next time (the last entry's, or the last one read past when
    `kinds` filtered entries out, or `after` when nothing is new); and whether more wait."""
    if first < 1 or first > MAX_CHANGES:
        raise InputError(f"first: {first} is out of range; ask for 1 to {MAX_CHANGES:,} at a time")
    # The newest entry first, and nothing after it: an entry committed between the two reads waits for
    # the next call instead of being skipped by a cursor moved past it.
    newest = session.scalar(select(ChangeEvent.id).order_by(ChangeEvent.id.desc()).limit(1)) or 0
    if after > newest:  # answered with nothing, the client would wait for entries it never gets
        raise InputError(
            f"after: the cursor is past the feed's newest entry ({newest:,}): the database was restored"
            " to an earlier state, or the cursor is not this hub's; read the feed again from the start"
            " (no cursor), or take the golden records again (hub export entities)"
        )
    query = (
        select(ChangeEvent)
        .where(ChangeEvent.id > after, ChangeEvent.id <= newest)
        .order_by(ChangeEvent.id)
        .limit(first + 1)
    )
    if kinds:
        values = [k.value for k in kinds]
        query = query.where(ChangeEvent.kind.in_(values) | ChangeEvent.other_kind.in_(values))
    rows = session.scalars(query).all()
    more = len(rows) > first
    rows = rows[:first]
    entries = [
        Change(
            r.id,
            r.at,
            ChangeAction(r.action),
            Kind(r.kind),
            r.entity_id,
            Kind(r.other_kind) if r.other_kind else None,
            r.other_id,
            r.relation,
            r.link_id,
            r.version,
            r.actor,
        )
        for r in rows
    ]
    if more:
        return entries, rows[-1].id, True
    # All that was new is read: the next read starts after the newest entry of any kind, so that a
    # reader of one kind does not walk the other kinds' entries again.
    return entries, max(after, newest), False


def position_before(session: Session, moment: datetime) -> int:
    """The position to read after to get every entry made at or after `moment`."""
    earlier = session.scalar(
        select(ChangeEvent.id).where(ChangeEvent.at < moment).order_by(ChangeEvent.id.desc()).limit(1)
    )
    return earlier or 0

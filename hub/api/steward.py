"""Stewards' edits over GraphQL: merge, split, move, override and undo, each guarded by the versions
the steward saw (`hub/steward.py` does the work).

Each edit runs whole in a worker thread, in a transaction of its own that is committed before the
answer is built (`run_edit`). So no lock is ever held across an `await`: the event loop keeps serving
every other request while an edit waits its turn, and an edit's wait for another's lock is bounded
(`HUB_EDIT_LOCK_WAIT`), after which it answers BUSY with nothing changed.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.context import Info
from hub.api.pagination import is_row_id
from hub.api.permissions import WRITE_ROLES, require_role
from hub.api.types import Node, resolve_entity
from hub.clients import ClientInfo
from hub.config import get_settings
from hub.errors import BusyError, InputError, NotFoundError
from hub.steward import Edit, merge_entities, move_records, override_value, split_entity, undo
from hub.store.database import bounded_write
from hub.store.models import AuditEvent, Source, SourceRecord
from hub.store.models import Entity as EntityRow

__all__ = [
    "EntityEdit",
    "RecordRef",
    "merge",
    "move",
    "override",
    "run_edit",
    "split",
    "steward_of",
    "undo_edit",
]

T = TypeVar("T")
_EDITS = threading.Lock()


@strawberry.federation.type(
    inaccessible=True,
    description="What a steward's edit left: the entity now, and the audit event recording it.",
)
class EntityEdit:
    event_id: strawberry.ID
    entity: Node | None
    created: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="The entities a split made, one per group."
    )


@strawberry.federation.input(
    inaccessible=True, description="A source record of the entity being edited, by its source and key."
)
class RecordRef:
    source: str
    key: str


async def run_edit(
    info: Info, work: Callable[[Session], T], committed: Callable[[T], object] | None = None
) -> T:
    """Run `work` in a worker thread on a session of its own, committed before this returns.

    The operation's own session is not touched, so the answer built afterwards reads the committed
    edit; and the event loop is never blocked by a lock wait, which `HUB_EDIT_LOCK_WAIT` bounds.
    `committed` is called with the result once it is committed, before the next edit's turn.
    """
    engine, lock_wait = info.context.engine, get_settings().edit_lock_wait

    def in_thread() -> T:
        deadline = time.monotonic() + lock_wait
        # Edits serialize on the audit head anyway: within a process they take turns here, in order,
        # instead of polling the database's lock (SQLite's busy handler sleeps up to 100 ms a try).
        if not _EDITS.acquire(timeout=lock_wait):
            raise BusyError(
                f"other edits kept this one waiting more than {lock_wait:g} s; nothing changed, try again"
                " in a moment"
            )
        try:
            with bounded_write(engine, max(0.1, deadline - time.monotonic())) as session:
                done = work(session)
            if committed is not None:
                committed(done)
            return done
        finally:
            _EDITS.release()

    return await asyncio.to_thread(in_thread)


def steward_of(info: Info, action: str) -> str:
    """The calling steward's actor name; FORBIDDEN for roles that may not `action` ("merge entities")."""
    require_role(info, WRITE_ROLES, action)
    client = info.context.client
    return f"steward:{client.name}" if client is not None else "steward:local"


def _client(info: Info) -> ClientInfo | None:
    return info.context.client


def _kind_of(session: Session, client: ClientInfo | None, entity_id: str) -> EntityRow:
    entity = session.get(EntityRow, entity_id)
    if entity is None:
        raise NotFoundError(f"no entity {entity_id}")
    if client is not None:
        client.require_kind(entity.kind)
    return entity


def _record_ids(session: Session, entity: EntityRow, records: list[RecordRef]) -> list[int]:
    ids = []
    for ref in records:
        found = session.scalar(
            select(SourceRecord.id)
            .join(Source, Source.id == SourceRecord.source_id)
            .where(Source.name == ref.source, SourceRecord.kind == entity.kind, SourceRecord.key == ref.key)
        )
        if found is None:
            raise InputError(f"no {entity.kind.value} record {ref.source}/{ref.key}")
        ids.append(found)
    return ids


async def _shown(info: Info, edit: Edit) -> EntityEdit:
    entity = await resolve_entity(info, edit.entity_id)
    return EntityEdit(
        event_id=strawberry.ID(str(edit.event_id)),
        entity=entity,
        created=[strawberry.ID(e) for e in edit.created],
    )


async def merge(
    info: Info,
    into: strawberry.ID,
    into_version: int,
    other: strawberry.ID,
    other_version: int,
    note: str | None = None,
) -> EntityEdit:
    """The `mergeEntities` mutation."""
    steward, client = steward_of(info, "merge entities"), _client(info)

    def work(session: Session) -> Edit:
        _kind_of(session, client, into)
        _kind_of(session, client, other)
        return merge_entities(session, into, into_version, other, other_version, steward, note)

    return await _shown(info, await run_edit(info, work))


async def split(
    info: Info, id: strawberry.ID, version: int, groups: list[list[RecordRef]], note: str | None = None
) -> EntityEdit:
    """The `splitEntity` mutation."""
    steward, client, entity_id = steward_of(info, "split entities"), _client(info), str(id)

    def work(session: Session) -> Edit:
        entity = _kind_of(session, client, entity_id)
        ids = [_record_ids(session, entity, group) for group in groups]
        return split_entity(session, entity_id, version, ids, steward, note)

    return await _shown(info, await run_edit(info, work))


async def move(
    info: Info,
    id: strawberry.ID,
    version: int,
    records: list[RecordRef],
    to: strawberry.ID,
    to_version: int,
    note: str | None = None,
) -> EntityEdit:
    """The `moveRecords` mutation."""
    steward, client, entity_id = steward_of(info, "move records"), _client(info), str(id)

    def work(session: Session) -> Edit:
        entity = _kind_of(session, client, entity_id)
        _kind_of(session, client, to)
        ids = _record_ids(session, entity, records)
        return move_records(session, entity_id, version, ids, to, to_version, steward, note)

    return await _shown(info, await run_edit(info, work))


async def undo_edit(info: Info, event_id: strawberry.ID, note: str | None = None) -> EntityEdit:
    """The `undo` mutation."""
    steward, client = steward_of(info, "undo edits"), _client(info)
    if not is_row_id(str(event_id)):
        raise InputError(f"eventId: {event_id!r} is not an audit event id")
    number = int(str(event_id))

    def work(session: Session) -> Edit:
        event = session.get(AuditEvent, number)
        if event is not None:  # the steward must be allowed every entity the edit touched
            for entity_id in event.after.get("versions", {}):
                _kind_of(session, client, entity_id)
        return undo(session, number, steward, note)

    return await _shown(info, await run_edit(info, work))


async def override(
    info: Info, id: strawberry.ID, version: int, field: str, value: str | None, note: str | None = None
) -> EntityEdit:
    """The `overrideValue` mutation."""
    steward, client, entity_id = steward_of(info, "override golden values"), _client(info), str(id)
    attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()  # idNumber → id_number

    def work(session: Session) -> Edit:
        _kind_of(session, client, entity_id)
        return override_value(session, entity_id, version, attribute, value, steward, note)

    return await _shown(info, await run_edit(info, work))

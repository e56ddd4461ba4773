"""Stewards' edits over GraphQL: merge, split, move and undo, each guarded by the versions the steward
saw (`hub/steward.py` does the work)."""

from __future__ import annotations

import re

import strawberry
from sqlalchemy import select

from hub.api.context import Info
from hub.api.review import steward_of
from hub.api.types import Node, resolve_entity
from hub.errors import InputError, NotFoundError
from hub.steward import Edit, merge_entities, move_records, override_value, split_entity, undo
from hub.store.models import Entity as EntityRow
from hub.store.models import Source, SourceRecord

__all__ = ["EntityEdit", "RecordRef", "merge", "move", "override", "split", "undo_edit"]


@strawberry.type(description="What a steward's edit left: the entity now, and the audit event recording it.")
class EntityEdit:
    event_id: strawberry.ID
    entity: Node | None
    created: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="The entities a split made, one per group."
    )


@strawberry.input(description="A source record of the entity being edited, by its source and key.")
class RecordRef:
    source: str
    key: str


def _kind_of(info: Info, entity_id: str) -> EntityRow:
    entity = info.context.session.get(EntityRow, entity_id)
    if entity is None:
        raise NotFoundError(f"no entity {entity_id}")
    info.context.require_kind(entity.kind)
    return entity


def _record_ids(info: Info, entity: EntityRow, records: list[RecordRef]) -> list[int]:
    ids = []
    for ref in records:
        found = info.context.session.scalar(
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
    return EntityEdit(event_id=strawberry.ID(str(edit.event_id)), entity=entity)


async def merge(
    info: Info, into: str, into_version: int, other: str, other_version: int, note: str | None
) -> EntityEdit:
    steward = steward_of(info)
    _kind_of(info, into)
    _kind_of(info, other)
    session = info.context.session
    return await _shown(
        info, merge_entities(session, into, into_version, other, other_version, steward, note)
    )


async def split(
    info: Info, entity_id: str, version: int, groups: list[list[RecordRef]], note: str | None
) -> EntityEdit:
    steward = steward_of(info)
    entity = _kind_of(info, entity_id)
    ids = [_record_ids(info, entity, group) for group in groups]
    edit = split_entity(info.context.session, entity_id, version, ids, steward, note)
    shown = await _shown(info, edit)
    shown.created = [strawberry.ID(e) for e in edit.created]
    return shown


async def move(
    info: Info,
    entity_id: str,
    version: int,
    records: list[RecordRef],
    to: str,
    to_version: int,
    note: str | None,
) -> EntityEdit:
    steward = steward_of(info)
    entity = _kind_of(info, entity_id)
    _kind_of(info, to)
    ids = _record_ids(info, entity, records)
    edit = move_records(info.context.session, entity_id, version, ids, to, to_version, steward, note)
    return await _shown(info, edit)


async def undo_edit(info: Info, event_id: strawberry.ID, note: str | None) -> EntityEdit:
    steward = steward_of(info)
    if not str(event_id).isdigit():
        raise InputError(f"eventId: {event_id!r} is not an audit event id")
    return await _shown(info, undo(info.context.session, int(str(event_id)), steward, note))


async def override(
    info: Info, entity_id: str, version: int, field: str, value: str | None, note: str | None
) -> EntityEdit:
    steward = steward_of(info)
    _kind_of(info, entity_id)
    attribute = re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()  # idNumber → id_number
    edit = override_value(info.context.session, entity_id, version, attribute, value, steward, note)
    return await _shown(info, edit)

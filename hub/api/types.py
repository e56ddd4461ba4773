"""GraphQL types of the hub's schema (names fixed by CONTRACT.md §3 are kept exactly)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from hub.store.models import Kind

__all__ = ["EntityKind", "FieldFlag", "SourceRecord"]


@strawberry.enum(description="The three kinds of things the hub links.")
class EntityKind(Enum):
    PERSON = "person"
    ADDRESS = "address"
    LEGAL_ENTITY = "legal_entity"

    def to_kind(self) -> Kind:
        return Kind(self.value)


@strawberry.type(description="A field of a source record whose value is malformed, and why.")
class FieldFlag:
    field: str
    reason: str


@strawberry.type(description="One record of a departmental source system and the entity it belongs to now.")
class SourceRecord:
    source: str
    kind: EntityKind
    key: str
    entity_id: strawberry.ID = strawberry.field(description="The golden entity this record belongs to now.")
    version: int = strawberry.field(description="Current version; each change of content adds one.")
    first_seen_at: datetime
    last_seen_at: datetime
    flags: list[FieldFlag] = strawberry.field(description="Malformed values, kept as evidence and flagged.")
    payload: JSON = strawberry.field(
        description="The record as the source sent it (current version); personal values masked."
    )
    features: JSON = strawberry.field(
        description="Normalized values used for matching (current version); personal values masked."
    )

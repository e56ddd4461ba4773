"""`persons`, `addresses`, `legalEntities`: every active golden entity of a kind, a page at a time.

Pages follow the entity ids (keyset cursors): a page starts after the last id the previous one gave,
so entities created or retired meanwhile never make a page skip or repeat one that stays. For a
department taking the golden records once before it follows the change feed (`changes`).
"""

from __future__ import annotations

import re
from typing import Generic, TypeVar

import strawberry
from sqlalchemy import func, select

from hub.api.context import Info
from hub.api.pagination import Edge, PageInfo, cursor_key, not_a_cursor, opaque_cursor, page_size
from hub.api.types import Address, LegalEntity, Person
from hub.domain import ENTITY_PREFIX, EntityStatus, Kind
from hub.store.models import Entity

__all__ = [
    "AddressConnection",
    "LegalEntityConnection",
    "PersonConnection",
    "addresses",
    "legal_entities",
    "persons",
]

T = TypeVar("T")
_ID = re.compile(r"[a-z]{3}_[0-9a-f]{24}")


@strawberry.type
class EntityConnection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    kind: strawberry.Private[Kind]

    @strawberry.field(description="How many active entities of the kind there are (counted when asked).")
    def total_count(self, info: Info) -> int:
        query = select(func.count()).where(Entity.kind == self.kind, Entity.status == EntityStatus.ACTIVE)
        return int(info.context.session.scalar(query) or 0)


@strawberry.federation.type(
    shareable=True, name="PersonConnection", description="A page of every active person, in id order."
)
class PersonConnection(EntityConnection[Person]):
    pass


@strawberry.federation.type(
    shareable=True, name="AddressConnection", description="A page of every active address, in id order."
)
class AddressConnection(EntityConnection[Address]):
    pass


@strawberry.federation.type(
    shareable=True,
    name="LegalEntityConnection",
    description="A page of every active legal entity, in id order.",
)
class LegalEntityConnection(EntityConnection[LegalEntity]):
    pass


def key_cursor(entity_id: str) -> str:
    return opaque_cursor("k", entity_id)


def _after(after: str | None, kind: Kind) -> str | None:
    """The id a page starts after; BAD_INPUT for a cursor this list did not give out."""
    if after is None:
        return None
    entity_id = cursor_key(after, "k")
    if entity_id is None or not _ID.fullmatch(entity_id) or not entity_id.startswith(ENTITY_PREFIX[kind]):
        raise not_a_cursor(after)
    return entity_id


def _page(info: Info, kind: Kind, first: int | None, after: str | None) -> tuple[list[str], PageInfo]:
    info.context.require_kind(kind)
    size, start = page_size(first), _after(after, kind)
    query = select(Entity.id).where(Entity.kind == kind, Entity.status == EntityStatus.ACTIVE)
    if start is not None:
        query = query.where(Entity.id > start)
    ids = list(info.context.session.scalars(query.order_by(Entity.id).limit(size + 1)))
    shown = ids[:size]
    return shown, PageInfo(
        has_next_page=len(ids) > size,
        has_previous_page=start is not None,
        start_cursor=key_cursor(shown[0]) if shown else None,
        end_cursor=key_cursor(shown[-1]) if shown else after,
    )


def persons(info: Info, first: int | None = None, after: str | None = None) -> PersonConnection:
    """Every active person, `first` (100 by default, at most 500) after the cursor `after`."""
    ids, page = _page(info, Kind.PERSON, first, after)
    edges = [Edge(cursor=key_cursor(i), node=Person(id=strawberry.ID(i))) for i in ids]
    return PersonConnection(edges=edges, page_info=page, kind=Kind.PERSON)


def addresses(info: Info, first: int | None = None, after: str | None = None) -> AddressConnection:
    """Every active address, `first` (100 by default, at most 500) after the cursor `after`."""
    ids, page = _page(info, Kind.ADDRESS, first, after)
    edges = [Edge(cursor=key_cursor(i), node=Address(id=strawberry.ID(i))) for i in ids]
    return AddressConnection(edges=edges, page_info=page, kind=Kind.ADDRESS)


def legal_entities(info: Info, first: int | None = None, after: str | None = None) -> LegalEntityConnection:
    """Every active legal entity, `first` (100 by default, at most 500) after the cursor `after`."""
    ids, page = _page(info, Kind.LEGAL_ENTITY, first, after)
    edges = [Edge(cursor=key_cursor(i), node=LegalEntity(id=strawberry.ID(i))) for i in ids]
    return LegalEntityConnection(edges=edges, page_info=page, kind=Kind.LEGAL_ENTITY)

"""GraphQL types of the hub's schema (names fixed by docs/contract.md §3 are kept exactly).

Entity types hold only their id; every field is read through the operation's loaders, so lists of
entities cost one statement per step, not one per entity. Personal fields (ID number, phone, exact
birth date) are masked unless the client has `pii:read`, and each one shown is noted for the access log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.scalars import JSON

from hub.api.context import HubContext, Info
from hub.api.history import EntityChange, entity_history
from hub.api.loaders import LinkPage, LinkRow, then
from hub.api.pagination import Connection, link_after, page_connection, page_size
from hub.api.permissions import ReadsHistory
from hub.api.readahead import COMPANY_PLACES, PERSON_PLACES, ROLES
from hub.api.records import (
    FieldLineage,
    SourceRecord,
    lineage_of,
    shown_to,
    source_record_of,
)
from hub.domain import Kind, LinkRelation
from hub.errors import ForbiddenError
from hub.golden import Golden

__all__ = [
    "Address",
    "AddressMatch",
    "LegalEntity",
    "LegalEntityAddress",
    "LegalEntityMatch",
    "Node",
    "Person",
    "PersonAddress",
    "PersonLegalEntity",
    "PersonMatch",
    "entity_in",
    "entity_object",
    "golden_shown",
    "kind_of",
    "resolve_entity",
]


@strawberry.enum(description="How a person relates to an address.")
class PersonAddressRelation(Enum):
    LIVES_AT = "lives_at"
    HOUSEHOLD_REGISTERED_AT = "household_registered_at"


@strawberry.enum(description="A person's role in a legal entity.")
class PersonLegalEntityRole(Enum):
    LEGAL_REPRESENTATIVE = "legal_representative"
    EMPLOYEE = "employed_by"


@strawberry.enum(description="How a legal entity relates to an address.")
class LegalEntityAddressRelation(Enum):
    REGISTERED_AT = "registered_at"
    OPERATES_AT = "operates_at"


T = TypeVar("T")

# The fields below resolve at once when their data is in hand (read ahead by the lookup that found
# the entity, or by an earlier field), and are awaited otherwise (`hub.api.loaders.then`).


async def _golden(info: Info, entity_id: str) -> dict[str, Golden]:
    return await info.context.loaders.golden(entity_id)


def _value(info: Info, entity_id: str, kind: Kind, attribute: str) -> str | None:
    """The golden value of `attribute` as the client may see it."""
    context = info.context
    return then(
        context.loaders.members, entity_id, lambda _: golden_shown(context, entity_id, kind, attribute)
    )


def golden_shown(context: HubContext, entity_id: str, kind: Kind, attribute: str) -> str | None:
    """The golden value of `attribute` as the client may see it (a personal one noted for the access
    log), from the entity's members in hand; LookupError when they are not."""
    golden = context.loaders.golden_held(entity_id, attribute)
    if golden is None:
        raise LookupError(f"the members of {entity_id} are not read yet")
    value = golden.get(attribute)
    return None if value is None else shown_to(context, entity_id, kind, attribute, value.value)


def _source_records(info: Info, entity_id: str) -> list[SourceRecord]:
    members = info.context.loaders.members
    return then(members, entity_id, lambda rows: [source_record_of(m) for m in rows])


def _outgoing(
    info: Info,
    entity_id: str,
    relations: frozenset[LinkRelation],
    items: Callable[[Info, list[LinkRow]], list[T]],
) -> list[T]:
    """The items of the entity's current links of `relations`."""
    return then(info.context.loaders.links_from(relations), entity_id, lambda links: items(info, links))


def _first_page(
    info: Info,
    entity_id: str,
    relations: frozenset[LinkRelation],
    first: int | None,
    items: Callable[[Info, list[LinkRow]], list[T]],
) -> list[T]:
    """The items of the first `first` links of `relations` to the entity (a list that can be long)."""
    size = page_size(first)
    loader = info.context.loaders.link_pages(
        outgoing=False, relations=relations, after=0, size=size, counted=False
    )
    return then(loader, entity_id, lambda page: items(info, page.links))


def _connection(items: list[T], page: LinkPage, after: int) -> Connection[T]:
    """The connection of the items a page of links gave, one per link."""
    assert page.total is not None, "a connection's page is counted"
    return page_connection(items, [link.id for link in page.links], page.total, after, page.more)


async def _link_page(
    info: Info,
    entity_id: str,
    *,
    outgoing: bool,
    relations: frozenset[LinkRelation],
    after: int,
    size: int,
    counted: bool = True,
) -> LinkPage:
    """A page of an entity's links after link id `after`, cut by the database (for the lists that can
    be long); counted only for a connection, whose `totalCount` may be asked for."""
    loader = info.context.loaders.link_pages(
        outgoing=outgoing, relations=relations, after=after, size=size, counted=counted
    )
    return await loader.load(entity_id)


@strawberry.interface(description="Anything with a hub id: `node(id:)` finds it.")
class Node:
    id: strawberry.ID


@strawberry.interface(description="What every golden entity has.")
class Entity(Node):
    id: strawberry.ID
    redirected_from: strawberry.ID | None = strawberry.field(
        default=None,
        description="The retired id that was asked for, when this entity absorbed it in a merge.",
    )

    @strawberry.field(description="The entity's version: one more with each change of members or status.")
    def version(self, info: Info) -> int:
        return then(info.context.loaders.entities, str(self.id), lambda row: row.version if row else 0)

    @strawberry.field(description="When the entity last changed.")
    def updated_at(self, info: Info) -> datetime | None:
        return then(info.context.loaders.entities, str(self.id), lambda row: row.updated_at if row else None)

    @strawberry.federation.field(
        inaccessible=True,
        description="Every change of the entity, oldest first: records that joined or left (by ingest,"
        " resolution or a steward) and the audited edits that named it (stewards and auditors only).",
        permission_classes=[ReadsHistory],
    )
    def history(self, info: Info) -> list[EntityChange] | None:
        return entity_history(info, str(self.redirected_from or self.id))


@strawberry.type(description="A person and an address they live at or are registered at.")
class PersonAddress:
    relation: PersonAddressRelation
    person: Person
    address: Address
    link: strawberry.Private[LinkRow]

    @strawberry.field(description="The source records that state this relationship.")
    async def evidence(self, info: Info) -> list[SourceRecord]:
        return await _evidence(info, self.link)


@strawberry.type(description="A person and a legal entity they represent or work for.")
class PersonLegalEntity:
    role: PersonLegalEntityRole
    person: Person
    legal_entity: LegalEntity
    link: strawberry.Private[LinkRow]

    @strawberry.field(description="The source records that state this relationship.")
    async def evidence(self, info: Info) -> list[SourceRecord]:
        return await _evidence(info, self.link)


@strawberry.type(description="A legal entity and an address it is registered at or operates at.")
class LegalEntityAddress:
    relation: LegalEntityAddressRelation
    legal_entity: LegalEntity
    address: Address
    link: strawberry.Private[LinkRow]

    @strawberry.field(description="The source records that state this relationship.")
    async def evidence(self, info: Info) -> list[SourceRecord]:
        return await _evidence(info, self.link)


async def _evidence(info: Info, link: LinkRow) -> list[SourceRecord]:
    loaders = info.context.loaders
    record_ids = await loaders.evidence.load(link.id)
    records = await loaders.records.load_many(record_ids)
    return [source_record_of(r) for r in records if r is not None]


def _readable(info: Info, *kinds: Kind) -> bool:
    """Whether the client may read every one of `kinds`, for a list the contract declares non-null
    (`Person.addresses`, `Address.residents`, ...). If not, the list is answered empty with a
    FORBIDDEN error at its path: raising would null the list and so, through its non-null type,
    the whole entity holding it, other subgraphs' fields of it included."""
    try:
        for kind in kinds:
            info.context.require_kind(kind)
    except ForbiddenError as exc:
        info.context.refuse(info.path.as_list(), exc)
        return False
    return True


def _person_addresses(info: Info, links: list[LinkRow]) -> list[PersonAddress]:
    info.context.require_kind(Kind.ADDRESS)
    info.context.require_kind(Kind.PERSON)
    return [
        PersonAddress(
            relation=PersonAddressRelation(link.relation.value),
            person=Person(id=strawberry.ID(link.subject_id)),
            address=Address(id=strawberry.ID(link.object_id)),
            link=link,
        )
        for link in links
    ]


def _person_companies(info: Info, links: list[LinkRow]) -> list[PersonLegalEntity]:
    info.context.require_kind(Kind.LEGAL_ENTITY)
    info.context.require_kind(Kind.PERSON)
    return [
        PersonLegalEntity(
            role=PersonLegalEntityRole(link.relation.value),
            person=Person(id=strawberry.ID(link.subject_id)),
            legal_entity=LegalEntity(id=strawberry.ID(link.object_id)),
            link=link,
        )
        for link in links
    ]


def _company_addresses(info: Info, links: list[LinkRow]) -> list[LegalEntityAddress]:
    info.context.require_kind(Kind.ADDRESS)
    info.context.require_kind(Kind.LEGAL_ENTITY)
    return [
        LegalEntityAddress(
            relation=LegalEntityAddressRelation(link.relation.value),
            legal_entity=LegalEntity(id=strawberry.ID(link.subject_id)),
            address=Address(id=strawberry.ID(link.object_id)),
            link=link,
        )
        for link in links
    ]


@strawberry.federation.type(keys=["id"], description="A golden person: one real person across every source.")
class Person(Entity):
    @strawberry.field
    def name(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.PERSON, "name")

    @strawberry.field(description="Resident ID number; masked (320581********1234) without pii:read.")
    def id_number(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.PERSON, "id_number")

    @strawberry.field(description="YYYY-MM-DD; only the year without pii:read.")
    def birth_date(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.PERSON, "birth_date")

    @strawberry.field(description="男 or 女.")
    def gender(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.PERSON, "gender")

    @strawberry.field(description="Masked (139****5678) without pii:read.")
    def phone(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.PERSON, "phone")

    @strawberry.field(description="Where the person lives and is registered.")
    def addresses(self, info: Info) -> list[PersonAddress]:
        if not _readable(info, Kind.ADDRESS, Kind.PERSON):
            return []
        return _outgoing(info, str(self.id), PERSON_PLACES, _person_addresses)

    @strawberry.field(description="The legal entities the person represents or works for.")
    def legal_entities(self, info: Info) -> list[PersonLegalEntity]:
        if not _readable(info, Kind.LEGAL_ENTITY, Kind.PERSON):
            return []
        return _outgoing(info, str(self.id), ROLES, _person_companies)

    @strawberry.field(description="The source records that make up this person now.")
    def source_records(self, info: Info) -> list[SourceRecord]:
        return _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await lineage_of(info, str(self.id), Kind.PERSON)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Person | None:
        entity = await resolve_entity(info, str(id), Kind.PERSON)
        return entity if isinstance(entity, Person) else None


@strawberry.federation.type(
    keys=["id", "doorplateCode"], description="A golden address: one dwelling or place across every source."
)
class Address(Entity):
    @strawberry.field(description="The address in full, as the most trusted source writes it.")
    def text(self, info: Info) -> str:
        entity_id, context = str(self.id), info.context
        return then(
            context.loaders.members,
            entity_id,
            lambda _: golden_shown(context, entity_id, Kind.ADDRESS, "text") or "",
        )

    @strawberry.field(description="The QR doorplate code, where the dwelling has one.")
    def doorplate_code(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.ADDRESS, "doorplate_code")

    @strawberry.field(description="The parsed parts: district, street, community, road, number, compound, …")
    async def components(self, info: Info) -> JSON:
        golden = await _golden(info, str(self.id))
        parts = {name: g.value for name, g in golden.items() if name not in ("text", "doorplate_code")}
        return parts  # type: ignore[return-value]

    @strawberry.field(
        description="The people who live or are registered here (at most `first`, 100 by default)."
    )
    def residents(self, info: Info, first: int | None = None) -> list[PersonAddress]:
        if not _readable(info, Kind.ADDRESS, Kind.PERSON):
            return []
        return _first_page(info, str(self.id), PERSON_PLACES, first, _person_addresses)

    @strawberry.field(description="The residents a page at a time, with the total.")
    async def residents_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PersonAddress] | None:
        start = link_after(after)
        page = await _link_page(
            info, str(self.id), outgoing=False, relations=PERSON_PLACES, after=start, size=page_size(first)
        )
        return _connection(_person_addresses(info, page.links), page, start)

    @strawberry.field(
        description="Legal entities registered or operating here (at most `first`, 100 by default)."
    )
    def legal_entities(self, info: Info, first: int | None = None) -> list[LegalEntityAddress]:
        if not _readable(info, Kind.ADDRESS, Kind.LEGAL_ENTITY):
            return []
        return _first_page(info, str(self.id), COMPANY_PLACES, first, _company_addresses)

    @strawberry.field(description="The legal entities here a page at a time, with the total.")
    async def legal_entities_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LegalEntityAddress] | None:
        start = link_after(after)
        page = await _link_page(
            info, str(self.id), outgoing=False, relations=COMPANY_PLACES, after=start, size=page_size(first)
        )
        return _connection(_company_addresses(info, page.links), page, start)

    @strawberry.field(description="The source records that make up this address now.")
    def source_records(self, info: Info) -> list[SourceRecord]:
        return _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await lineage_of(info, str(self.id), Kind.ADDRESS)

    @classmethod
    async def resolve_reference(
        cls, info: Info, id: strawberry.ID | None = None, doorplate_code: str | None = None
    ) -> Address | None:
        if id is None and doorplate_code is not None:
            from hub.search import entity_by_term

            found = entity_by_term(
                info.context.session, Kind.ADDRESS, "doorplate", doorplate_code.strip().upper()
            )
            if found is None:
                return None
            id = strawberry.ID(found)
        entity = await resolve_entity(info, str(id), Kind.ADDRESS)
        return entity if isinstance(entity, Address) else None


@strawberry.federation.type(
    keys=["id", "uscc"], description="A golden legal entity: one company or organization across every source."
)
class LegalEntity(Entity):
    @strawberry.field
    def name(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "name")

    @strawberry.field(description="Unified social credit code.")
    def uscc(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "uscc")

    @strawberry.field
    def legal_form(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "legal_form")

    @strawberry.field(description="The branch part of the name (a branch never joins its head office).")
    def branch(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "branch")

    @strawberry.field
    def established_on(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "established_on")

    @strawberry.field(
        description="Masked (139****5678) without pii:read: often the legal representative's own mobile."
    )
    def phone(self, info: Info) -> str | None:
        return _value(info, str(self.id), Kind.LEGAL_ENTITY, "phone")

    @strawberry.field(description="The person who is its legal representative, where the hub knows them.")
    async def legal_representative(self, info: Info) -> Person | None:
        # The first link only, found by the database: a legal entity can have ten thousand people.
        page = await _link_page(
            info,
            str(self.id),
            outgoing=False,
            relations=frozenset({LinkRelation.LEGAL_REPRESENTATIVE}),
            after=0,
            size=1,
            counted=False,
        )
        if not page.links:
            return None
        info.context.require_kind(Kind.PERSON)
        return Person(id=strawberry.ID(page.links[0].subject_id))

    @strawberry.field(description="The people who work for it, a page at a time.")
    async def employees(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PersonLegalEntity] | None:
        start = link_after(after)
        page = await _link_page(
            info,
            str(self.id),
            outgoing=False,
            relations=frozenset({LinkRelation.EMPLOYED_BY}),
            after=start,
            size=page_size(first),
        )
        return _connection(_person_companies(info, page.links), page, start)

    @strawberry.field(description="Where it is registered and where it operates.")
    def addresses(self, info: Info) -> list[LegalEntityAddress]:
        if not _readable(info, Kind.ADDRESS, Kind.LEGAL_ENTITY):
            return []
        return _outgoing(info, str(self.id), COMPANY_PLACES, _company_addresses)

    @strawberry.field(description="The source records that make up this legal entity now.")
    def source_records(self, info: Info) -> list[SourceRecord]:
        return _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await lineage_of(info, str(self.id), Kind.LEGAL_ENTITY)

    @classmethod
    async def resolve_reference(
        cls, info: Info, id: strawberry.ID | None = None, uscc: str | None = None
    ) -> LegalEntity | None:
        if id is None and uscc is not None:
            from hub.search import entity_by_term

            found = entity_by_term(info.context.session, Kind.LEGAL_ENTITY, "uscc_any", uscc.strip().upper())
            if found is None:
                return None
            id = strawberry.ID(found)
        entity = await resolve_entity(info, str(id), Kind.LEGAL_ENTITY)
        return entity if isinstance(entity, LegalEntity) else None


@strawberry.type(description="A person found by a search, with how well it matched (0–1).")
class PersonMatch:
    score: float
    person: Person


@strawberry.type(description="An address found by a search, with how well it matched (0–1).")
class AddressMatch:
    score: float
    address: Address


@strawberry.type(description="A legal entity found by a search, with how well it matched (0–1).")
class LegalEntityMatch:
    score: float
    legal_entity: LegalEntity


_TYPES: dict[Kind, type[Person] | type[Address] | type[LegalEntity]] = {
    Kind.PERSON: Person,
    Kind.ADDRESS: Address,
    Kind.LEGAL_ENTITY: LegalEntity,
}
_KINDS: dict[type[Node], Kind] = {cls: kind for kind, cls in _TYPES.items()}
_MAX_REDIRECTS = 50


def kind_of(entity: Node) -> Kind:
    """The kind of an entity object `entity_object` made."""
    return _KINDS[type(entity)]


def entity_object(
    kind: Kind, entity_id: str, redirected_from: str | None = None
) -> Person | Address | LegalEntity:
    return _TYPES[kind](id=strawberry.ID(entity_id), redirected_from=_id_or_none(redirected_from))


def _id_or_none(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value is not None else None


async def resolve_entity(
    info: Info, entity_id: str, kind: Kind | None = None
) -> Person | Address | LegalEntity | None:
    """The entity with this id, following merges to the survivor; None if there is none (of `kind`)."""
    return await entity_in(info.context, entity_id, kind)


async def entity_in(
    context: HubContext, entity_id: str, kind: Kind | None = None
) -> Person | Address | LegalEntity | None:
    """`resolve_entity` for the operation of `context`."""
    loaders = context.loaders
    current = await loaders.entities.load(entity_id)
    as_of = context.as_of is not None
    hops = 0
    while current is not None and current.merged_into_id is not None and hops < _MAX_REDIRECTS:
        if as_of and await loaders.members.load(current.id):
            break  # it still had records at that instant: shown as it was then, not as its survivor
        current = await loaders.entities.load(current.merged_into_id)
        hops += 1
    if current is None or (kind is not None and current.kind != kind):
        return None
    if as_of and not await loaders.members.load(current.id):
        return None  # no records then: it did not exist yet, or not under this id
    context.require_kind(current.kind)
    return entity_object(current.kind, current.id, entity_id if current.id != entity_id else None)

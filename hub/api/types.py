"""GraphQL types of the hub's schema (names fixed by docs/contract.md §3 are kept exactly).

Entity types hold only their id; every field is read through the operation's loaders, so lists of
entities cost one statement per step, not one per entity. Personal fields (ID number, phone, exact
birth date) are masked unless the client has `pii:read`, and each one shown is noted for the access log.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON

from hub.api.context import Info
from hub.api.history import EntityChange
from hub.api.loaders import LinkRow, MemberRow
from hub.errors import InputError
from hub.golden import Golden
from hub.privacy import MASKS, PERSONAL_FIELDS, api_name, mask_as, mask_features, personal_attribute
from hub.store.models import Kind, LinkRelation

__all__ = [
    "Address",
    "AddressMatch",
    "EntityKind",
    "FieldFlag",
    "LegalEntity",
    "LegalEntityAddress",
    "LegalEntityMatch",
    "Node",
    "Person",
    "PersonAddress",
    "PersonLegalEntity",
    "PersonMatch",
    "SourceRecord",
    "entity_object",
    "source_record_of",
]

MAX_PAGE = 500  # the hard cap on any page
DEFAULT_PAGE = 100

# kind → personal golden field → its GraphQL name, as the access log names it (from hub/privacy.py)
_PERSONAL = {kind: {name: api_name(name) for name in fields} for kind, fields in PERSONAL_FIELDS.items()}


@strawberry.enum(description="The three kinds of things the hub links.")
class EntityKind(Enum):
    PERSON = "person"
    ADDRESS = "address"
    LEGAL_ENTITY = "legal_entity"

    def to_kind(self) -> Kind:
        return Kind(self.value)


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
    received_at: datetime = strawberry.field(description="When the current version arrived.")
    flags: list[FieldFlag] = strawberry.field(description="Malformed values, kept as evidence and flagged.")
    record_id: strawberry.Private[int]
    raw_features: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The record as the source sent it (current version); without pii:read, every value"
        " under a personal field name (ID number, phone, birth date, in any common spelling) is masked,"
        " at any depth and whatever its type."
    )
    async def payload(self, info: Info) -> JSON:
        payload = await info.context.loaders.payloads.load(self.record_id)
        return _shown_json(info, self.entity_id, payload)

    @strawberry.field(
        description="Normalized values used for matching (current version); personal values masked"
        " like the payload's."
    )
    def features(self, info: Info) -> JSON:
        return _shown_json(info, self.entity_id, self.raw_features)

    @strawberry.field(
        description="Why this record is where it is: the live judgements on it (the joins that put it"
        " in its entity, pairs kept apart or sent to review, stewards' decisions), newest first."
    )
    async def judgements(self, info: Info) -> list[RecordJudgement]:
        from hub.api.audit import require_role

        require_role(info, _HISTORY_ROLES, "read the judgements behind memberships")
        rows = await info.context.loaders.judgements.load(self.record_id)
        runs = sorted({row.run_id for row in rows if row.run_id})
        settings = dict(zip(runs, await info.context.loaders.run_settings.load_many(runs), strict=True))
        return [
            RecordJudgement(
                decision=DECISION_NAMES.get(row.decision, row.decision.upper()),
                by=row.actor_type.upper(),
                actor=row.actor,
                score=row.score,
                run_id=strawberry.ID(str(row.run_id)) if row.run_id else None,
                note=row.note,
                created_at=row.created_at,
                explanation=explanation_steps(row.explanation, settings.get(row.run_id or 0)),
                other_record_id=row.record_b_id if row.record_a_id == self.record_id else row.record_a_id,
            )
            for row in rows
        ]


# A judgement's stored decision as the API names it.
DECISION_NAMES = {"positive": "MATCH", "negative": "NOT_MATCH", "unsure": "UNSURE"}


@strawberry.type(description="One comparison's part of a pair's score, in bits.")
class Step:
    comparison: str
    level: str
    weight: float


@strawberry.type(description="A judgement on a pair of records: by a rule, the model or a steward.")
class RecordJudgement:
    decision: str = strawberry.field(description="MATCH, NOT_MATCH or UNSURE.")
    by: str = strawberry.field(description="RULE, MODEL or STEWARD.")
    actor: str = strawberry.field(description="Which rule or model run, or which steward.")
    score: float | None
    run_id: strawberry.ID | None
    note: str | None
    created_at: datetime
    explanation: list[Step]
    other_record_id: strawberry.Private[int]

    @strawberry.field(description="The other record of the pair.")
    async def other(self, info: Info) -> SourceRecord | None:
        row = await info.context.loaders.records.load(self.other_record_id)
        return source_record_of(row) if row is not None else None


def explanation_steps(explanation: dict[str, Any], settings: dict[str, Any] | None) -> list[Step]:
    """The steps of a stored explanation, named from its run's settings."""
    comparisons = (settings or {}).get("match", {}).get("comparisons", [])
    steps = []
    for k, (level, weight) in enumerate(
        zip(explanation.get("levels", []), explanation.get("weights", []), strict=False)
    ):
        comparison: dict[str, Any] = comparisons[k] if k < len(comparisons) else {}
        levels = comparison.get("levels", [])
        label = "missing" if level < 0 else (levels[level]["label"] if level < len(levels) else str(level))
        name = str(comparison.get("name", f"comparison {k}"))
        steps.append(Step(comparison=name, level=label, weight=round(float(weight), 3)))
    return steps


def _shown_json(info: Info, entity_id: str, value: dict[str, Any]) -> Any:
    masked = mask_features(value)
    if masked != value:
        info.context.note_personal(entity_id, "sourceRecord")
        if info.context.sees_pii:
            return value
    return masked


def source_record_of(member: MemberRow) -> SourceRecord:
    return SourceRecord(
        source=member.source,
        kind=EntityKind(member.kind.value),
        key=member.key,
        entity_id=strawberry.ID(member.entity_id),
        version=member.version,
        first_seen_at=member.first_seen_at,
        last_seen_at=member.last_seen_at,
        received_at=member.received_at,
        flags=[FieldFlag(field=name, reason=str(reason)) for name, reason in sorted(member.flags.items())],
        record_id=member.record_id,
        raw_features=member.features,
    )


@strawberry.type(description="One source's value of a field, and whether it is the golden one.")
class SourcedValue:
    value: str
    chosen: bool
    source: str
    key: str = strawberry.field(description="The record's key in its source.")
    version: int
    received_at: datetime
    trust: int = strawberry.field(description="The source's trust in this field (higher wins).")
    valid: bool = strawberry.field(description="False when the value failed its check (e.g. a check digit).")
    record_id: strawberry.Private[int]
    entity_id: strawberry.Private[str]
    kind: strawberry.Private[str]
    attribute: strawberry.Private[str]

    @strawberry.field(
        description="The text as the source sent it (that record version's payload; personal values"
        " masked like the value). A steward's value is its own original."
    )
    async def original(self, info: Info) -> str | None:
        if self.record_id < 0:
            return self.value
        payload = await info.context.loaders.payloads.load(self.record_id)
        raw = payload.get(_ORIGINAL_FIELD.get(self.attribute, self.attribute))
        if raw is None or raw == "":
            return None
        meaning = personal_attribute(self.kind, self.attribute)
        if meaning is not None:
            info.context.note_personal(self.entity_id, _PERSONAL[self.kind][self.attribute])
            if not info.context.sees_pii:
                raw = mask_as(meaning, raw)  # by the field, whatever the type of the source's value
        return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)


# The payload field a golden attribute is read from, where the names differ.
_ORIGINAL_FIELD = {
    "text": "address",
    "legal_form": "name",
    "branch": "name",
    **{
        part: "address"
        for part in (
            "district",
            "street",
            "community",
            "road",
            "number",
            "compound",
            "building",
            "unit",
            "room",
        )
    },
}


@strawberry.type(description="Where a golden value came from: every source value and the rule that chose.")
class FieldLineage:
    field: str
    value: str | None
    rule: str
    values: list[SourcedValue]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list that can be long; `totalCount` counts the whole list.")
class Connection(Generic[T]):
    total_count: int
    edges: list[Edge[T]]
    page_info: PageInfo


def offset_cursor(offset: int) -> str:
    """The opaque cursor of the item at `offset` of a list."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


_MAX_CURSOR = 32  # characters of the longest cursor a list gives out ("o:" and an offset below _MAX_OFFSET)
_MAX_OFFSET = 10**12  # beyond any list here, and inside a 64-bit OFFSET of every database


def offset_after(after: str | None) -> int:
    """Where a page starting after cursor `after` begins; BAD_INPUT for a cursor no list gave out
    (too long, not base64 or not text, or an offset no list reaches)."""
    if after is None:
        return 0
    if len(after) <= _MAX_CURSOR:
        try:
            prefix, _, number = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
            if prefix == "o" and number.isdigit() and int(number) < _MAX_OFFSET:
                return int(number) + 1
        except ValueError:  # not ASCII, not base64, not UTF-8 inside
            pass
    shown = after if len(after) <= 40 else f"{after[:40]}… ({len(after):,} characters)"
    raise InputError(f"after: {shown!r} is not a cursor this list gave out; pass a page's endCursor")


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise InputError(f"first: {first} is out of range; ask for 0 to {MAX_PAGE} at a time")
    return first


def connection(items: list[T], first: int | None, after: str | None) -> Connection[T]:
    size, start = page_size(first), offset_after(after)
    window = items[start : start + size]
    edges = [Edge(cursor=offset_cursor(start + i), node=item) for i, item in enumerate(window)]
    return Connection(
        total_count=len(items),
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + size < len(items), end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def _golden(info: Info, entity_id: str) -> dict[str, Golden]:
    return await info.context.loaders.golden(entity_id)


async def _value(info: Info, entity_id: str, kind: str, attribute: str) -> str | None:
    golden = (await info.context.loaders.golden(entity_id, attribute)).get(attribute)
    if golden is None:
        return None
    return _shown(info, entity_id, kind, attribute, golden.value)


def _shown(info: Info, entity_id: str, kind: str, attribute: str, value: str) -> str:
    """A golden or source value of a field as this client may see it; a personal one noted for the log."""
    meaning = personal_attribute(kind, attribute)
    if meaning is None:
        return value
    info.context.note_personal(entity_id, _PERSONAL[kind][attribute])
    return value if info.context.sees_pii else MASKS[meaning](value)


async def _lineage(info: Info, entity_id: str, kind: str) -> list[FieldLineage]:
    out = []
    for attribute, golden in sorted((await _golden(info, entity_id)).items()):
        values = [
            SourcedValue(
                value=_shown(info, entity_id, kind, attribute, c.value),
                chosen=c.value == golden.value,
                source=c.source,
                key=c.key,
                version=c.version,
                received_at=c.received_at,
                trust=c.trust,
                valid=c.valid,
                record_id=c.record_id,
                entity_id=entity_id,
                kind=kind,
                attribute=attribute,
            )
            for c in golden.claims
        ]
        out.append(
            FieldLineage(
                field=attribute,
                value=_shown(info, entity_id, kind, attribute, golden.value),
                rule=golden.rule,
                values=values,
            )
        )
    return out


async def _source_records(info: Info, entity_id: str) -> list[SourceRecord]:
    return [source_record_of(m) for m in await info.context.loaders.members.load(entity_id)]


async def _links(
    info: Info, entity_id: str, *, outgoing: bool, relations: set[LinkRelation]
) -> list[LinkRow]:
    loader = info.context.loaders.links_from if outgoing else info.context.loaders.links_to
    return [link for link in await loader.load(entity_id) if link.relation in relations]


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
    async def version(self, info: Info) -> int:
        row = await info.context.loaders.entities.load(str(self.id))
        return row.version if row else 0

    @strawberry.field(description="When the entity last changed.")
    async def updated_at(self, info: Info) -> datetime | None:
        row = await info.context.loaders.entities.load(str(self.id))
        return row.updated_at if row else None

    @strawberry.field(
        description="Every change of the entity, oldest first: records that joined or left (by ingest,"
        " resolution or a steward) and the audited edits that named it (stewards and auditors only)."
    )
    def history(self, info: Info) -> list[EntityChange]:
        from hub.api.audit import require_role
        from hub.api.history import entity_history

        require_role(info, _HISTORY_ROLES, "read an entity's history")
        return entity_history(info, str(self.redirected_from or self.id))


_HISTORY_ROLES = frozenset({"steward", "auditor", "admin"})
_PERSON_PLACES = {LinkRelation.LIVES_AT, LinkRelation.HOUSEHOLD_REGISTERED_AT}
_ROLES = {LinkRelation.LEGAL_REPRESENTATIVE, LinkRelation.EMPLOYED_BY}
_COMPANY_PLACES = {LinkRelation.REGISTERED_AT, LinkRelation.OPERATES_AT}


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
    async def name(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "person", "name")

    @strawberry.field(description="Resident ID number; masked (320581********1234) without pii:read.")
    async def id_number(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "person", "id_number")

    @strawberry.field(description="YYYY-MM-DD; only the year without pii:read.")
    async def birth_date(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "person", "birth_date")

    @strawberry.field(description="男 or 女.")
    async def gender(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "person", "gender")

    @strawberry.field(description="Masked (139****5678) without pii:read.")
    async def phone(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "person", "phone")

    @strawberry.field(description="Where the person lives and is registered.")
    async def addresses(self, info: Info) -> list[PersonAddress]:
        links = await _links(info, str(self.id), outgoing=True, relations=_PERSON_PLACES)
        return _person_addresses(info, links)

    @strawberry.field(description="The legal entities the person represents or works for.")
    async def legal_entities(self, info: Info) -> list[PersonLegalEntity]:
        links = await _links(info, str(self.id), outgoing=True, relations=_ROLES)
        return _person_companies(info, links)

    @strawberry.field(description="The source records that make up this person now.")
    async def source_records(self, info: Info) -> list[SourceRecord]:
        return await _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await _lineage(info, str(self.id), "person")

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Person | None:
        entity = await resolve_entity(info, str(id), Kind.PERSON)
        return entity if isinstance(entity, Person) else None


@strawberry.federation.type(
    keys=["id", "doorplateCode"], description="A golden address: one dwelling or place across every source."
)
class Address(Entity):
    @strawberry.field(description="The address in full, as the most trusted source writes it.")
    async def text(self, info: Info) -> str:
        return await _value(info, str(self.id), "address", "text") or ""

    @strawberry.field(description="The QR doorplate code, where the dwelling has one.")
    async def doorplate_code(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "address", "doorplate_code")

    @strawberry.field(description="The parsed parts: district, street, community, road, number, compound, …")
    async def components(self, info: Info) -> JSON:
        golden = await _golden(info, str(self.id))
        parts = {name: g.value for name, g in golden.items() if name not in ("text", "doorplate_code")}
        return parts  # type: ignore[return-value]

    @strawberry.field(
        description="The people who live or are registered here (at most `first`, 100 by default)."
    )
    async def residents(self, info: Info, first: int | None = None) -> list[PersonAddress]:
        links = await _links(info, str(self.id), outgoing=False, relations=_PERSON_PLACES)
        return _person_addresses(info, links)[: page_size(first)]

    @strawberry.field(description="The residents a page at a time, with the total.")
    async def residents_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PersonAddress]:
        links = await _links(info, str(self.id), outgoing=False, relations=_PERSON_PLACES)
        return connection(_person_addresses(info, links), first, after)

    @strawberry.field(
        description="Legal entities registered or operating here (at most `first`, 100 by default)."
    )
    async def legal_entities(self, info: Info, first: int | None = None) -> list[LegalEntityAddress]:
        links = await _links(info, str(self.id), outgoing=False, relations=_COMPANY_PLACES)
        return _company_addresses(info, links)[: page_size(first)]

    @strawberry.field(description="The legal entities here a page at a time, with the total.")
    async def legal_entities_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LegalEntityAddress]:
        links = await _links(info, str(self.id), outgoing=False, relations=_COMPANY_PLACES)
        return connection(_company_addresses(info, links), first, after)

    @strawberry.field(description="The source records that make up this address now.")
    async def source_records(self, info: Info) -> list[SourceRecord]:
        return await _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await _lineage(info, str(self.id), "address")

    @classmethod
    async def resolve_reference(
        cls, info: Info, id: strawberry.ID | None = None, doorplate_code: str | None = None
    ) -> Address | None:
        if id is None and doorplate_code is not None:
            from hub.api.lookup import entity_by_term

            found = entity_by_term(info.context.session, Kind.ADDRESS, "doorplate", doorplate_code.upper())
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
    async def name(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "name")

    @strawberry.field(description="Unified social credit code.")
    async def uscc(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "uscc")

    @strawberry.field
    async def legal_form(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "legal_form")

    @strawberry.field(description="The branch part of the name (a branch never joins its head office).")
    async def branch(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "branch")

    @strawberry.field
    async def established_on(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "established_on")

    @strawberry.field(
        description="Masked (139****5678) without pii:read: often the legal representative's own mobile."
    )
    async def phone(self, info: Info) -> str | None:
        return await _value(info, str(self.id), "legal_entity", "phone")

    @strawberry.field(description="The person who is its legal representative, where the hub knows them.")
    async def legal_representative(self, info: Info) -> Person | None:
        links = await _links(
            info, str(self.id), outgoing=False, relations={LinkRelation.LEGAL_REPRESENTATIVE}
        )
        if not links:
            return None
        info.context.require_kind(Kind.PERSON)
        return Person(id=strawberry.ID(links[0].subject_id))

    @strawberry.field(description="The people who work for it, a page at a time.")
    async def employees(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[PersonLegalEntity]:
        links = await _links(info, str(self.id), outgoing=False, relations={LinkRelation.EMPLOYED_BY})
        return connection(_person_companies(info, links), first, after)

    @strawberry.field(description="Where it is registered and where it operates.")
    async def addresses(self, info: Info) -> list[LegalEntityAddress]:
        links = await _links(info, str(self.id), outgoing=True, relations=_COMPANY_PLACES)
        return _company_addresses(info, links)

    @strawberry.field(description="The source records that make up this legal entity now.")
    async def source_records(self, info: Info) -> list[SourceRecord]:
        return await _source_records(info, str(self.id))

    @strawberry.field(description="Per field: the golden value, every source value and the rule that chose.")
    async def lineage(self, info: Info) -> list[FieldLineage]:
        return await _lineage(info, str(self.id), "legal_entity")

    @classmethod
    async def resolve_reference(
        cls, info: Info, id: strawberry.ID | None = None, uscc: str | None = None
    ) -> LegalEntity | None:
        if id is None and uscc is not None:
            from hub.api.lookup import entity_by_term

            found = entity_by_term(info.context.session, Kind.LEGAL_ENTITY, "uscc_any", uscc.upper())
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
_MAX_REDIRECTS = 50


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
    loaders = info.context.loaders
    current = await loaders.entities.load(entity_id)
    as_of = info.context.as_of is not None
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
    info.context.require_kind(current.kind)
    return entity_object(current.kind, current.id, entity_id if current.id != entity_id else None)

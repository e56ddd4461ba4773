"""The strawberry federation schema: the queries departmental systems call.

Lookups by id follow merges to the surviving entity (and say so in `redirectedFrom`); lookups by key
and the searches normalize their input as ingestion would. Every query checks that the client's
scopes cover the kind it returns. A root field that only hands its arguments to a function of
hub/api/review.py, steward.py or audit.py is declared with that function as its resolver, so its
arguments are written once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy import select
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.printer import print_schema
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from hub.api.audit import access_log_page, audit_event_page
from hub.api.context import Info
from hub.api.extensions import AccessLog, DocumentCache, ErrorCodes, LimitedSchema, UnitOfWork
from hub.api.permissions import ReadsAccessLog, ReadsAuditTrail, ReadsReviewQueue
from hub.api.personal import look_up_personal, personal_fields_of
from hub.api.records import EntityKind, SourceRecord, source_record_of
from hub.api.review import claim as claim_review
from hub.api.review import decide as decide_review
from hub.api.review import review_page
from hub.api.steward import merge as merge_edit
from hub.api.steward import move as move_edit
from hub.api.steward import override as override_edit
from hub.api.steward import split as split_edit
from hub.api.steward import undo_edit
from hub.api.types import (
    Address,
    AddressMatch,
    LegalEntity,
    LegalEntityMatch,
    Node,
    Person,
    PersonMatch,
    resolve_entity,
)
from hub.domain import Kind
from hub.errors import InputError
from hub.resolve.matching import match_record
from hub.search import MAX_RESULTS, candidates, entity_by_term, normalized_query
from hub.search import ranked as rank
from hub.store.models import Source
from hub.store.models import SourceRecord as SourceRecordRow

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_TOKENS", "schema", "schema_sdl"]

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000
# The depth and alias limits as validation rules, built once: the validation cache is keyed by the
# rule classes, and a limiter built per request would bring new ones every time.
_LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


@strawberry.type(description="One comparison's part in a match: its level and weight in bits.")
class MatchStep:
    comparison: str
    level: str
    weight: float


@strawberry.type(description="A stored entity an unsaved record would match, and why.")
class MatchCandidate:
    entity: Node
    score: float = strawberry.field(description="Match probability of the best pair, 0–1.")
    weight: float = strawberry.field(description="Match weight of the best pair in bits (prior included).")
    would_join: bool = strawberry.field(description="Whether a resolution run would join the record to it.")
    matched_record: SourceRecord | None = strawberry.field(
        description="The entity's record that matched best."
    )
    explanation: list[MatchStep]


@strawberry.type(description="The client making the request.")
class Viewer:
    name: str
    role: str
    scopes: list[str]


def _first(first: int | None, default: int = 10) -> int:
    if first is None:
        return default
    if not 1 <= first <= MAX_RESULTS:
        raise InputError(f"first: {first} is out of range; ask for 1 to {MAX_RESULTS} results")
    return first


async def _by_key(info: Info, kind: Kind, field: str, record: dict[str, str]) -> str | None:
    query = normalized_query(kind, record)
    terms = dict(query.terms)
    if field not in terms:
        raise InputError(f"{next(iter(record))}: {next(iter(record.values()))!r} is not a usable key")
    return entity_by_term(info.context.session, kind, field, terms[field])


E = TypeVar("E", Person, Address, LegalEntity)


async def _of_kind(info: Info, entity_id: str | None, kind: Kind, cls: type[E]) -> E | None:
    if entity_id is None:
        return None
    found = await resolve_entity(info, entity_id, kind)
    return found if isinstance(found, cls) else None


@strawberry.type(name="Query")
class QueryRoot:
    @strawberry.field(
        description="A person by id; a retired id gives the person it was merged into. `asOf`: as it was"
        " then (members, values, links); one instant per operation."
    )
    async def person(self, info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Person | None:
        info.context.read_at(as_of)
        found = await resolve_entity(info, str(id), Kind.PERSON)
        return found if isinstance(found, Person) else None

    @strawberry.field(
        description="An address by id; a retired id gives the address it was merged into. `asOf`: as it"
        " was then."
    )
    async def address(self, info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Address | None:
        info.context.read_at(as_of)
        found = await resolve_entity(info, str(id), Kind.ADDRESS)
        return found if isinstance(found, Address) else None

    @strawberry.field(
        description="A legal entity by id; a retired id gives the one it was merged into. `asOf`: as it"
        " was then."
    )
    async def legal_entity(
        self, info: Info, id: strawberry.ID, as_of: datetime | None = None
    ) -> LegalEntity | None:
        info.context.read_at(as_of)
        found = await resolve_entity(info, str(id), Kind.LEGAL_ENTITY)
        return found if isinstance(found, LegalEntity) else None

    @strawberry.field(description="Any entity by id, whatever its kind.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_entity(info, str(id))

    @strawberry.field(description="A source record by its source system, kind and key (the crosswalk).")
    async def source_record(self, info: Info, source: str, kind: EntityKind, key: str) -> SourceRecord | None:
        info.context.require_kind(kind.to_kind())
        record_id = info.context.session.scalar(
            select(SourceRecordRow.id)
            .join(Source, Source.id == SourceRecordRow.source_id)
            .where(Source.name == source, SourceRecordRow.kind == kind.to_kind(), SourceRecordRow.key == key)
        )
        if record_id is None:
            return None
        member = await info.context.loaders.records.load(record_id)
        return source_record_of(member) if member is not None else None

    @strawberry.field(
        description="The person holding this resident ID number (15 or 18 digits). Needs `pii:lookup` or"
        " `pii:read`; rate limited and written to the access log."
    )
    async def person_by_id_number(self, info: Info, id_number: str) -> Person | None:
        info.context.require_kind(Kind.PERSON)
        look_up_personal(info, "look up a person by ID number", {"idNumber": id_number})
        found = await _by_key(info, Kind.PERSON, "id_any", {"id_number": id_number})
        return await _of_kind(info, found, Kind.PERSON, Person)

    @strawberry.field(description="The legal entity with this unified social credit code.")
    async def legal_entity_by_uscc(self, info: Info, uscc: str) -> LegalEntity | None:
        info.context.require_kind(Kind.LEGAL_ENTITY)
        found = await _by_key(info, Kind.LEGAL_ENTITY, "uscc_any", {"uscc": uscc})
        return await _of_kind(info, found, Kind.LEGAL_ENTITY, LegalEntity)

    @strawberry.field(description="The address with this QR doorplate code.")
    async def address_by_doorplate_code(self, info: Info, doorplate_code: str) -> Address | None:
        info.context.require_kind(Kind.ADDRESS)
        found = entity_by_term(
            info.context.session, Kind.ADDRESS, "doorplate", doorplate_code.strip().upper()
        )
        return await _of_kind(info, found, Kind.ADDRESS, Address)

    @strawberry.field(
        description="People by name (homophones and traditional characters found too), ID number, birth date"
        " or phone; best first. Searching by ID number, birth date or phone needs `pii:lookup` or"
        " `pii:read`, is rate limited and written to the access log."
    )
    async def search_persons(
        self,
        info: Info,
        name: str | None = None,
        id_number: str | None = None,
        birth_date: str | None = None,
        phone: str | None = None,
        first: int | None = 10,
    ) -> list[PersonMatch]:
        info.context.require_kind(Kind.PERSON)
        look_up_personal(
            info,
            "search persons by a personal identifier",
            {"idNumber": id_number, "birthDate": birth_date, "phone": phone},
        )
        given = {"name": name, "id_number": id_number, "birth_date": birth_date, "phone": phone}
        query = normalized_query(Kind.PERSON, {k: v for k, v in given.items() if v})
        if not query.terms:
            raise InputError(
                "give a name, an ID number or a phone: a birth date alone is too common to search"
            )
        ranked = rank(info.context.session, query, candidates(info.context.session, query), _first(first))
        return [PersonMatch(score=s, person=Person(id=strawberry.ID(e))) for e, s in ranked]

    @strawberry.field(
        description="Addresses by text, parsed first: 琴湖花园3-2-301 finds 琴湖花园3幢2单元301室;"
        " best first."
    )
    async def search_addresses(self, info: Info, text: str, first: int | None = 10) -> list[AddressMatch]:
        info.context.require_kind(Kind.ADDRESS)
        query = normalized_query(Kind.ADDRESS, {"address": text})
        ranked = rank(info.context.session, query, candidates(info.context.session, query), _first(first))
        return [AddressMatch(score=s, address=Address(id=strawberry.ID(e))) for e, s in ranked]

    @strawberry.field(
        description="Legal entities by name (region, legal form and brackets aside) or credit code."
    )
    async def search_legal_entities(
        self, info: Info, name: str | None = None, uscc: str | None = None, first: int | None = 10
    ) -> list[LegalEntityMatch]:
        info.context.require_kind(Kind.LEGAL_ENTITY)
        query = normalized_query(
            Kind.LEGAL_ENTITY, {k: v for k, v in {"name": name, "uscc": uscc}.items() if v}
        )
        like = query.fields.get("name_core")
        found = candidates(info.context.session, query, like=like)
        ranked = rank(info.context.session, query, found, _first(first))
        return [LegalEntityMatch(score=s, legal_entity=LegalEntity(id=strawberry.ID(e))) for e, s in ranked]

    @strawberry.field(
        description="Which stored entities an unsaved record (contract fields as JSON) would match, with the"
        " per-comparison explanation; writes nothing. A record with an ID number, phone or birth date"
        " needs `pii:lookup` or `pii:read`; without `pii:read` those comparisons say only same or not."
    )
    async def match(
        self, info: Info, kind: EntityKind, record: JSON, first: int | None = 5
    ) -> list[MatchCandidate]:
        info.context.require_kind(kind.to_kind())
        if not isinstance(record, dict):
            raise InputError("record: give the record as a JSON object of contract fields")
        look_up_personal(info, "match a record holding personal identifiers", personal_fields_of(record))
        # Without pii:read, a personal comparison says only "same" or not: its partial levels ("one
        # typo", "same year") would tell part of a value the client may not see.
        results = match_record(
            info.context.session,
            kind.to_kind(),
            record,
            _first(first, 5),
            exact_personal=not info.context.sees_pii,
        )
        loaders = info.context.loaders
        out = []
        for r in results:
            entity = await resolve_entity(info, r.entity_id)
            member = await loaders.records.load(r.record_id)
            if entity is None:
                continue
            out.append(
                MatchCandidate(
                    entity=entity,
                    score=r.probability,
                    weight=r.weight,
                    would_join=r.would_join,
                    matched_record=source_record_of(member) if member else None,
                    explanation=[MatchStep(comparison=c, level=lv, weight=w) for c, lv, w in r.steps],
                )
            )
        return out

    audit_events = strawberry.field(
        resolver=audit_event_page,
        description="The audit trail of changes, oldest first (auditor and admin only): by actor, action,"
        " an entity (or client, source, run) it changed, and time (`since` inclusive, `until` exclusive).",
        permission_classes=[ReadsAuditTrail],
    )
    access_log = strawberry.field(
        resolver=access_log_page,
        description="Who saw which entities' personal data, oldest first (auditor and admin only): by"
        " client name, entity and time (`since` inclusive, `until` exclusive).",
        permission_classes=[ReadsAccessLog],
    )
    review_items = strawberry.field(
        resolver=review_page,
        description="The review queue (steward, auditor, admin): open and claimed items first, the most"
        " uncertain first; by kind, state and assignee.",
        permission_classes=[ReadsReviewQueue],
    )

    @strawberry.field(description="The client making this request.")
    def viewer(self, info: Info) -> Viewer | None:
        client = info.context.client
        if client is None:
            return None
        return Viewer(name=client.name, role=client.role, scopes=list(client.scopes))


@strawberry.type(name="Mutation")
class MutationRoot:
    claim_review_item = strawberry.mutation(
        resolver=claim_review,
        description="Take a review item (steward, admin); another's claim or a decided item is a CONFLICT.",
    )
    decide_review_item = strawberry.mutation(
        resolver=decide_review,
        description="Decide a review item (steward, admin): MATCH or NOT_MATCH becomes the steward's"
        " judgement on the pair, which every later resolution honours; UNSURE leaves it open with the note.",
    )
    merge_entities = strawberry.mutation(
        resolver=merge_edit,
        description="Merge `other` into `into` (steward, admin), both at the versions the caller saw; a"
        " version that moved on meanwhile is a CONFLICT. The records move, `other` is retired into `into`,"
        " links follow, and later resolution runs keep them together. Undo with `undo(eventId)`.",
    )
    split_entity = strawberry.mutation(
        resolver=split_edit,
        description="Split an entity (steward, admin), at the version the caller saw: each group of its"
        " records becomes a new entity (`created`), the records in no group stay. Later runs keep the"
        " groups apart. Undo with `undo(eventId)`.",
    )
    move_records = strawberry.mutation(
        resolver=move_edit,
        description="Move some records of an entity into another existing entity (steward, admin), both at"
        " the versions the caller saw. Undo with `undo(eventId)`.",
    )
    override_value = strawberry.mutation(
        resolver=override_edit,
        description="Set a golden value by hand (steward, admin), at the version the caller saw: recorded"
        " as the steward's statement, it outranks every source, whose values stay in `lineage`. `value`"
        " null withdraws the steward's value. `field`: `name`, `idNumber`, `phone`, `text`, ...",
    )
    undo = strawberry.mutation(
        resolver=undo_edit,
        description="Reverse a steward's edit by its audit event (steward, admin): members, status and"
        " links as they were; a CONFLICT if what it touched has changed since.",
    )


class _Schema(LimitedSchema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log nothing here: `ErrorCodes` logs the unexpected errors with their traceback, and the
        expected ones (`NOT_FOUND`, `FORBIDDEN`, `CONFLICT`, ...) are answers, not incidents."""


schema = _Schema(
    query=QueryRoot,
    mutation=MutationRoot,
    types=[Person, Address, LegalEntity],
    extensions=[
        ErrorCodes,
        AccessLog,  # outside UnitOfWork: writes after the operation's session is released
        UnitOfWork,
        lambda: AddValidationRules(_LIMIT_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # Clients send the same few queries again and again: parse and validate each once.
        DocumentCache,
    ],
    federation_version="2.9",
)


def schema_sdl() -> str:
    """The printed schema, as checked in at `schema.graphql`."""
    return print_schema(schema) + "\n"

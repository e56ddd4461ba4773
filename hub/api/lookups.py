"""The root fields that find entities: by id, by key, by search and by an unsaved record's match.

Lookups by id follow merges to the surviving entity (and say so in `redirectedFrom`); lookups by key
and the searches normalize their input as ingestion would (`hub.search`), and `match` scores the
record as a resolution run would (`hub.resolve.matching`). Every one checks that the client's scopes
cover the kind it returns; lookups by a personal identifier go through `look_up_personal`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry
from sqlalchemy import select

from hub.api.context import Info
from hub.api.inputs import RecordInput, record_of
from hub.api.personal import look_up_personal, personal_fields_of
from hub.api.readahead import read_ahead
from hub.api.records import EntityKind, SourceRecord, source_record_of
from hub.api.types import (
    Address,
    AddressMatch,
    LegalEntity,
    LegalEntityMatch,
    Node,
    Person,
    PersonMatch,
    kind_of,
    resolve_entity,
)
from hub.domain import Kind
from hub.errors import InputError
from hub.resolve.matching import match_record
from hub.search import MAX_RESULTS, candidates, entity_by_term, normalized_query
from hub.search import ranked as rank
from hub.store.models import Source
from hub.store.models import SourceRecord as SourceRecordRow

__all__ = [
    "MatchCandidate",
    "MatchStep",
    "address",
    "address_by_doorplate_code",
    "legal_entity",
    "legal_entity_by_uscc",
    "match",
    "node",
    "person",
    "person_by_id_number",
    "search_addresses",
    "search_legal_entities",
    "search_persons",
    "source_record",
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
    """The entity `entity_id` if it is one of `kind` (after merges), with its answer read ahead."""
    if entity_id is None:
        return None
    found = await resolve_entity(info, entity_id, kind)
    if not isinstance(found, cls):
        return None
    read_ahead(info, kind, [str(found.id)])
    return found


async def person(info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Person | None:
    info.context.read_at(as_of)
    return await _of_kind(info, str(id), Kind.PERSON, Person)


async def address(info: Info, id: strawberry.ID, as_of: datetime | None = None) -> Address | None:
    info.context.read_at(as_of)
    return await _of_kind(info, str(id), Kind.ADDRESS, Address)


async def legal_entity(info: Info, id: strawberry.ID, as_of: datetime | None = None) -> LegalEntity | None:
    info.context.read_at(as_of)
    return await _of_kind(info, str(id), Kind.LEGAL_ENTITY, LegalEntity)


async def node(info: Info, id: strawberry.ID) -> Node | None:
    found = await resolve_entity(info, str(id))
    if found is not None:
        read_ahead(info, kind_of(found), [str(found.id)])
    return found


async def source_record(info: Info, source: str, kind: EntityKind, key: str) -> SourceRecord | None:
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


async def person_by_id_number(info: Info, id_number: str) -> Person | None:
    info.context.require_kind(Kind.PERSON)
    look_up_personal(info, "look up a person by ID number", {"idNumber": id_number})
    found = await _by_key(info, Kind.PERSON, "id_any", {"id_number": id_number})
    return await _of_kind(info, found, Kind.PERSON, Person)


async def legal_entity_by_uscc(info: Info, uscc: str) -> LegalEntity | None:
    info.context.require_kind(Kind.LEGAL_ENTITY)
    found = await _by_key(info, Kind.LEGAL_ENTITY, "uscc_any", {"uscc": uscc})
    return await _of_kind(info, found, Kind.LEGAL_ENTITY, LegalEntity)


async def address_by_doorplate_code(info: Info, doorplate_code: str) -> Address | None:
    info.context.require_kind(Kind.ADDRESS)
    found = entity_by_term(info.context.session, Kind.ADDRESS, "doorplate", doorplate_code.strip().upper())
    return await _of_kind(info, found, Kind.ADDRESS, Address)


async def search_persons(
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
        raise InputError("give a name, an ID number or a phone: a birth date alone is too common to search")
    ranked = rank(info.context.session, query, candidates(info.context.session, query), _first(first))
    read_ahead(info, Kind.PERSON, [e for e, _ in ranked], ("person",))
    return [PersonMatch(score=s, person=Person(id=strawberry.ID(e))) for e, s in ranked]


async def search_addresses(info: Info, text: str, first: int | None = 10) -> list[AddressMatch]:
    info.context.require_kind(Kind.ADDRESS)
    query = normalized_query(Kind.ADDRESS, {"address": text})
    ranked = rank(info.context.session, query, candidates(info.context.session, query), _first(first))
    read_ahead(info, Kind.ADDRESS, [e for e, _ in ranked], ("address",))
    return [AddressMatch(score=s, address=Address(id=strawberry.ID(e))) for e, s in ranked]


async def search_legal_entities(
    info: Info, name: str | None = None, uscc: str | None = None, first: int | None = 10
) -> list[LegalEntityMatch]:
    info.context.require_kind(Kind.LEGAL_ENTITY)
    query = normalized_query(Kind.LEGAL_ENTITY, {k: v for k, v in {"name": name, "uscc": uscc}.items() if v})
    like = query.fields.get("name_core")
    found = candidates(info.context.session, query, like=like)
    ranked = rank(info.context.session, query, found, _first(first))
    read_ahead(info, Kind.LEGAL_ENTITY, [e for e, _ in ranked], ("legalEntity",))
    return [LegalEntityMatch(score=s, legal_entity=LegalEntity(id=strawberry.ID(e))) for e, s in ranked]


async def match(info: Info, record: RecordInput, first: int | None = 5) -> list[MatchCandidate]:
    wanted, plain = record_of(record)
    info.context.require_kind(wanted)
    look_up_personal(info, "match a record holding personal identifiers", personal_fields_of(plain))
    # Without pii:read, a personal comparison says only "same" or not: its partial levels ("one
    # typo", "same year") would tell part of a value the client may not see.
    results = match_record(
        info.context.session,
        wanted,
        plain,
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

"""Links between entities of different kinds, with the source records that assert them.

After resolution, each person and legal-entity record's references become entity–entity links:

- lives_at (person → address): the person record's `address` resolves to an address entity;
- household_registered_at (person → address): its `registered_address`;
- employed_by (person → legal entity): `employer_uscc`, else the one head office with the employer's
  core name;
- legal_representative (person → legal entity): the representative's ID number, else the one person
  of that name who lives at the company's address or works for it;
- registered_at / operates_at (legal entity → address): `registered_address` / `business_address`.

An address written in a person or company record resolves with the address model to the one address
entity it matches (`hub.resolve.references`): blocked, compared and weighed like an address record,
under the same hard rules. Nothing is guessed: a reference that matches no entity at the link
threshold, or several, makes no link, and the summary counts why. One that no address record is near
at all becomes an address record of the hub's own source, `hub` (shown as such in lineage), with an
entity of its own, so that the people who write it meet at one address.

Links are rebuilt from the current entities: a link no longer asserted is closed (`valid_to`), a new
one is added, a standing one keeps its id and gains any new evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain import DERIVED_SOURCE, Kind, LinkRelation
from hub.ingest import ingest_records
from hub.ingest.prepare import MAX_KEY_LENGTH
from hub.resolve.references import ReferenceResolution, reference_fields, resolve_references
from hub.store.bulk import BulkWriter
from hub.store.models import Membership, RecordVersion, Source, SourceRecord, utcnow
from hub.store.sql import driver_cursor, json_object, json_paths, json_value

__all__ = ["LinkSummary", "link_entities"]

_Places = tuple[tuple[str, LinkRelation], ...]
_PERSON_PLACES: _Places = (
    ("address", LinkRelation.LIVES_AT),
    ("registered_address", LinkRelation.HOUSEHOLD_REGISTERED_AT),
)
_PERSON_RELATIONS = frozenset(relation for _, relation in _PERSON_PLACES)
_COMPANY_PLACES: _Places = (
    ("registered_address", LinkRelation.REGISTERED_AT),
    ("business_address", LinkRelation.OPERATES_AT),
)


@dataclass(frozen=True, slots=True)
class LinkSummary:
    links: int
    added: int
    closed: int
    evidence: int
    unresolved: dict[str, int]  # per relation: references that resolved to no single entity
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # per relation, per reason (addresses)
    derived: int = 0  # addresses no record was near, made records of the hub's own source in this run


_PERSON_FIELDS = (
    "id_number", "id_number_valid", "id_number_borrowed", "name_key",
    "employer_uscc", "employer_uscc_valid", "employer_name_core",
)  # fmt: skip
_COMPANY_FIELDS = (
    "uscc", "uscc_valid", "name_core", "is_branch", "legal_representative_name",
    "legal_representative_name_key", "legal_representative_id_number",
    "legal_representative_id_number_valid",
)  # fmt: skip


def _current(
    session: Session, kind: Kind, fields: tuple[str, ...], places: _Places, references: dict[str, bytes]
) -> Iterator[tuple[int, str, dict[str, Any], list[str | None]]]:
    """Each current record of `kind`: its id, entity, the named features (read in the database, the
    document parsed once, not handed over whole), and the canonical text of each address field in
    `places` (None: not written). The match fields of each address text not yet in `references` are
    added to it."""
    connection = session.connection()
    paths = [(name,) for name in fields] + [(name,) for name, _ in places]
    count = len(fields)
    with driver_cursor(connection, stream=f"hub_links_{kind.value}") as cursor:
        cursor.execute(
            f"SELECT r.id, m.entity_id, {json_paths(connection, 'v.features', paths)} FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            f" WHERE r.kind = '{kind.value}'"
        )
        while batch := cursor.fetchmany(10_000):
            for record, entity, found in batch:
                values = json_value(found)
                texts: list[str | None] = []
                for address in values[count:]:
                    text = address.get("canonical") if isinstance(address, dict) else None
                    texts.append(text if text is not None or address is None else "")
                    if text and text not in references:
                        references[text] = reference_fields(address)
                yield record, entity, dict(zip(fields, values[:count], strict=True)), texts


def _unique(values: set[str] | None) -> str | None:
    return next(iter(values)) if values and len(values) == 1 else None


def link_entities(session: Session) -> LinkSummary:
    """Rebuild the cross-kind links from the current entities (flushes; the caller commits)."""
    asserted: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    unresolved: dict[str, int] = defaultdict(int)
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    mentions: list[tuple[int, str, LinkRelation, str]] = []  # record, subject, relation, canonical text

    def mention(record: int, subject: str, texts: list[str | None], places: _Places) -> None:
        for text, (_name, relation) in zip(texts, places, strict=True):
            if text is None:
                continue
            if not text:
                unresolved[relation.value] += 1
                reasons[relation.value]["no place"] += 1
                continue
            mentions.append((record, subject, relation, text))

    references: dict[str, bytes] = {}  # canonical text → match fields
    companies = list(_current(session, Kind.LEGAL_ENTITY, _COMPANY_FIELDS, _COMPANY_PLACES, references))
    by_uscc: dict[str, set[str]] = defaultdict(set)
    by_core: dict[str, set[str]] = defaultdict(set)
    for _record, entity, f, _texts in companies:
        if f.get("uscc") and f.get("uscc_valid"):
            by_uscc[f["uscc"]].add(entity)
        if f.get("name_core") and not f.get("is_branch"):
            by_core[f["name_core"]].add(entity)

    by_id: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    employs: dict[str, set[str]] = defaultdict(set)  # company entity → person entities
    employed_by, representative_of = LinkRelation.EMPLOYED_BY.value, LinkRelation.LEGAL_REPRESENTATIVE.value
    persons = _current(session, Kind.PERSON, _PERSON_FIELDS, _PERSON_PLACES, references)
    for record, person, f, texts in persons:
        if f["id_number"] and f["id_number_valid"] and not f["id_number_borrowed"]:
            by_id[f["id_number"]].add(person)
        if f["name_key"]:
            by_name[f["name_key"]].add(person)
        mention(record, person, texts, _PERSON_PLACES)
        employer = None
        if f["employer_uscc"] and f["employer_uscc_valid"]:
            employer = _unique(by_uscc.get(f["employer_uscc"]))
        if employer is None and f["employer_name_core"]:
            employer = _unique(by_core.get(f["employer_name_core"]))
        if employer is not None:
            asserted[(employed_by, person, employer)].add(record)
            employs[employer].add(person)
        elif f["employer_uscc"] or f["employer_name_core"]:
            unresolved[employed_by] += 1
    for record, company, _f, texts in companies:
        mention(record, company, texts, _COMPANY_PLACES)

    # Texts the hub's own address records were made for keep resolving to them; the rest go to the model.
    made_for = _derived_texts(session)
    resolved = resolve_references(session, {t: f for t, f in references.items() if t not in made_for})
    resolved.entity.update(made_for)
    derived = _derive_unregistered(session, resolved, references)
    # Where a text could name several places, the one place the same person or company is placed at by
    # its other records is it ("虞湾村14号" on a grid visit of someone registered at 虞湾村张家埭14号).
    known: dict[str, set[str]] = defaultdict(set)
    for _record, subject, _relation, text in mentions:
        if text in resolved.entity:
            known[subject].add(resolved.entity[text])
    lives: dict[str, set[str]] = defaultdict(set)  # address entity → person entities
    premises: dict[int, list[str]] = defaultdict(list)  # company record → its address entities
    for record, subject, relation, text in mentions:
        place = resolved.entity.get(text) or _unique(resolved.candidates.get(text, set()) & known[subject])
        if place is None:
            unresolved[relation.value] += 1
            reasons[relation.value][resolved.unresolved[text]] += 1
            continue
        asserted[(relation.value, subject, place)].add(record)
        if relation in _PERSON_RELATIONS:
            lives[place].add(subject)
        else:
            premises[record].append(place)

    for record, company, f, _texts in companies:
        representative = None
        if f.get("legal_representative_id_number") and f.get("legal_representative_id_number_valid"):
            representative = _unique(by_id.get(f["legal_representative_id_number"]))
        if representative is None and f.get("legal_representative_name_key"):
            namesakes = by_name.get(f["legal_representative_name_key"], set())
            nearby = set(employs.get(company, ()))
            for place in premises.get(record, ()):
                nearby |= lives.get(place, set())
            representative = _unique(namesakes & nearby)
        if representative is not None:
            asserted[(representative_of, representative, company)].add(record)
        elif f.get("legal_representative_name"):
            unresolved[representative_of] += 1

    return _store(
        session,
        asserted,
        dict(unresolved),
        {relation: dict(counts) for relation, counts in reasons.items()},
        derived,
    )


def _derived_texts(session: Session) -> dict[str, str]:
    """Each text a record of the hub's own source was made for (its `written`), and that record's entity."""
    current = (SourceRecord.id == RecordVersion.record_id) & (SourceRecord.version == RecordVersion.version)
    rows = session.execute(
        select(RecordVersion.payload, Membership.entity_id)
        .join(SourceRecord, current)
        .join(Source, Source.id == SourceRecord.source_id)
        .join(Membership, (Membership.record_id == SourceRecord.id) & Membership.valid_to.is_(None))
        .where(Source.name == DERIVED_SOURCE, SourceRecord.kind == Kind.ADDRESS)
    )
    out: dict[str, str] = {}
    for payload, entity in rows:
        for text in json_object(payload).get("written") or ():
            out[text] = entity
    return out


def _derive_unregistered(
    session: Session, resolved: ReferenceResolution, references: dict[str, bytes]
) -> int:
    """Make each referenced address that no address record is near (`no candidate`) a record of the
    hub's own source, `hub`, so that the residents of an unregistered house (or the migrants from one
    home village house) meet at one address entity. Texts of one dwelling (the same flat or house key,
    and no two towns) are one record, the fullest text its address. Ingestion gives each record an
    entity of its own; batch runs resolve it like any other address record from then on (a
    departmental record of the same house, when one comes, joins it). Returns how many were made."""
    places: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for text, reason in resolved.unresolved.items():
        if reason == "no candidate":
            fields = orjson.loads(references[text])
            places[(fields.get("dwelling") or text, fields.get("street"))].append(text)
    by_dwelling: dict[str, list[tuple[str | None, list[str]]]] = defaultdict(list)
    for (dwelling, street), texts in places.items():
        by_dwelling[dwelling].append((street, texts))
    records: dict[str, list[str]] = {}  # the record's text → the texts it stands for
    for groups in by_dwelling.values():
        towns = {street for street, _ in groups if street}
        if len(towns) <= 1:  # one place, written with the town or without
            groups = [(None, [text for _, texts in groups for text in texts])]
        for _street, texts in groups:
            fullest = max(texts, key=lambda t: (len(t), t))
            if len(fullest) <= MAX_KEY_LENGTH:
                records[fullest] = texts
    if not records:
        return 0
    if session.scalar(select(Source.id).where(Source.name == DERIVED_SOURCE)) is None:
        # the lowest trust: any office's value of an attribute wins over the hub's reading of a text
        session.add(Source(name=DERIVED_SOURCE, trust={"*": -1}))
        session.flush()
    made = ({"key": text, "address": text, "written": sorted(records[text])} for text in records)
    ingest_records(session, DERIVED_SOURCE, Kind.ADDRESS, made)
    keys = list(records)
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(SourceRecord.key, Membership.entity_id)
            .join(Source, Source.id == SourceRecord.source_id)
            .join(Membership, (Membership.record_id == SourceRecord.id) & Membership.valid_to.is_(None))
            .where(
                Source.name == DERIVED_SOURCE,
                SourceRecord.kind == Kind.ADDRESS,
                SourceRecord.key.in_(keys[start : start + 500]),
            )
        )
        for key, entity in rows:
            for text in records[key]:
                resolved.entity[text] = entity
                del resolved.unresolved[text]
    return len(records)


def _store(
    session: Session,
    asserted: dict[tuple[str, str, str], set[int]],
    unresolved: dict[str, int],
    reasons: dict[str, dict[str, int]],
    derived: int,
) -> LinkSummary:
    connection = session.connection()
    bulk = BulkWriter(connection)
    stamp = bulk.timestamp(utcnow())
    mark = bulk.mark
    standing = {
        (relation, subject, obj): link_id
        for link_id, relation, subject, obj in connection.exec_driver_sql(
            "SELECT id, relation, subject_id, object_id FROM link WHERE valid_to IS NULL"
        )
    }
    gone = [link_id for key, link_id in standing.items() if key not in asserted]
    if gone:
        connection.exec_driver_sql(
            f"UPDATE link SET valid_to = {mark} WHERE id = {mark}", [(stamp, i) for i in gone]
        )
    new_keys = [key for key in asserted if key not in standing]
    new_ids = bulk.insert_returning_ids(
        "link",
        ("relation", "subject_id", "object_id", "valid_from"),
        [(relation, subject, obj, stamp) for relation, subject, obj in new_keys],
    )
    ids = {
        **{k: v for k, v in standing.items() if k in asserted},
        **dict(zip(new_keys, new_ids, strict=True)),
    }
    known = {
        (link_id, record_id)
        for link_id, record_id in connection.exec_driver_sql(
            "SELECT e.link_id, e.record_id FROM link_evidence e JOIN link l ON l.id = e.link_id"
            " WHERE l.valid_to IS NULL"
        )
    }
    evidence = [
        (ids[key], record_id)
        for key, records in asserted.items()
        for record_id in sorted(records)
        if (ids[key], record_id) not in known
    ]
    bulk.insert("link_evidence", ("link_id", "record_id"), evidence)
    return LinkSummary(len(asserted), len(new_keys), len(gone), len(evidence), unresolved, reasons, derived)

"""Links between entities of different kinds, with the source records that assert them.

After resolution, each person and legal-entity record's references become entity–entity links:

- lives_at (person → address): the person record's `address` resolves to an address entity;
- household_registered_at (person → address): its `registered_address`;
- employed_by (person → legal entity): `employer_uscc`, else the one head office with the employer's
  core name;
- legal_representative (person → legal entity): the representative's ID number, else the one person
  of that name who lives at the company's address or works for it;
- registered_at / operates_at (legal entity → address): `registered_address` / `business_address`.

An address text resolves to the address entity whose records share its flat key (the flat, or the
road number of a house), or, failing that, its room key; where several address entities share a key
(a hamlet name repeated in two villages) the text's village, town or district must agree with
exactly one. Nothing is guessed: an ambiguous reference makes no link.

Links are rebuilt from the current entities: a link no longer asserted is closed (`valid_to`), a new
one is added, a standing one keeps its id and gains any new evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hub.domain import Kind, LinkRelation
from hub.normalize.fields import place_keys
from hub.store.bulk import BulkWriter
from hub.store.models import utcnow
from hub.store.sql import json_object

__all__ = ["LinkSummary", "link_entities"]

_CONTEXT = ("community", "street", "district")
_PERSON_PLACES = (
    ("address", LinkRelation.LIVES_AT),
    ("registered_address", LinkRelation.HOUSEHOLD_REGISTERED_AT),
)
_COMPANY_PLACES = (
    ("registered_address", LinkRelation.REGISTERED_AT),
    ("business_address", LinkRelation.OPERATES_AT),
)


@dataclass(frozen=True, slots=True)
class LinkSummary:
    links: int
    added: int
    closed: int
    evidence: int
    unresolved: dict[str, int]


def _current(session: Session, kind: Kind) -> Iterable[tuple[int, str, dict[str, Any]]]:
    rows = session.connection().exec_driver_sql(
        "SELECT r.id, m.entity_id, v.features FROM source_record r"
        " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
        " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
        f" WHERE r.kind = '{kind}'"
    )
    for record_id, entity_id, features in rows:
        yield record_id, entity_id, json_object(features)


class _Addresses:
    """Address entities by flat key and by room key, with each entity's place names for disambiguation."""

    def __init__(self, records: Iterable[tuple[int, str, dict[str, Any]]]) -> None:
        self.by_flat: dict[str, set[str]] = defaultdict(set)
        self.by_room: dict[str, set[str]] = defaultdict(set)
        self.context: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for _record, entity, features in records:
            flat, room, _building = place_keys(features)
            if flat:
                self.by_flat[flat].add(entity)
            if room:
                self.by_room[room].add(entity)
            for name in _CONTEXT:
                if features.get(name):
                    self.context[entity][name].add(features[name])

    def resolve(self, address: Mapping[str, Any] | None) -> str | None:
        if not isinstance(address, Mapping):
            return None
        flat, room, _building = place_keys(address)
        for key, index in ((flat, self.by_flat), (room, self.by_room)):
            if not key or key not in index:
                continue
            candidates = index[key]
            if len(candidates) == 1:
                return next(iter(candidates))
            for name in _CONTEXT:
                value = address.get(name)
                if value:
                    narrowed = [e for e in candidates if value in self.context[e][name]]
                    if len(narrowed) == 1:
                        return narrowed[0]
                    if narrowed:
                        candidates = set(narrowed)
            return None
        return None


def _unique(values: set[str] | None) -> str | None:
    return next(iter(values)) if values and len(values) == 1 else None


def link_entities(session: Session) -> LinkSummary:
    """Rebuild the cross-kind links from the current entities (flushes; the caller commits)."""
    addresses = _Addresses(_current(session, Kind.ADDRESS))
    asserted: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    unresolved: dict[str, int] = defaultdict(int)

    companies = list(_current(session, Kind.LEGAL_ENTITY))
    by_uscc: dict[str, set[str]] = defaultdict(set)
    by_core: dict[str, set[str]] = defaultdict(set)
    for _record, entity, f in companies:
        if f.get("uscc") and f.get("uscc_valid"):
            by_uscc[f["uscc"]].add(entity)
        if f.get("name_core") and not f.get("is_branch"):
            by_core[f["name_core"]].add(entity)

    def place_links(
        record: int, subject: str, f: dict[str, Any], fields: tuple[tuple[str, LinkRelation], ...]
    ) -> list[str]:
        """Link `subject` to the address entity of each address field that resolves; those entities."""
        places = []
        for field, relation in fields:
            if f.get(field):
                place = addresses.resolve(f[field])
                if place is None:
                    unresolved[relation.value] += 1
                    continue
                asserted[(relation.value, subject, place)].add(record)
                places.append(place)
        return places

    by_id: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    lives: dict[str, set[str]] = defaultdict(set)  # address entity → person entities
    employs: dict[str, set[str]] = defaultdict(set)  # company entity → person entities
    for record, person, f in _current(session, Kind.PERSON):
        if f.get("id_number") and f.get("id_number_valid"):
            by_id[f["id_number"]].add(person)
        if f.get("name_key"):
            by_name[f["name_key"]].add(person)
        for place in place_links(record, person, f, _PERSON_PLACES):
            lives[place].add(person)
        employer = None
        if f.get("employer_uscc") and f.get("employer_uscc_valid"):
            employer = _unique(by_uscc.get(f["employer_uscc"]))
        if employer is None and f.get("employer_name_core"):
            employer = _unique(by_core.get(f["employer_name_core"]))
        if employer is not None:
            asserted[(LinkRelation.EMPLOYED_BY.value, person, employer)].add(record)
            employs[employer].add(person)
        elif f.get("employer_uscc") or f.get("employer_name_core"):
            unresolved[LinkRelation.EMPLOYED_BY.value] += 1

    for record, company, f in companies:
        places = place_links(record, company, f, _COMPANY_PLACES)
        representative = None
        if f.get("legal_representative_id_number") and f.get("legal_representative_id_number_valid"):
            representative = _unique(by_id.get(f["legal_representative_id_number"]))
        if representative is None and f.get("legal_representative_name_key"):
            namesakes = by_name.get(f["legal_representative_name_key"], set())
            nearby = set(employs.get(company, ()))
            for place in places:
                nearby |= lives.get(place, set())
            representative = _unique(namesakes & nearby)
        if representative is not None:
            asserted[(LinkRelation.LEGAL_REPRESENTATIVE.value, representative, company)].add(record)
        elif f.get("legal_representative_name"):
            unresolved[LinkRelation.LEGAL_REPRESENTATIVE.value] += 1

    return _store(session, asserted, dict(unresolved))


def _store(
    session: Session, asserted: dict[tuple[str, str, str], set[int]], unresolved: dict[str, int]
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
    return LinkSummary(len(asserted), len(new_keys), len(gone), len(evidence), unresolved)

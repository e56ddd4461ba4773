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
threshold, or several, makes no link, and the summary counts why. One that no address record is near,
or that names a dwelling under a name of its own and is like none of the records near it, becomes an
address record of the hub's own source, `hub` (shown as such in lineage), with an entity of its own,
so that the people who write it meet at one address.

Links are rebuilt from the current entities: a link no longer asserted is closed (`valid_to`), a new
one is added, a standing one keeps its id and gains any new evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from hub.changes import link_changes
from hub.domain import DERIVED_SOURCE, ChangeAction, Kind, LinkRelation
from hub.ingest import ingest_records
from hub.ingest.prepare import MAX_KEY_LENGTH
from hub.normalize.columns import address_match_columns
from hub.normalize.fields import ADDRESS_FEATURES
from hub.resolve.columns import read_json_lines
from hub.resolve.persist import RESOLUTION, without_gc
from hub.resolve.references import ReferenceResolution, names_a_dwelling, resolve_references
from hub.store.bulk import BulkWriter
from hub.store.database import bulk_session
from hub.store.models import Base, Membership, RecordVersion, Source, SourceRecord, utcnow
from hub.store.sql import driver_cursor, is_sqlite, json_object

__all__ = ["LinkSummary", "link_entities", "rebuild_links"]

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


_BOOL, _TEXT = pa.bool_(), pa.string()
_PERSON_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("id_number", _TEXT), ("id_number_valid", _BOOL), ("id_number_borrowed", _BOOL), ("name_key", _TEXT),
    ("employer_uscc", _TEXT), ("employer_uscc_valid", _BOOL), ("employer_name_core", _TEXT),
)  # fmt: skip
_COMPANY_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("uscc", _TEXT), ("uscc_valid", _BOOL), ("name_core", _TEXT), ("is_branch", _BOOL),
    ("legal_representative_name", _TEXT), ("legal_representative_name_key", _TEXT),
    ("legal_representative_id_number", _TEXT), ("legal_representative_id_number_valid", _BOOL),
)  # fmt: skip
_ADDRESS = pa.struct([(name, _TEXT) for name in ADDRESS_FEATURES])
_BATCH = 50_000


@dataclass(slots=True)
class _Records:
    """The current records of one kind: ids and entities (lists), the named features (a table), and
    the canonical text of each address field (None: not written; "": written, but naming no place)."""

    record: list[int]
    entity: list[str]
    values: pa.Table
    texts: list[list[str | None]]

    def column(self, name: str) -> list[Any]:
        return self.values.column(name).to_pylist()

    def where(self, mask: pa.ChunkedArray | pa.Array, *names: str) -> list[tuple[Any, ...]]:
        """(record, entity, the named values) of the records where `mask` holds."""
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist()
        chosen = self.values.take(pa.array(rows, pa.int64()))
        values = [chosen.column(name).to_pylist() for name in names]
        return list(zip([self.record[i] for i in rows], [self.entity[i] for i in rows], *values, strict=True))


@dataclass(slots=True)
class _References:
    """The address match fields of each canonical text the records name, once per text (its first
    mention), in the order first mentioned.

    Kept per text as the records are read, not per mention: a city names each place many times, and
    every mention kept until the end, then sorted out, held 0.9 GB more at a million persons.
    """

    seen: set[str] = field(default_factory=set)
    tables: list[pa.Table] = field(default_factory=list)

    def add(self, columns: dict[str, pa.Array], texts: list[str | None]) -> None:
        """Keep the rows of `columns` (`address_match_columns`) whose canonical text is new; `texts` are
        the same rows' canonical texts as `_Records.texts` holds them ("" or None: none, since
        `address_match_columns` makes an empty text null)."""
        seen = self.seen
        first: list[bool] = []
        for text in texts:
            if text and text not in seen:
                seen.add(text)
                first.append(True)
            else:
                first.append(False)
        keep = pa.array(first, _BOOL)
        self.tables.append(pa.table({name: column.filter(keep) for name, column in columns.items()}))

    def table(self) -> pa.Table:
        if not self.tables:
            return pa.table({"canonical": pa.array([], _TEXT)})
        return pa.concat_tables(self.tables).combine_chunks()


def _coerced(document: Any, schema: pa.Schema) -> dict[str, Any]:
    """A features document with each value of the schema's type or None (what Arrow could not read)."""
    document = document if isinstance(document, dict) else {}
    out: dict[str, Any] = {}
    for item in schema:
        value = document.get(item.name)
        if item.type == _ADDRESS:
            out[item.name] = (
                {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else None
            )
        elif item.type == _BOOL:
            out[item.name] = value if isinstance(value, bool) else None
        else:
            out[item.name] = value if isinstance(value, str) else None
    return out


def _parsed(blobs: list[bytes], schema: pa.Schema) -> pa.Table:
    """Features documents (JSON) as a table of the schema's fields, parsed by Arrow; a batch holding a
    value of another type goes through Python instead."""
    try:
        return read_json_lines(blobs, schema)
    except pa.ArrowInvalid:
        return pa.Table.from_pylist([_coerced(orjson.loads(b), schema) for b in blobs], schema=schema)


def _current(
    session: Session,
    kind: Kind,
    fields: tuple[tuple[str, pa.DataType], ...],
    places: _Places,
    references: _References,
) -> _Records:
    """Each current record of `kind` with its entity, the named features and its address fields'
    canonical texts; the match fields of each address text go to `references`. The features
    documents are parsed by Arrow in batches, not one by one."""
    connection = session.connection()
    schema = pa.schema([*fields, *((name, _ADDRESS) for name, _ in places)])
    features = "CAST(v.features AS BLOB)" if is_sqlite(connection) else "convert_to(v.features::text, 'UTF8')"
    out = _Records([], [], pa.table({}), [[] for _ in places])
    tables: list[pa.Table] = []
    with driver_cursor(connection, stream=f"hub_links_{kind.value}") as cursor:
        cursor.execute(
            f"SELECT r.id, m.entity_id, {features} FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            f" WHERE r.kind = '{kind.value}'"
        )
        while batch := cursor.fetchmany(_BATCH):
            out.record.extend(row[0] for row in batch)
            out.entity.extend(row[1] for row in batch)
            table = _parsed([bytes(row[2]) for row in batch], schema)
            tables.append(table.select([name for name, _ in fields]))
            for k, (name, _) in enumerate(places):
                address = table.column(name).combine_chunks()
                columns = address_match_columns(address)
                canonical = columns["canonical"]
                # written (the object is there) but with no canonical text: "" (names no place)
                written = pc.if_else(pc.is_valid(address), pc.coalesce(canonical, ""), None)
                texts = written.to_pylist()
                out.texts[k].extend(texts)
                references.add(columns, texts)
    out.values = pa.concat_tables(tables) if tables else pa.schema(list(fields)).empty_table()
    return out


def _unique(values: set[str] | None) -> str | None:
    return next(iter(values)) if values and len(values) == 1 else None


def rebuild_links(engine: Engine) -> LinkSummary:
    """Rebuild the links in a transaction of their own, committed (`hub resolve`'s last step).

    It runs in a bulk session: every entity, record and link a new row refers to was read or written
    in the same transaction, so SQLite's foreign-key checks of each row would find nothing, and at a
    million persons they were a third of storing the links (11 s of 34).
    """
    with bulk_session(engine) as session:
        summary = link_entities(session)
        session.commit()
    return summary


@without_gc()
def link_entities(session: Session) -> LinkSummary:
    """Rebuild the cross-kind links from the current entities (flushes; the caller commits).

    The cyclic garbage collector is paused, as in a resolution run: the step makes a set and a tuple
    for each of millions of links, none in a cycle, and the collector's passes over them took 12 s of
    the step's 103 at a million persons."""
    asserted: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    unresolved: dict[str, int] = defaultdict(int)
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # each mention of an address: its record, subject entity, relation and canonical text
    mentioned: tuple[list[int], list[str], list[str], list[str]] = ([], [], [], [])

    def mention(records: _Records, places: _Places) -> None:
        for texts, (_name, relation) in zip(records.texts, places, strict=True):
            value = relation.value
            for record, subject, text in zip(records.record, records.entity, texts, strict=True):
                if text is None:
                    continue
                if not text:
                    unresolved[value] += 1
                    reasons[value]["no place"] += 1
                    continue
                mentioned[0].append(record)
                mentioned[1].append(subject)
                mentioned[2].append(value)
                mentioned[3].append(text)

    references = _References()
    companies = _current(session, Kind.LEGAL_ENTITY, _COMPANY_FIELDS, _COMPANY_PLACES, references)
    c = {name: companies.column(name) for name, _ in _COMPANY_FIELDS}
    by_uscc: dict[str, set[str]] = defaultdict(set)
    by_core: dict[str, set[str]] = defaultdict(set)
    for entity, uscc, valid, core, branch in zip(
        companies.entity, c["uscc"], c["uscc_valid"], c["name_core"], c["is_branch"], strict=True
    ):
        if uscc and valid:
            by_uscc[uscc].add(entity)
        if core and not branch:
            by_core[core].add(entity)
    # the persons that may represent a company: by its representative's ID number, or by name
    wanted_ids = {
        number
        for number, valid in zip(
            c["legal_representative_id_number"], c["legal_representative_id_number_valid"], strict=True
        )
        if number and valid
    }
    wanted_names = {key for key in c["legal_representative_name_key"] if key}

    by_id: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    employs: dict[str, set[str]] = defaultdict(set)  # company entity → person entities
    employed_by, representative_of = LinkRelation.EMPLOYED_BY.value, LinkRelation.LEGAL_REPRESENTATIVE.value
    persons = _current(session, Kind.PERSON, _PERSON_FIELDS, _PERSON_PLACES, references)
    p = persons.values
    own = pc.and_kleene(
        p.column("id_number_valid"), pc.invert(pc.fill_null(p.column("id_number_borrowed"), False))
    )
    wanted = pc.and_kleene(pc.is_in(p.column("id_number"), pa.array(sorted(wanted_ids), _TEXT)), own)
    for _record, person, number in persons.where(pc.fill_null(wanted, False), "id_number"):
        by_id[number].add(person)
    namesakes = pc.is_in(p.column("name_key"), pa.array(sorted(wanted_names), _TEXT))
    for _record, person, name_key in persons.where(namesakes, "name_key"):
        by_name[name_key].add(person)
    working = pc.or_(pc.is_valid(p.column("employer_uscc")), pc.is_valid(p.column("employer_name_core")))
    for record, person, uscc, uscc_valid, core in persons.where(
        working, "employer_uscc", "employer_uscc_valid", "employer_name_core"
    ):
        employer = None
        if uscc and uscc_valid:
            employer = _unique(by_uscc.get(uscc))
        if employer is None and core:
            employer = _unique(by_core.get(core))
        if employer is not None:
            asserted[(employed_by, person, employer)].add(record)
            employs[employer].add(person)
        elif uscc or core:
            unresolved[employed_by] += 1
    mention(persons, _PERSON_PLACES)
    mention(companies, _COMPANY_PLACES)
    del persons, p, own, wanted, namesakes, working

    # Texts the hub's own address records were made for keep resolving to them. They are weighed with
    # the rest all the same: the texts around a reference shape how it is weighed (the villages named,
    # the values' frequencies), and links rebuilt from the same records are the same links.
    made_for = _derived_texts(session)
    table = references.table()
    del references
    resolved = resolve_references(session, table)
    for text in made_for:
        resolved.unresolved.pop(text, None)
        resolved.candidates.pop(text, None)
    resolved.entity.update(made_for)
    derived = _derive_unregistered(session, resolved, table)
    del table
    # Where a text could name several places, the one place the same person or company is placed at by
    # its other records is it ("虞湾村14号" on a grid visit of someone registered at 虞湾村张家埭14号).
    entity_of, candidates = resolved.entity, resolved.candidates
    open_subjects = {s for s, t in zip(mentioned[1], mentioned[3], strict=True) if t in candidates}
    known: dict[str, set[str]] = defaultdict(set)
    for subject, text in zip(mentioned[1], mentioned[3], strict=True):
        if subject in open_subjects and text in entity_of:
            known[subject].add(entity_of[text])
    person_relations = {relation.value for relation in _PERSON_RELATIONS}
    lives: dict[str, set[str]] = defaultdict(set)  # address entity → person entities
    premises: dict[int, list[str]] = defaultdict(list)  # company record → its address entities
    for record, subject, relation, text in zip(*mentioned, strict=True):
        place = entity_of.get(text)
        if place is None and text in candidates:
            place = _unique(candidates[text] & known[subject])
        if place is None:
            unresolved[relation] += 1
            reasons[relation][resolved.unresolved[text]] += 1
            continue
        asserted[(relation, subject, place)].add(record)
        if relation in person_relations:
            lives[place].add(subject)
        else:
            premises[record].append(place)

    for record, company, number, valid, name, name_key in zip(
        companies.record, companies.entity, c["legal_representative_id_number"],
        c["legal_representative_id_number_valid"], c["legal_representative_name"],
        c["legal_representative_name_key"], strict=True,
    ):  # fmt: skip
        representative = None
        if number and valid:
            representative = _unique(by_id.get(number))
        if representative is None and name_key:
            namesakes = by_name.get(name_key, set())
            nearby = set(employs.get(company, ()))
            for place in premises.get(record, ()):
                nearby |= lives.get(place, set())
            representative = _unique(namesakes & nearby)
        if representative is not None:
            asserted[(representative_of, representative, company)].add(record)
        elif name:
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


def _derive_unregistered(session: Session, resolved: ReferenceResolution, references: pa.Table) -> int:
    """Make each referenced address that no address record is near (`no candidate`), or that is near
    some but like none of them (`uncertain`: 金色公寓1幢101室 where the records know 金色家园's), a
    record of the hub's own source, `hub`, so that the residents of an unregistered house (or the
    migrants from one home village house) meet at one address entity. Texts of one dwelling (the same
    flat or house key, and no two towns) are one record, the fullest text its address. Ingestion
    gives each record an entity of its own; batch runs resolve it like any other address record from
    then on (a departmental record of the same house, when one comes, joins it). Returns how many
    were made."""
    unknown = [
        text for text, reason in resolved.unresolved.items() if reason in ("no candidate", "uncertain")
    ]
    if not unknown:
        return 0
    rows = references.filter(pc.is_in(references.column("canonical"), pa.array(unknown, _TEXT)))
    # An uncertain text is a place of its own where it names a dwelling under a name of its own.
    uncertain = pa.array(
        [resolved.unresolved[text] == "uncertain" for text in rows.column("canonical").to_pylist()]
    )
    rows = rows.filter(pc.invert(pc.and_(uncertain, pc.invert(names_a_dwelling(rows)))))
    places: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for text, dwelling, street in zip(
        *(rows.column(name).to_pylist() for name in ("canonical", "dwelling", "street")), strict=True
    ):
        places[(dwelling or text, street)].append(text)
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


def _rows(connection: Connection, sql: str) -> Iterator[tuple[Any, ...]]:
    """The rows of a query through the driver's cursor, in batches (millions of links)."""
    with driver_cursor(connection, stream="hub_links_standing") as cursor:
        cursor.execute(sql)
        while batch := cursor.fetchmany(100_000):
            yield from batch


@contextmanager
def _indexes_built_after(connection: Connection, *, many: bool) -> Iterator[None]:
    """On SQLite, where the new links outnumber the standing ones (a first build), drop the link
    table's two indexes for the insert and build them again after it, in the same transaction.

    Building an index sorts its entries once; keeping it while inserting puts each new entry at a
    page of its own, and the object index (an address for each link) is written in no order at all.
    At a million persons the first build's two million links took 15-19 s to insert with the
    indexes and 8.3 s without, and building both after takes about 4.5 s. Should the step fail, the
    rollback restores them. PostgreSQL keeps its indexes: dropping one locks the table against
    readers until commit.
    """
    if not (many and is_sqlite(connection)):
        yield
        return
    indexes = sorted(Base.metadata.tables["link"].indexes, key=lambda index: str(index.name))
    for index in indexes:
        index.drop(connection)
    yield
    for index in indexes:
        index.create(connection)


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
        for link_id, relation, subject, obj in _rows(
            connection, "SELECT id, relation, subject_id, object_id FROM link WHERE valid_to IS NULL"
        )
    }
    gone = [link_id for key, link_id in standing.items() if key not in asserted]
    if gone:
        connection.exec_driver_sql(
            f"UPDATE link SET valid_to = {mark} WHERE id = {mark}", [(stamp, i) for i in gone]
        )
        link_changes(bulk, ChangeAction.LINK_CLOSED, f"valid_to = {mark}", (stamp,), RESOLUTION, stamp)
    new_keys = [key for key in asserted if key not in standing]
    with _indexes_built_after(connection, many=len(new_keys) > len(standing)):
        new_ids = bulk.insert_returning_ids(
            "link",
            ("relation", "subject_id", "object_id", "valid_from"),
            [(relation, subject, obj, stamp) for relation, subject, obj in new_keys],
        )
    if new_ids:
        opened = f"valid_from = {mark} AND id >= {mark}"
        link_changes(bulk, ChangeAction.LINK_OPENED, opened, (stamp, min(new_ids)), RESOLUTION, stamp)
    ids = {
        **{k: v for k, v in standing.items() if k in asserted},
        **dict(zip(new_keys, new_ids, strict=True)),
    }
    known = {
        (link_id, record_id)
        for link_id, record_id in _rows(
            connection,
            "SELECT e.link_id, e.record_id FROM link_evidence e JOIN link l ON l.id = e.link_id"
            " WHERE l.valid_to IS NULL",
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

"""`hub renormalize` replaces stale features and flags, and only those, leaving payloads alone."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest import ingest_records
from hub.ingest.renormalize import renormalize
from hub.store.models import SEARCH_FIELD_IDS, RecordVersion, SearchTerm, SourceRecord

PEOPLE = [
    {"key": "p1", "name": "曾伟", "id_number": "11010519491231002X"},
    {"key": "p2", "name": "李娜", "phone": "12345"},
]


def features_of(engine: Engine, key: str) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    with Session(engine) as session:
        row = session.execute(
            select(RecordVersion.payload, RecordVersion.features, RecordVersion.flags)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == key)
        ).one()
        return row[0], row[1], row[2]


def test_stale_features_are_recomputed_and_fresh_ones_left_alone(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        ingest_records(session, "household_registry", Kind.PERSON, PEOPLE)
        ingest_records(session, "doorplate_platform", Kind.ADDRESS, [{"key": "a1", "address": "虞山街道1号"}])
    payload, fresh_features, fresh_flags = features_of(engine, "p1")
    _, _, p2_flags = features_of(engine, "p2")
    with Session(engine) as session, session.begin():  # as an older normalizer would have left them
        session.execute(update(RecordVersion).values(features={"name": "stale"}, flags={}))
    summary = renormalize(engine, Kind.PERSON, batch_size=1)
    assert (summary.checked, summary.updated) == (2, 2)
    assert features_of(engine, "p1") == (payload, fresh_features, fresh_flags)
    assert features_of(engine, "p2")[2] == p2_flags == {"phone": "5 digits is neither mobile nor landline"}
    assert features_of(engine, "a1")[1] == {"name": "stale"}  # another kind: not asked for
    again = renormalize(engine)
    assert (again.checked, again.updated) == (3, 1)


def test_every_kind_is_renormalized_however_small_the_batches(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        ingest_records(session, "doorplate_platform", Kind.ADDRESS, [{"key": "a1", "address": "虞山街道1号"}])
        ingest_records(session, "household_registry", Kind.PERSON, PEOPLE)
        ingest_records(
            session, "market_regulation", Kind.LEGAL_ENTITY, [{"key": "l1", "name": "常熟市华盛服装有限公司"}]
        )
    with Session(engine) as session, session.begin():
        session.execute(update(RecordVersion).values(features={"name": "stale"}, flags={}))
    summary = renormalize(engine, batch_size=1)  # a batch holds one kind, the next another
    assert (summary.checked, summary.updated) == (4, 4)
    assert all(features_of(engine, key)[1] != {"name": "stale"} for key in ("a1", "p1", "p2", "l1"))


FLAT = SEARCH_FIELD_IDS[Kind.ADDRESS, "flat"]


def test_search_terms_an_older_normalizer_wrote_are_replaced(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        ingest_records(
            session, "doorplate_platform", Kind.ADDRESS, [{"key": "a1", "address": "虞山街道金色家园3-2-301"}]
        )
    with Session(engine) as session, session.begin():  # as an older normalizer would have keyed the flat
        match = session.execute(select(RecordVersion.match)).scalar_one()
        session.execute(update(RecordVersion).values(match={**match, "flat": "金色家园|3|2|301号"}))
        session.execute(
            update(SearchTerm).values(term="金色家园|3|2|301号").where(SearchTerm.field_id == FLAT)
        )
    renormalize(engine, Kind.ADDRESS)
    with Session(engine) as session:
        terms = {
            (field_id, term)
            for field_id, term in session.execute(select(SearchTerm.field_id, SearchTerm.term))
        }
    assert (FLAT, "金色家园|3|2|301") in terms
    assert (FLAT, "金色家园|3|2|301号") not in terms

"""Cross-kind links after resolution: who lives where, works for whom, represents which company."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session
from villages import VILLAGES, numbered_groups, village_houses

from hub.domain import Kind, LinkRelation
from hub.generate import generate_city
from hub.ingest import ingest_files, ingest_records
from hub.ingest.manifest import read_manifest
from hub.normalize.identifiers import resident_id_check_char
from hub.resolve.links import LinkSummary, link_entities, rebuild_links
from hub.resolve.service import resolve_kind
from hub.store.models import Link, LinkEvidence, Membership, RecordVersion, Source, SourceRecord

FLAT = "江苏省苏州市常熟市琴川街道星溪家园1幢1002室"
ZHOU = {"name": "周佳超", "id_number": "320581198506223110", "address": "星溪家园1-1002"}
COMPANY = {
    "name": "常熟市德兴商贸有限公司",
    "uscc": "91320581652605646B",
    "legal_representative": "龚海琴",
    "registered_address": "琴川街道星溪家园1幢1002室",
}


def load(engine: Engine, source: str, kind: Kind, records: list[dict[str, Any]]) -> None:
    with Session(engine) as session:
        ingest_records(session, source, kind, records)
        session.commit()


def entity(session: Session, source: str, key: str) -> str:
    return session.execute(
        select(Membership.entity_id)
        .join(SourceRecord, SourceRecord.id == Membership.record_id)
        .join(Source, Source.id == SourceRecord.source_id)
        .where(Source.name == source, SourceRecord.key == key, Membership.valid_to.is_(None))
    ).scalar_one()


def resolve_and_link(session: Session) -> LinkSummary:
    """Resolve every kind, then build the links, committing."""
    for kind in Kind:
        resolve_kind(session, kind)
    summary = link_entities(session)
    session.commit()
    return summary


def links(session: Session) -> set[tuple[str, str, str]]:
    rows = session.execute(
        select(Link.relation, Link.subject_id, Link.object_id).where(Link.valid_to.is_(None))
    )
    return {(relation.value, subject, obj) for relation, subject, obj in rows}


def neighbours(n: int) -> list[dict[str, Any]]:
    """Other flats, so that resolution has something to learn its weights from."""
    return [
        {"key": f"n{i}", "address": f"常熟市虞山街道金色家园{1 + i // 20}幢{101 + i % 20}室"}
        for i in range(n)
    ]


def build(engine: Engine) -> None:
    load(engine, "doorplate_platform", Kind.ADDRESS, [{"key": "a1", "address": FLAT}, *neighbours(300)])
    load(
        engine,
        "grid_collection",
        Kind.ADDRESS,
        [{"key": "a2", "address": "星溪家园1幢1002室"}, *neighbours(300)],
    )
    load(
        engine,
        "household_registry",
        Kind.PERSON,
        [
            {"key": "h1", **ZHOU},
            {"key": "h2", "name": "龚海琴", "id_number": "320581197002021224", "address": FLAT},
        ],
    )
    load(
        engine,
        "tax",
        Kind.PERSON,
        [
            {
                "key": "t1",
                "name": "周佳超",
                "id_number": "320581198506223110",
                "employer_uscc": "91320581652605646B",
            }
        ],
    )
    load(engine, "market_regulation", Kind.LEGAL_ENTITY, [{"key": "c1", **COMPANY}])
    with Session(engine) as session:
        resolve_and_link(session)


def test_references_become_links_with_their_evidence(engine: Engine) -> None:
    build(engine)
    with Session(engine) as session:
        flat = entity(session, "doorplate_platform", "a1")
        assert entity(session, "grid_collection", "a2") == flat
        zhou, gong = entity(session, "household_registry", "h1"), entity(session, "household_registry", "h2")
        company = entity(session, "market_regulation", "c1")
        assert links(session) == {
            ("lives_at", zhou, flat),
            ("lives_at", gong, flat),
            ("employed_by", zhou, company),
            ("registered_at", company, flat),
            # The register gives 龚海琴 no ID number: she is the one person of that name at its address.
            ("legal_representative", gong, company),
        }
        employed = session.scalars(select(Link).where(Link.relation == LinkRelation.EMPLOYED_BY)).one()
        evidence = session.scalars(
            select(LinkEvidence.record_id).where(LinkEvidence.link_id == employed.id)
        ).all()
        tax_record = session.execute(select(SourceRecord.id).where(SourceRecord.key == "t1")).scalar_one()
        assert evidence == [tax_record]


def _link_indexes(engine: Engine) -> dict[str, list[str | None]]:
    return {str(index["name"]): list(index["column_names"]) for index in inspect(engine).get_indexes("link")}


def test_a_first_build_leaves_the_link_table_its_indexes_and_one_rolled_back_leaves_no_links(
    engine: Engine,
) -> None:
    # A first build inserts its links without the table's indexes on SQLite and builds them after.
    indexes = {"ix_link_object": ["object_id", "relation"], "ix_link_subject": ["subject_id", "relation"]}
    load(engine, "doorplate_platform", Kind.ADDRESS, [{"key": "a1", "address": FLAT}, *neighbours(300)])
    load(engine, "household_registry", Kind.PERSON, [{"key": "h1", **ZHOU}])
    with Session(engine) as session:
        for kind in Kind:
            resolve_kind(session, kind)
        session.commit()
        assert link_entities(session).added == 1
        session.rollback()  # the step fails before its commit
    assert _link_indexes(engine) == indexes
    with Session(engine) as session:
        assert links(session) == set()
    assert rebuild_links(engine).added == 1
    assert _link_indexes(engine) == indexes


def test_relinking_keeps_standing_links_and_closes_what_is_no_longer_asserted(engine: Engine) -> None:
    build(engine)
    with Session(engine) as session:
        before = {(k.relation, k.subject_id, k.object_id): k.id for k in session.scalars(select(Link))}
        summary = link_entities(session)
        session.commit()
        assert (summary.added, summary.closed, summary.evidence) == (0, 0, 0)
        after = {(k.relation, k.subject_id, k.object_id): k.id for k in session.scalars(select(Link))}
        assert after == before
    # 周佳超 moves out: the new version of her record has another address.
    load(
        engine,
        "household_registry",
        Kind.PERSON,
        [{"key": "h1", **ZHOU, "address": "常熟市虞山街道金色家园9幢901室"}],
    )
    summary = rebuild_links(engine)  # as `hub resolve` does: its own transaction, committed
    assert summary.closed == 1
    with Session(engine) as session:
        zhou = entity(session, "household_registry", "h1")
        closed = session.scalars(select(Link).where(Link.valid_to.is_not(None))).one()
        assert (closed.relation, closed.subject_id) == (LinkRelation.LIVES_AT, zhou)
        # no office has registered her new flat: it is an address of the hub's own
        (new_home,) = [o for r, s, o in links(session) if r == "lives_at" and s == zhou]
        assert new_home != closed.object_id
        assert sources_of(session, new_home) == {"hub"}


def test_a_features_document_of_another_shape_does_not_stop_the_links(engine: Engine) -> None:
    # Features written by an older or other normalizer: a flag as text, a name key as a number, an
    # address as a string. Such a record's odd values count as missing; the links stand.
    build(engine)
    with Session(engine) as session:
        before = links(session)
        version = session.execute(
            select(RecordVersion).join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == "h2")
        ).scalar_one()  # fmt: skip
        version.features = {**version.features, "id_number_valid": "yes", "name_key": 7}
        t1 = session.execute(
            select(RecordVersion).join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.key == "t1")
        ).scalar_one()  # fmt: skip
        t1.features = {**t1.features, "address": "星溪家园1幢1002室"}
        session.commit()
        summary = link_entities(session)
        session.commit()
        gong = entity(session, "household_registry", "h2")
        now = links(session)
    # 龚海琴 still lives at the flat, but with no name key she is no longer the representative found by
    # name; the tax record's address is no parsed address and makes no link
    assert now == {link for link in before if link[0] != "legal_representative"}
    assert ("lives_at", gong, entity_of_flat(engine)) in now
    assert summary.unresolved["legal_representative"] == 1


def entity_of_flat(engine: Engine) -> str:
    with Session(engine) as session:
        return entity(session, "doorplate_platform", "a1")


def test_a_flat_no_office_registered_in_an_estate_like_a_known_one_is_an_address_of_its_own(
    engine: Engine,
) -> None:
    # 金色公寓 is not 金色家园, whose flats the offices know: its flat 1幢101室 is compared with
    # 金色家园's (the estates shorten alike) and found unlike it. Its two residents meet at an address
    # of the hub's own. "金色1幢101室", by a short name two estates could have, is left unresolved.
    load(engine, "doorplate_platform", Kind.ADDRESS, neighbours(300))
    load(engine, "grid_collection", Kind.ADDRESS, neighbours(300))
    visits = [
        {"key": "g1", "name": "顾文华", "address": "虞山街道金色公寓1幢101室"},
        {"key": "g2", "name": "钱明", "address": "常熟市虞山街道金色公寓1幢101室"},
        {"key": "g3", "name": "陆平", "address": "金色1幢101室"},
    ]
    load(engine, "grid_collection", Kind.PERSON, visits)
    with Session(engine) as session:
        summary = resolve_and_link(session)
        lives = {s: o for r, s, o in links(session) if r == "lives_at"}
        gu, qian = entity(session, "grid_collection", "g1"), entity(session, "grid_collection", "g2")
        assert lives[gu] == lives[qian] != entity(session, "doorplate_platform", "n0")
        assert sources_of(session, lives[gu]) == {"hub"}
        assert entity(session, "grid_collection", "g3") not in lives
    assert summary.derived == 1
    assert summary.reasons["lives_at"] == {"uncertain": 1}


def village(engine: Engine) -> None:
    """The houses of tests/resolve/villages.py, and persons who live there as the registry and grid workers
    write them."""
    for source, records in village_houses().items():
        load(engine, source, Kind.ADDRESS, records)
    for source in ("doorplate_platform", "grid_collection"):
        load(engine, source, Kind.ADDRESS, neighbours(300))  # flats both offices write alike
    registry, visits = [], []
    for n, name in enumerate(VILLAGES):
        first17 = f"3205811975{n % 12 + 1:02d}{n % 28 + 1:02d}{n:02d}1"
        id_number = first17 + resident_id_check_char(first17)
        person = {"name": f"蒋小{chr(0x5CF0 + n)}", "id_number": id_number}
        registry.append({"key": f"h{n}", **person, "registered_address": f"常熟市古里镇{name}村陆家宅3号"})
        visits += [
            # lives where registered, written without the group: the registration says which house 3
            {"key": f"g{n}", **person, "address": f"古里镇{name}村3号"},
            # house 5 written without its group, the village without 村: there is one house 5
            {"key": f"k{n}", "name": f"顾文{chr(0x5CF0 + n)}", "address": f"古里镇{name}五号"},
            # the same text, and nothing else to go on: either of two houses
            {"key": f"u{n}", "name": f"钱明{chr(0x5CF0 + n)}", "address": f"古里镇{name}村3号"},
            # a house no office registered
            {"key": f"x{n}", "name": f"陆平{chr(0x5CF0 + n)}", "address": f"古里镇{name}村3组77号"},
        ]
    load(engine, "household_registry", Kind.PERSON, registry)
    load(engine, "grid_collection", Kind.PERSON, visits)


def test_an_address_in_a_person_record_resolves_with_the_address_model(engine: Engine) -> None:
    village(engine)
    with Session(engine) as session:
        summary = resolve_and_link(session)
        now = links(session)
        lives = {(s, o) for r, s, o in now if r == "lives_at"}
        for n in range(len(VILLAGES)):
            house1_3 = entity(session, "doorplate_platform", f"p{n}-1-3")
            house2_5 = entity(session, "doorplate_platform", f"p{n}-2-5")
            person = entity(session, "household_registry", f"h{n}")
            assert entity(session, "grid_collection", f"g{n}") == person
            assert ("household_registered_at", person, house1_3) in now
            assert (person, house1_3) in lives  # "村3号" is the house 3 the person is registered at
            assert (entity(session, "grid_collection", f"k{n}"), house2_5) in lives
            assert not any(s == entity(session, "grid_collection", f"u{n}") for s, _ in lives)
            # house 77 no office registered: an address of the hub's own source
            (unregistered,) = [o for s, o in lives if s == entity(session, "grid_collection", f"x{n}")]
            assert sources_of(session, unregistered) == {"hub"}
    assert summary.unresolved["lives_at"] == len(VILLAGES)
    assert summary.reasons["lives_at"] == {"ambiguous": len(VILLAGES)}
    assert summary.derived == len(VILLAGES)


def test_a_person_at_a_group_by_number_lives_at_the_hamlets_house(engine: Engine) -> None:
    # See tests/resolve/villages.py: the records teach that group 1 of 紫泉村 is 紫家宅. A grid visit's
    # "紫泉村一组3号" is then the house 紫家宅3号, where it could have been 泉家浜3号 as well.
    for source, records in numbered_groups().items():
        if source != "rental_registry":  # its houses No. 3 wait for a steward: entities of their own
            load(engine, source, Kind.ADDRESS, records)
    visits = [
        {"key": f"g{n}-{group}", "name": f"蒋小{chr(0x5CF0 + 2 * n + group)}", "address": text}
        for n, name in enumerate(VILLAGES)
        for group, text in ((1, f"古里镇{name}村一组3号"), (2, f"{name}村委会2组3号"))
    ]
    load(engine, "grid_collection", Kind.PERSON, visits)
    with Session(engine) as session:
        summary = resolve_and_link(session)
        lives = {(s, o) for r, s, o in links(session) if r == "lives_at"}
        for n in range(len(VILLAGES)):
            for group in (1, 2):
                person = entity(session, "grid_collection", f"g{n}-{group}")
                assert (person, entity(session, "doorplate_platform", f"p{n}-{group}-3")) in lives
    assert summary.unresolved.get("lives_at", 0) == 0


def sources_of(session: Session, entity_id: str) -> set[str]:
    """The sources of an entity's current records."""
    return set(
        session.scalars(
            select(Source.name)
            .join(SourceRecord, SourceRecord.source_id == Source.id)
            .join(Membership, Membership.record_id == SourceRecord.id)
            .where(Membership.entity_id == entity_id, Membership.valid_to.is_(None))
        )
    )


def test_residents_of_a_house_no_office_registered_meet_at_one_derived_address(engine: Engine) -> None:
    # Two people, written by two offices, live at 新建路999号, which the doorplate platform does not know
    # (its registered flats are 金色家园's): the hub makes it an address of its own, and both live there.
    load(engine, "doorplate_platform", Kind.ADDRESS, neighbours(300))
    load(engine, "grid_collection", Kind.ADDRESS, neighbours(300))
    load(
        engine,
        "grid_collection",
        Kind.PERSON,
        [{"key": "g1", "name": "顾文华", "address": "虞山街道新建路999号"}],
    )
    load(
        engine,
        "rental_registry",
        Kind.PERSON,
        [{"key": "r1", "name": "钱明", "address": "江苏省常熟市虞山街道新建路999号"}],
    )
    with Session(engine) as session:
        first = resolve_and_link(session)
        lives = {s: o for r, s, o in links(session) if r == "lives_at"}
        gu, qian = entity(session, "grid_collection", "g1"), entity(session, "rental_registry", "r1")
        assert lives[gu] == lives[qian]
        assert sources_of(session, lives[gu]) == {"hub"}
        assert first.derived == 1 and "lives_at" not in first.unresolved
        again = link_entities(session)  # the hub's record now describes the house: nothing new to make
        session.commit()
        assert (again.derived, again.added, again.closed) == (0, 0, 0), again


def test_links_rebuilt_from_the_same_records_are_the_same_links(engine: Engine, tmp_path: Path) -> None:
    # A city written as docs/field-notes.md describes the offices' exports. The first build makes
    # addresses of the hub's own for texts that could be none of the offices' places; among them
    # "黄河巷314号康溪家园1幢1401室", by a flat the doorplate platform registers with its unit
    # (康溪家园1幢1单元1401室). A rebuild then weighed the grid worker's "康溪家园1#1401" of someone
    # living at that registered flat against the hub's address as well, found it more like it, and
    # moved the person there; the change feed told every subscriber so. The offices' places come first.
    generate_city(3000, 1, tmp_path / "city", profile="field-notes")
    ingest_files(engine, read_manifest(tmp_path / "city" / "manifest.json"))
    with Session(engine) as session:
        first = resolve_and_link(session)
        built = links(session)
    assert first.derived > 0
    again = rebuild_links(engine)
    with Session(engine) as session:
        now = links(session)
        assert now == built
    assert (again.added, again.closed, again.evidence, again.derived) == (0, 0, 0, 0)

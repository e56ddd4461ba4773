"""Batch resolution stored in the database: entities, stable ids, stewards' decisions, review items."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import Engine, func, null, select, update
from sqlalchemy.orm import Session
from villages import VILLAGES, numbered_groups, village_houses

from hub.domain import ActorType, Decision, EntityStatus, Kind, ReviewStatus
from hub.ingest import ingest_records
from hub.normalize.identifiers import org_code_check_char, resident_id_check_char, uscc_check_char
from hub.resolve import persist
from hub.resolve.explain import explain_records, format_waterfall
from hub.resolve.kinds import SETTINGS
from hub.resolve.loading import load_records
from hub.resolve.service import resolve_kind
from hub.resolve.settings import MatchSettings, explanation_steps
from hub.steward import move_records, split_entity
from hub.store.models import (
    Entity,
    Judgement,
    Membership,
    RecordVersion,
    ResolutionRun,
    ReviewItem,
    Source,
    SourceRecord,
)

HOME = "常熟市琴川街道星溪家园1幢1002室"
WANG = {
    "name": "王伟",
    "id_number": "11010519491231002X",
    "birth_date": "1949-12-31",
    "phone": "13912345678",
    "address": HOME,
    "registered_address": HOME,
}


def background(n: int) -> list[dict[str, Any]]:
    """Distinct people, so that the weights have something to learn from."""
    surnames = "赵钱孙李周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
    given = "安邦昌达飞刚海浩华建杰军凯磊明宁鹏强瑞涛文武祥勇志"
    return [
        {
            "key": f"b{i}",
            "name": surnames[i % len(surnames)] + given[(i * 7) % len(given)] + given[(i * 3) % len(given)],
            "birth_date": f"19{50 + i % 50:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "phone": f"137{i:08d}",
            "address": f"常熟市虞山街道金色家园{1 + i % 40}幢{101 + i % 7}室",
        }
        for i in range(200)
    ]


def load(engine: Engine, source: str, records: Iterable[dict[str, Any]]) -> None:
    with Session(engine) as session:
        ingest_records(session, source, Kind.PERSON, list(records))
        session.commit()


def entity_of(session: Session, source: str, key: str) -> str:
    return session.execute(
        select(Membership.entity_id)
        .join(SourceRecord, SourceRecord.id == Membership.record_id)
        .join(Source, Source.id == SourceRecord.source_id)
        .where(Source.name == source, SourceRecord.key == key, Membership.valid_to.is_(None))
    ).scalar_one()


def record_id(session: Session, source: str, key: str) -> int:
    return session.execute(
        select(SourceRecord.id)
        .join(Source, Source.id == SourceRecord.source_id)
        .where(Source.name == source, SourceRecord.key == key)
    ).scalar_one()


def current(session: Session) -> dict[int, str]:
    rows = session.execute(
        select(Membership.record_id, Membership.entity_id).where(Membership.valid_to.is_(None))
    )
    return {record: entity for record, entity in rows}


def resolve(engine: Engine) -> None:
    with Session(engine) as session:
        resolve_kind(session, Kind.PERSON)
        session.commit()


def city(engine: Engine) -> None:
    load(engine, "household_registry", [{"key": "h1", **WANG}, *background(200)])
    load(
        engine,
        "tax",
        [
            {"key": "t1", "name": "王伟", "id_number": "11010519491231002X"},  # same ID: a rule join
            {"key": "t2", "name": "王伟", "id_number": "110105194912310021"},  # a namesake with another ID
        ],
    )
    load(
        engine,
        "grid_collection",
        [{"key": "g1", "name": "王伟", "birth_date": "1949/12/31", "phone": "13912345678"}],
    )


def test_versions_stored_without_match_fields_load_as_if_they_had_them(engine: Engine) -> None:
    # Versions stored before match fields were kept at ingest derive them from their features.
    city(engine)
    with Session(engine) as session:
        stored = load_records(session, Kind.PERSON, SETTINGS[Kind.PERSON])
        session.execute(update(RecordVersion).where(RecordVersion.id % 2 == 0).values(match=null()))
        session.flush()
        assert (session.scalar(select(func.count()).where(RecordVersion.match.is_(None))) or 0) > 50
        derived = load_records(session, Kind.PERSON, SETTINGS[Kind.PERSON])
        session.rollback()
    assert derived.record_ids == stored.record_ids
    assert derived.entity_names == stored.entity_names
    assert derived.entity_codes.tolist() == stored.entity_codes.tolist()
    for name, column in stored.table.columns.items():
        assert derived.table.columns[name].codes.tolist() == column.codes.tolist(), name
        assert derived.table.columns[name].distinct == column.distinct, name
    assert "王伟" in stored.table.columns["name"].distinct


def test_records_of_one_person_become_one_entity_and_others_stay_apart(engine: Engine) -> None:
    city(engine)
    resolve(engine)
    with Session(engine) as session:
        wang = entity_of(session, "household_registry", "h1")
        assert entity_of(session, "tax", "t1") == wang
        assert entity_of(session, "grid_collection", "g1") == wang
        assert entity_of(session, "tax", "t2") != wang
        assert entity_of(session, "household_registry", "b1") != entity_of(
            session, "household_registry", "b2"
        )
        run = session.scalars(select(ResolutionRun)).one()
        assert run.settings["match"]["comparisons"][0]["name"] == "id"
        assert run.stats["joined_by_rule"] >= 1 and run.finished_at is not None
        rule = session.scalars(
            select(Judgement).where(Judgement.actor_type == ActorType.RULE, Judgement.deleted_at.is_(None))
        ).first()
        assert rule is not None and rule.decision == Decision.POSITIVE
        steps = explanation_steps(run.settings, rule.explanation)
        assert [name for name, _, _ in steps] == [
            "id",
            "name",
            "birth_date",
            "sex",
            "phone",
            "home",
            "registered",
        ]
        assert dict((name, label) for name, label, _ in steps)["id"] == "same"
        prior = math.log2(run.settings["parameters"]["prior"] / (1 - run.settings["parameters"]["prior"]))
        assert prior + sum(w for *_, w in steps) == pytest.approx(rule.explanation["weight"], abs=0.01)


def test_ids_are_stable_and_a_merge_retires_the_absorbed_entity(engine: Engine) -> None:
    city(engine)
    with Session(engine) as session:
        before = {
            key: entity_of(session, src, key) for src, key in [("household_registry", "h1"), ("tax", "t1")]
        }
    resolve(engine)
    with Session(engine) as session:
        wang = entity_of(session, "household_registry", "h1")
        assert wang in before.values()  # the cluster kept one of its records' ids
        absorbed = next(e for e in before.values() if e != wang)
        retired = session.get(Entity, absorbed)
        assert retired is not None
        assert (retired.status, retired.merged_into_id) == (EntityStatus.MERGED, wang)
        closed = session.scalar(
            select(func.count()).select_from(Membership).where(Membership.valid_to.is_not(None))
        )
        assert closed and closed >= 1  # the old membership is kept, closed
        snapshot = current(session)
    resolve(engine)
    with Session(engine) as session:
        again = current(session)
        assert again == snapshot
        runs = session.scalars(select(ResolutionRun).order_by(ResolutionRun.id)).all()
        assert runs[-1].stats["moved_records"] == 0
        live_machine = session.scalar(
            select(func.count())
            .select_from(Judgement)
            .where(Judgement.deleted_at.is_(None), Judgement.run_id == runs[0].id)
        )
        assert live_machine == 0  # the first run's judgements were retired, not deleted


def test_stewards_decisions_survive_a_full_rerun(engine: Engine) -> None:
    city(engine)
    resolve(engine)
    with Session(engine) as session:
        h1, t1 = record_id(session, "household_registry", "h1"), record_id(session, "tax", "t1")
        t2 = record_id(session, "tax", "t2")
        for a, b, decision in [(h1, t1, Decision.NEGATIVE), (h1, t2, Decision.POSITIVE)]:
            session.add(
                Judgement(
                    kind=Kind.PERSON,
                    record_a_id=min(a, b),
                    record_b_id=max(a, b),
                    decision=decision,
                    actor_type=ActorType.STEWARD,
                    actor="steward:li",
                )
            )
        session.commit()
    resolve(engine)
    resolve(engine)
    with Session(engine) as session:
        assert entity_of(session, "household_registry", "h1") != entity_of(
            session, "tax", "t1"
        )  # despite the ID
        assert entity_of(session, "household_registry", "h1") == entity_of(
            session, "tax", "t2"
        )  # despite the ID
        stewards = session.scalar(
            select(func.count())
            .select_from(Judgement)
            .where(Judgement.actor_type == ActorType.STEWARD, Judgement.deleted_at.is_(None))
        )
        assert stewards == 2


def test_each_cluster_is_explained_by_its_joins_one_fewer_than_its_records(engine: Engine) -> None:
    city(engine)
    load(engine, "migrant_registry", [{"key": "m1", **WANG}])  # a third record agreeing on everything
    resolve(engine)
    with Session(engine) as session:
        members: dict[str, set[int]] = {}
        for record, entity in current(session).items():
            members.setdefault(entity, set()).add(record)
        joins = session.execute(
            select(Judgement.record_a_id, Judgement.record_b_id).where(
                Judgement.decision == Decision.POSITIVE, Judgement.deleted_at.is_(None)
            )
        ).all()
        entity_of_record = current(session)
        per_entity: dict[str, list[tuple[int, int]]] = {}
        for a, b in joins:
            assert entity_of_record[a] == entity_of_record[b]  # a join never crosses entities
            per_entity.setdefault(entity_of_record[a], []).append((a, b))
        wang = entity_of(session, "household_registry", "h1")
        assert len(members[wang]) == 4  # h1, t1, g1, m1: six matching pairs, three joins
        for e, records in members.items():
            edges = per_entity.get(e, [])
            assert len(edges) == len(records) - 1
            reached, frontier = {min(records)}, [min(records)]  # the joins connect the whole cluster
            while frontier:
                r = frontier.pop()
                for a, b in edges:
                    for x, y in ((a, b), (b, a)):
                        if x == r and y not in reached:
                            reached.add(y)
                            frontier.append(y)
            assert reached == records
        h1, m1 = record_id(session, "household_registry", "h1"), record_id(session, "migrant_registry", "m1")
        result = explain_records(session, h1, m1)  # matched, stored or not: explained either way
        assert result.explanation.probability > 0.95 and result.entity_a == result.entity_b == wang


def test_uncertain_pairs_become_review_items_and_explanations_add_up(engine: Engine) -> None:
    city(engine)
    # A relative: same flat, registered flat and phone as h1, another name and birth date, no ID.
    relative = {"name": "王芳", "birth_date": "1975-03-02", "phone": "13912345678"}
    load(engine, "rental_registry", [{"key": "r1", **relative, "address": HOME, "registered_address": HOME}])
    resolve(engine)
    with Session(engine) as session:
        items = session.scalars(select(ReviewItem).where(ReviewItem.status == ReviewStatus.OPEN)).all()
        assert items, "the relative sharing the phone should wait for a steward"
        for item in items:
            judgement = session.get(Judgement, item.judgement_id)
            assert judgement is not None and judgement.decision == Decision.UNSURE
            assert 0.0 <= item.priority <= 1.0
        h1, g1 = record_id(session, "household_registry", "h1"), record_id(session, "grid_collection", "g1")
        result = explain_records(session, h1, g1)  # a pair the run scored: from its judgement
        e = result.explanation
        assert abs(e.prior_weight + sum(w for *_, w in e.steps) - e.weight) < 0.01
        assert result.entity_a == result.entity_b
        assert dict((name, label) for name, label, _ in e.steps)["name"] == "same"
        b1 = record_id(session, "household_registry", "b1")
        unscored = explain_records(session, h1, b1)  # never compared: scored now, with the run's weights
        assert unscored.decisions == [] and unscored.entity_a != unscored.entity_b
        assert dict((n, label) for n, label, _ in unscored.explanation.steps)["name"] == "different"
        assert unscored.explanation.probability < 0.01
        r1 = record_id(session, "rental_registry", "r1")
        assert entity_of(session, "rental_registry", "r1") != entity_of(session, "household_registry", "h1")
        reviewed = {
            (j.record_a_id, j.record_b_id)
            for j in session.scalars(select(Judgement).where(Judgement.decision == Decision.UNSURE))
        }
        assert (
            min(h1, r1),
            max(h1, r1),
        ) in reviewed  # the flat and phone outweigh the name: a steward decides
    resolve(engine)
    with Session(engine) as session:
        superseded = session.scalar(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status == ReviewStatus.DECIDED)
        )
        assert superseded == len(items)


def test_judgements_written_a_few_at_a_time_are_those_written_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run builds and writes its judgements in chunks: with chunks of one, every judgement and
    review item is as a run writing them all at once leaves it, each item on its uncertain pair."""
    city(engine)
    relative = {"name": "王芳", "birth_date": "1975-03-02", "phone": "13912345678"}
    load(engine, "rental_registry", [{"key": "r1", **relative, "address": HOME, "registered_address": HOME}])

    def stored(session: Session, run_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        judgements = session.execute(
            select(Judgement.record_a_id, Judgement.record_b_id, Judgement.decision, Judgement.score,
                   Judgement.explanation, Judgement.actor_type)
            .where(Judgement.run_id == run_id)
            .order_by(Judgement.id)
        ).all()  # fmt: skip
        items = session.execute(
            select(Judgement.record_a_id, Judgement.record_b_id, Judgement.decision, ReviewItem.priority)
            .join(ReviewItem, ReviewItem.judgement_id == Judgement.id)
            .where(Judgement.run_id == run_id)
            .order_by(ReviewItem.id)
        ).all()
        return [tuple(row) for row in judgements], [tuple(row) for row in items]

    runs = []
    for chunk in (1, 50_000):
        monkeypatch.setattr(persist, "_JUDGEMENT_CHUNK", chunk)
        resolve(engine)
        with Session(engine) as session:
            runs.append(stored(session, session.execute(select(func.max(ResolutionRun.id))).scalar_one()))
    (judgements, items), (at_once, items_at_once) = runs
    assert len(judgements) > 2 and items, "the city should give several chunks and an uncertain pair"
    assert judgements == at_once and items == items_at_once
    assert {decision for *_, decision, _priority in items} == {Decision.UNSURE}
    assert len(items) == sum(row[2] == Decision.UNSURE for row in judgements)


def test_a_small_rerun_reuses_the_weights_learnt_on_the_whole_city(engine: Engine) -> None:
    city(engine)
    resolve(engine)
    load(engine, "rental_registry", [{"key": "r9", "name": "王伟", "id_number": "11010519491231002X"}])
    with Session(engine) as session:
        first = session.scalars(select(ResolutionRun).order_by(ResolutionRun.id)).first()
        assert first is not None
        summary = resolve_kind(session, Kind.PERSON, settings=small_city_settings())
        session.commit()
        assert "parameters_from_run" not in summary.stats  # other settings: nothing to reuse, so it trains
        summary = resolve_kind(session, Kind.PERSON, settings=small_city_settings())
        session.commit()
        assert summary.stats["parameters_from_run"] == summary.run_id - 1
        assert entity_of(session, "rental_registry", "r9") == entity_of(session, "household_registry", "h1")


def small_city_settings() -> MatchSettings:
    """The built-in person settings, asking for more records than this city has before training anew."""
    from hub.resolve.kinds import PERSON

    return MatchSettings.from_json({**PERSON.to_json(), "train_min_records": 10_000})


def test_records_ingested_later_are_resolved_at_once_and_a_batch_rerun_agrees(engine: Engine) -> None:
    from hub.resolve.realtime import resolve_records

    city(engine)
    resolve(engine)
    later = [
        {"key": "t9", "name": "王伟", "id_number": "11010519491231002X"},  # the same ID as h1
        {"key": "t8", "name": "赵海", "phone": "13700000000"},  # nobody
    ]
    load(engine, "tax", later)
    with Session(engine) as session:
        new = [record_id(session, "tax", "t9"), record_id(session, "tax", "t8")]
        summary = resolve_records(session, Kind.PERSON, new)
        session.commit()
        assert (summary.records, summary.joined) == (2, 1)
        assert entity_of(session, "tax", "t9") == entity_of(session, "household_registry", "h1")
        alone = entity_of(session, "tax", "t8")
        assert alone not in {entity_of(session, "household_registry", k) for k in ("h1", "b1")}
        h1 = record_id(session, "household_registry", "h1")
        judged = session.scalars(
            select(Judgement).where(Judgement.record_b_id == new[0], Judgement.deleted_at.is_(None))
        ).all()
        by_partner = {j.record_a_id: j for j in judged}
        assert (by_partner[h1].actor_type, by_partner[h1].decision) == (ActorType.RULE, Decision.POSITIVE)
        before = current(session)
    resolve(engine)  # a full batch run over the same data finds nothing to change
    with Session(engine) as session:
        assert current(session) == before
        last = session.scalars(select(ResolutionRun).order_by(ResolutionRun.id.desc())).first()
        assert last is not None and last.stats["moved_records"] == 0


def test_a_kind_with_no_records_or_one_resolves_to_nothing_to_do(engine: Engine) -> None:
    load(engine, "household_registry", [{"key": "h1", **WANG}])
    with Session(engine) as session:
        empty = resolve_kind(session, Kind.ADDRESS)
        single = resolve_kind(session, Kind.PERSON)
        session.commit()
        assert (empty.records, empty.entities, empty.judgements) == (0, 0, 0)
        assert (single.records, single.entities, single.moved_records) == (1, 1, 0)


def test_clusters_choose_ids_largest_first_by_most_records_and_only_then_new_ones() -> None:
    from hub.resolve.identity import Grouping, choose_entities

    current = {1: "X", 2: "X", 3: "X", 4: "Y", 5: "Y", 7: "Z", 8: "Z", 9: "W"}
    # {3,4,5,6} chooses first (largest): Y holds two of its records, X one. {1,2} then takes X.
    # {7} and {8} both held Z: the cluster with the earlier record keeps it, the other is new.
    # {9} keeps W, which no other cluster holds.
    grouping = Grouping.of([[1, 2], [3, 4, 5, 6], [8], [7], [9]], current)
    choice = choose_entities(Kind.PERSON, grouping)
    after = dict(
        zip(grouping.records.tolist(), (choice.all_names[c] for c in choice.new_code.tolist()), strict=True)
    )
    assert [after[r] for r in (1, 2, 3, 4, 5, 6, 7, 9)] == ["X", "X", "Y", "Y", "Y", "Y", "Z", "W"]
    assert (
        choice.new_entities == [after[8]] and after[8].startswith("per_") and after[8].endswith(f"{8:012x}")
    )
    assert choice.retired == {} and choice.changed == {"Y"}  # Y gained records 3 and 6
    merged = choose_entities(Kind.PERSON, Grouping.of([[1, 2, 3, 4, 5]], current))
    assert merged.retired == {"Y": "X"} and merged.new_entities == [] and merged.changed == {"X"}


def test_a_flat_key_many_villages_share_is_narrowed_by_grid_and_community(engine: Engine) -> None:
    # 120 villages each have a hamlet 陈家宅 with a house No. 1: the flat key "陈家宅1号" alone makes a
    # block of 240 records, over the cap of 100, so only the grid and community blocks can join them.
    villages = [a + b + "村" for a in "紫碧梅金永兴莲美花锦青白" for b in "泉溪园塘浜港庄桥林山"]
    doorplates, grid_visits = [], []
    for n, village in enumerate(villages):
        grid = f"320581009{n:03d}001"
        doorplates.append(
            {"key": f"d{n}", "address": f"江苏省苏州市常熟市古里镇{village}陈家宅1号", "grid_code": grid}
        )
        grid_visits.append({"key": f"g{n}", "address": f"{village}陈家宅1号附近", "grid_code": grid})
    with Session(engine) as session:
        ingest_records(session, "doorplate_platform", Kind.ADDRESS, doorplates)
        ingest_records(session, "grid_collection", Kind.ADDRESS, grid_visits)
        session.commit()
    with Session(engine) as session:
        resolve_kind(session, Kind.ADDRESS)
        session.commit()
    with Session(engine) as session:
        rows = session.execute(
            select(SourceRecord.key, Membership.entity_id)
            .join(Membership, (Membership.record_id == SourceRecord.id) & Membership.valid_to.is_(None))
            .where(SourceRecord.kind == Kind.ADDRESS)
        ).all()
    entity = dict(rows)
    assert len(set(entity.values())) == len(villages)
    assert all(entity[f"d{n}"] == entity[f"g{n}"] for n in range(len(villages)))


def test_a_flat_written_without_its_unit_waits_for_review_instead_of_guessing_the_unit(
    engine: Engine,
) -> None:
    # Forty estates whose building 3 has the flat 301 in each of units 1, 2 and 3, and a grid worker's
    # "3#301" for each: any of the three could be meant, so the model joins it to none and asks.
    estates = [a + b + "花园" for a in "紫碧梅金永兴莲美" for b in "泉溪园塘浜"]
    doorplates, grid_visits = [], []
    for n, estate in enumerate(estates):
        grid = f"320581001{n:03d}001"
        for unit in (1, 2, 3):
            address = f"江苏省苏州市常熟市虞山街道{estate}3幢{unit}单元301室"
            doorplates.append({"key": f"d{n}-{unit}", "address": address, "grid_code": grid})
            grid_visits.append({"key": f"g{n}-{unit}", "address": f"{estate}3-{unit}-301", "grid_code": grid})
        grid_visits.append({"key": f"g{n}", "address": f"虞山街道{estate}3#301", "grid_code": grid})
    entity = resolved(
        engine, Kind.ADDRESS, {"doorplate_platform": doorplates, "grid_collection": grid_visits}
    )
    with Session(engine) as session:
        waiting = session.scalar(select(func.count()).select_from(ReviewItem))
    for n in range(len(estates)):
        flats = {entity[f"d{n}-{unit}"] for unit in (1, 2, 3)}
        assert len(flats) == 3  # three flats
        assert all(entity[f"g{n}-{unit}"] == entity[f"d{n}-{unit}"] for unit in (1, 2, 3))
        assert entity[f"g{n}"] not in flats  # no unit guessed
    assert (waiting or 0) >= len(estates)
    with Session(engine) as session:  # and the steward is told why the model did not decide
        pair = record_id(session, "grid_collection", "g0"), record_id(session, "doorplate_platform", "d0-2")
        result = explain_records(session, *pair)
        assert result.explanation.held
        assert "held for a steward" in format_waterfall(result, "g0", "d0-2")
        plain = explain_records(session, record_id(session, "grid_collection", "g0-2"), pair[1])
        assert not plain.explanation.held


def test_a_grid_visit_without_id_meets_the_household_registry_through_the_registered_address(
    engine: Engine,
) -> None:
    # The household registry writes where people are registered, the grid worker where they live:
    # most live where they are registered, and a visit without ID number or birth date finds them so.
    people = background(200)
    registry = [
        {
            "key": f"h{i}",
            "name": p["name"],
            "id_number": f"3205811960{i:04d}000"[:17] + "X",
            "birth_date": p["birth_date"],
            "registered_address": p["address"],
        }
        for i, p in enumerate(people)
    ]
    visits = [{"key": f"v{i}", "name": p["name"], "address": p["address"]} for i, p in enumerate(people)]
    registry.append({"key": "li", "name": "李娜", "birth_date": "1990-05-05", "registered_address": HOME})
    registry.append(
        {
            "key": "li2",
            "name": "李娜",
            "birth_date": "1971-02-03",
            "registered_address": "常熟市虞山街道金色家园9幢909室",
        }
    )
    visits.append({"key": "li", "name": "李娜", "address": HOME})
    load(engine, "household_registry", registry)
    load(engine, "grid_collection", visits)
    resolve(engine)
    with Session(engine) as session:
        assert entity_of(session, "grid_collection", "li") == entity_of(session, "household_registry", "li")
        assert entity_of(session, "household_registry", "li2") != entity_of(
            session, "household_registry", "li"
        )
        joined = sum(
            entity_of(session, "grid_collection", f"v{i}")
            == entity_of(session, "household_registry", f"h{i}")
            for i in range(len(people))
        )
    assert joined >= 0.95 * len(people)


def test_a_shared_doorplate_code_joins_even_when_the_parsed_building_disagrees(engine: Engine) -> None:
    # A clerk typed building 8 for building 3; the QR plate's code is the same, and a code outranks a
    # parse. Without the code, building 3 and building 8 stay two dwellings.
    estates = [a + b + "花园" for a in "紫碧梅金" for b in "泉溪园塘浜"]
    plates, rentals = [], []
    for n, estate in enumerate(estates):
        code = f"320581001{n:09d}"
        plates.append(
            {"key": f"d{n}", "address": f"常熟市虞山街道{estate}3幢2单元301室", "doorplate_code": code}
        )
        rentals.append({"key": f"r{n}", "address": f"{estate}8-2-301", "doorplate_code": code})
        rentals.append({"key": f"x{n}", "address": f"{estate}8-2-301"})
    entity = resolved(engine, Kind.ADDRESS, {"doorplate_platform": plates, "rental_registry": rentals})
    for n in range(len(estates)):
        assert entity[f"r{n}"] == entity[f"d{n}"]
        assert entity[f"x{n}"] != entity[f"d{n}"]


def credit_code(n: int) -> str:
    """A valid credit code whose organization code is built from `n`."""
    body = f"{n:08d}"
    first17 = f"91320581{body}{org_code_check_char(body)}"
    return first17 + uscc_check_char(first17)


def test_tax_filing_a_company_under_its_old_tax_number_still_finds_it(engine: Engine) -> None:
    # Tax still files some companies under the 15-character number they had before credit codes: the
    # organization code inside it is the one inside the credit code.
    market = [
        {"key": f"m{n}", "name": f"常熟市{a}{b}服装有限公司", "uscc": credit_code(n)}
        for n, (a, b) in enumerate((a, b) for a in "华金永兴美锦青白" for b in "盛鼎达泰源")
    ]
    tax = [
        {"key": f"t{n}", "name": f"{m['name'][3:5]}服饰", "uscc": str(m["uscc"])[2:17]}
        for n, m in enumerate(market)
    ]
    entity = resolved(engine, Kind.LEGAL_ENTITY, {"market_regulation": market, "tax": tax})
    assert all(entity[f"t{n}"] == entity[f"m{n}"] for n in range(len(market)))
    assert len({entity[f"m{n}"] for n in range(len(market))}) == len(market)


def resolved(engine: Engine, kind: Kind, sources: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Ingest each source's records of `kind`, resolve the kind, and give each record key's entity."""
    with Session(engine) as session:
        for source, records in sources.items():
            ingest_records(session, source, kind, records)
        session.commit()
    with Session(engine) as session:
        resolve_kind(session, kind)
        session.commit()
    with Session(engine) as session:
        rows = session.execute(
            select(SourceRecord.key, Membership.entity_id)
            .join(Membership, (Membership.record_id == SourceRecord.id) & Membership.valid_to.is_(None))
            .where(SourceRecord.kind == kind)
        ).all()
    return {key: entity for key, entity in rows}


def test_a_flat_written_with_its_estates_short_name_meets_the_full_name(engine: Engine) -> None:
    # "紫泉3-2-301" is 紫泉花园3幢2单元301室 as a grid worker writes it; 紫泉新村, another estate whose
    # name shortens the same way, keeps its own flat 3-2-301.
    estates = [a + b for a in "紫碧梅金永兴莲美" for b in "泉溪园塘浜"]
    plates, visits = [], []
    for n, core in enumerate(estates):
        for suffix in ("花园", "新村"):
            address = f"江苏省苏州市常熟市虞山街道{core}{suffix}3幢2单元301室"
            plates.append(
                {
                    "key": f"{suffix}{n}",
                    "address": address,
                    "grid_code": f"3205810010{n:02d}{suffix == '新村':03d}",
                }
            )
        visits.append({"key": f"v{n}", "address": f"{core}3-2-301", "grid_code": f"3205810010{n:02d}000"})
    entity = resolved(engine, Kind.ADDRESS, {"doorplate_platform": plates, "grid_collection": visits})
    for n in range(len(estates)):
        assert entity[f"v{n}"] == entity[f"花园{n}"]
        assert entity[f"新村{n}"] != entity[f"花园{n}"]


def test_a_grid_visit_writing_the_estates_short_name_meets_the_registry(engine: Engine) -> None:
    people = background(200)
    registry, visits = [], []
    for i, p in enumerate(people):
        core = "紫碧梅金永兴莲美"[i % 8] + "泉溪园塘浜"[i % 5]
        full, short = f"常熟市虞山街道{core}花园{1 + i % 9}幢{101 + i}室", f"{core}{1 + i % 9}-{101 + i}"
        registry.append(
            {"key": f"h{i}", "name": p["name"], "birth_date": p["birth_date"], "registered_address": full}
        )
        # half the visits have a birth date (which trains the weights); the other half only the address
        birth = {"birth_date": p["birth_date"]} if i % 2 == 0 else {}
        visits.append({"key": f"v{i}", "name": p["name"], "address": short, **birth})
    load(engine, "household_registry", registry)
    load(engine, "grid_collection", visits)
    resolve(engine)
    with Session(engine) as session:
        joined = sum(
            entity_of(session, "grid_collection", f"v{i}")
            == entity_of(session, "household_registry", f"h{i}")
            for i in range(1, len(people), 2)
        )
    assert joined >= 0.95 * len(people) // 2


def test_a_village_house_meets_itself_with_and_without_its_group(engine: Engine) -> None:
    # See tests/resolve/villages.py: each village's houses No. 3 of two groups and No. 5 of one, as the
    # doorplate platform, grid workers and the rental registry write them.
    villages = VILLAGES
    entity = resolved(engine, Kind.ADDRESS, village_houses())
    for n in range(len(villages)):
        assert entity[f"v{n}-1-3"] == entity[f"p{n}-1-3"]
        assert entity[f"v{n}-2-3"] == entity[f"p{n}-2-3"]
        assert entity[f"v{n}-2-5"] == entity[f"w{n}-2-5"] == entity[f"p{n}-2-5"] == entity[f"r{n}"]
        houses = {entity[f"p{n}-1-3"], entity[f"p{n}-2-3"], entity[f"p{n}-2-5"]}
        assert len(houses) == 3  # the two groups' houses No. 3 stay two houses
    assert len(set(entity.values())) == 3 * len(villages)


def judged(engine: Engine) -> dict[frozenset[str], Decision]:
    """The model's judgements of the latest run, by the two record keys."""
    with Session(engine) as session:
        keys: dict[int, str] = {i: k for i, k in session.execute(select(SourceRecord.id, SourceRecord.key))}
        rows = session.execute(select(Judgement.record_a_id, Judgement.record_b_id, Judgement.decision))
        return {frozenset((keys[a], keys[b])): decision for a, b, decision in rows}


def test_a_group_by_number_is_the_hamlet_its_records_share_a_grid_with(engine: Engine) -> None:
    # See tests/resolve/villages.py: plates name the hamlets, grid workers number the groups under the
    # same grids, so in 紫泉村 group 1 is 紫家宅 and group 2 泉家浜. A rental's "一组3号" (no grid) is
    # then 紫家宅3号, put to a steward, and not the 泉家浜3号 it could otherwise be.
    entity = resolved(engine, Kind.ADDRESS, numbered_groups())
    judgements = judged(engine)
    for n in range(len(VILLAGES)):
        assert entity[f"v{n}-1-4"] == entity[f"p{n}-1-4"]
        assert entity[f"v{n}-2-6"] == entity[f"p{n}-2-6"]
        for group, other in ((1, 2), (2, 1)):
            assert judgements.get(frozenset((f"q{n}-{group}", f"p{n}-{group}-3"))) == Decision.UNSURE
            assert frozenset((f"q{n}-{group}", f"p{n}-{other}-3")) not in judgements


def test_a_grid_two_hamlets_share_teaches_no_group_its_name(engine: Engine) -> None:
    # The same records under one grid per village: nothing says which group is which hamlet, and a
    # house No. 3 by number could be either.
    entity = resolved(engine, Kind.ADDRESS, numbered_groups(shared_grid=True))
    judgements = judged(engine)
    for n in range(len(VILLAGES)):
        for group in (1, 2):
            for house in (f"p{n}-1-3", f"p{n}-2-3"):
                assert frozenset((f"q{n}-{group}", house)) not in judgements
                assert entity[f"q{n}-{group}"] != entity[house]


def test_a_flat_without_its_unit_joins_the_one_unit_its_room_is_given(engine: Engine) -> None:
    # Forty estates: room 301 of building 3 is written with unit 2 only, so "3#301" is that flat; room
    # 502 exists in units 1 and 2, so two grid visits' "3#502" are not one flat because they read alike.
    estates = [a + b + "花园" for a in "紫碧梅金永兴莲美" for b in "泉溪园塘浜"]
    plates, visits = [], []
    for n, estate in enumerate(estates):
        grid = f"320581001{n:03d}001"
        town = "江苏省苏州市常熟市虞山街道"
        plates += [
            {"key": f"p{n}-301", "address": f"{town}{estate}3幢2单元301室", "grid_code": grid},
            {"key": f"p{n}-1-502", "address": f"{town}{estate}3幢1单元502室", "grid_code": grid},
            {"key": f"p{n}-2-502", "address": f"{town}{estate}3幢2单元502室", "grid_code": grid},
        ]
        visits += [
            {"key": f"v{n}-301", "address": f"虞山街道{estate}3#301", "grid_code": grid},
            {"key": f"v{n}-2-301", "address": f"{estate}3-2-301", "grid_code": grid},
            {"key": f"v{n}-502", "address": f"虞山街道{estate}3#502", "grid_code": grid},
            {"key": f"w{n}-502", "address": f"{estate}3栋502", "grid_code": grid},
        ]
    entity = resolved(engine, Kind.ADDRESS, {"doorplate_platform": plates, "grid_collection": visits})
    for n in range(len(estates)):
        assert entity[f"v{n}-301"] == entity[f"v{n}-2-301"] == entity[f"p{n}-301"]
        assert entity[f"p{n}-1-502"] != entity[f"p{n}-2-502"]
        assert entity[f"v{n}-502"] not in {entity[f"p{n}-1-502"], entity[f"p{n}-2-502"]}
        assert entity[f"w{n}-502"] not in {entity[f"p{n}-1-502"], entity[f"p{n}-2-502"], entity[f"v{n}-502"]}


def test_the_same_credit_code_joins_a_branch_tax_files_under_its_short_name(engine: Engine) -> None:
    # Market regulation registers "江苏天威服装有限公司常熟分公司"; tax files the same credit code as
    # "天威服装", with no branch in the name: the code outranks what the name parse says.
    registered, filed = [], []
    for n in range(30):
        brand = (
            "天威森誉通丰裕越东诚永邦兴丰华盛恒达金鼎"[n % 15]
            + "天威森誉通丰裕越东诚永邦兴丰华盛恒达金鼎"[(n * 7 + 3) % 15]
        )
        uscc = credit_code(n)
        registered.append({"key": f"m{n}", "name": f"江苏{brand}服装有限公司常熟分公司", "uscc": uscc})
        filed.append({"key": f"t{n}", "name": f"{brand}服装", "uscc": uscc})
    entity = resolved(engine, Kind.LEGAL_ENTITY, {"market_regulation": registered, "tax": filed})
    assert all(entity[f"m{n}"] == entity[f"t{n}"] for n in range(30))
    assert len(set(entity.values())) == 30


def neighbours(count: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """People each written once by the household registry (with an ID number) and once on a grid visit
    (without): the ordinary records from which the model learns what agreement is worth."""
    registry, visits = [], []
    for n in range(count):
        first17 = f"32058119{60 + n % 40}0{1 + n % 9}1{n % 10}{n:03d}"
        person = {
            "name": f"{'周吴郑王冯陈褚卫'[n % 8]}{chr(0x4E50 + n)}",
            "phone": f"138{n:08d}",
            "address": f"虞山街道银湾花园{n % 20 + 1}幢{n // 20 + 1}01室",
        }
        registry.append({"key": f"r{n}", "id_number": first17 + resident_id_check_char(first17), **person})
        visits.append({"key": f"v{n}", **person})
    return registry, visits


def test_a_name_with_a_character_unknown_or_left_out_meets_the_whole_name(engine: Engine) -> None:
    # Forty families registered with their numbers; the grid worker writes the son without a number, at
    # the family's flat and phone and with his birth date, and his name with "?" for a character he did
    # not catch (周?) or with one left out (周磊 for 周嘉磊). His brother, at the same flat and phone, is
    # born another year.
    registry, visits = neighbours(200)
    for n in range(40):
        home = {"address": f"虞山街道金湾花园{n + 1}幢1单元301室", "phone": f"137{n:08d}"}
        given = chr(0x78CA + n)
        son, written = (f"周{given}", "周?") if n % 2 else (f"周嘉{given}", f"周{given}")
        born = f"1994-03-{n % 28 + 1:02d}"
        for key, name, birth in (("s", son, born), ("b", f"周{chr(0x9E4F + n)}", "1990-06-01")):
            first17 = f"320581{birth.replace('-', '')}{n:02d}1"
            number = first17 + resident_id_check_char(first17)
            registry.append(
                {"key": f"{key}{n}", "name": name, "id_number": number, "birth_date": birth, **home}
            )
        visits.append({"key": f"g{n}", "name": written, "birth_date": born, **home})
    entity = resolved(engine, Kind.PERSON, {"household_registry": registry, "grid_collection": visits})
    for n in range(40):
        assert entity[f"g{n}"] == entity[f"s{n}"]
        assert entity[f"b{n}"] != entity[f"s{n}"]


def test_a_child_recorded_under_a_parents_number_stays_apart_from_the_parent(engine: Engine) -> None:
    # The household registry records each child under a parent's number, with the child's own birth date,
    # at the family's flat and phone; the grid worker writes the parent with the number and no birth
    # date. Forty families.
    registry, visits = [], []
    for n in range(40):
        first17 = f"32058119851012{2 * n:03d}"
        parent_id = first17 + resident_id_check_char(first17)
        home = {"registered_address": f"虞山街道金色家园{n + 1}幢1单元301室", "phone": f"139{n:08d}"}
        registry += [
            {"key": f"parent{n}", "name": f"归晓{chr(0x4E00 + n)}", "id_number": parent_id, **home},
            {
                "key": f"child{n}",
                "name": f"姚子{chr(0x4E00 + n)}",
                "id_number": parent_id,
                "birth_date": "2023-08-26",
                **home,
            },
        ]
        visits.append({"key": f"visit{n}", "name": f"归晓{chr(0x4E00 + n)}", "id_number": parent_id})
    more_registry, more_visits = neighbours(200)
    registry += more_registry
    visits += more_visits
    entity = resolved(engine, Kind.PERSON, {"household_registry": registry, "grid_collection": visits})
    assert all(entity[f"r{n}"] == entity[f"v{n}"] for n in range(200))
    for n in range(40):
        assert entity[f"visit{n}"] == entity[f"parent{n}"] != entity[f"child{n}"]


def test_a_grid_visit_meets_the_registry_at_a_village_house_written_without_its_group(engine: Engine) -> None:
    # The registry writes 紫泉村张家埭9号 (the hamlet), the grid worker 紫泉村9号 or 紫泉九号, without an
    # ID: compared, the two places agree as one village house with the group left out, which counts for
    # them; the half who also give both offices their phone are joined.
    villages = [a + b for a in "紫碧梅金永兴莲美" for b in "泉溪园塘浜"]
    registry, visits = neighbours(200)
    for n, village in enumerate(villages):
        first17 = f"3205811975{n % 12 + 1:02d}{n % 28 + 1:02d}{n:02d}1"
        name = f"蒋小{chr(0x5CF0 + n)}"
        registry.append(
            {
                "key": f"h{n}",
                "name": name,
                "id_number": first17 + resident_id_check_char(first17),
                "registered_address": f"江苏省常熟市古里镇{village}村张家埭9号",
            }
        )
        written = f"常熟{village}村9号" if n % 2 else f"古里镇{village}九号"
        visits.append({"key": f"g{n}", "name": name, "gender": "男", "address": written})
        if n % 2:
            registry[-1]["phone"] = visits[-1]["phone"] = f"159{n:08d}"
    entity = resolved(engine, Kind.PERSON, {"household_registry": registry, "grid_collection": visits})
    assert all(entity[f"g{n}"] == entity[f"h{n}"] for n in range(1, len(villages), 2))
    with Session(engine) as session:
        for n in range(len(villages)):
            pair = (
                record_id(session, "household_registry", f"h{n}"),
                record_id(session, "grid_collection", f"g{n}"),
            )
            steps = {
                name: (label, weight)
                for name, label, weight in explain_records(session, *pair).explanation.steps
            }
            label, weight = steps["home"]
            assert label == "same village house, group left out" and weight > 0


def test_a_split_keeps_the_records_that_stay_together_in_later_runs(engine: Engine) -> None:
    # The registry's record joins the tax record by its ID number and the grid visit by name, phone
    # and home; the tax record and the grid visit share only a common name. A steward splits the
    # registry's record off: the two that stay are one person on the steward's word, and a later run
    # must not pull them apart for want of evidence between them.
    load(engine, "household_registry", [{"key": "h1", **WANG}, *background(200)])
    load(engine, "tax", [{"key": "t1", "name": "王伟", "id_number": WANG["id_number"]}])
    load(engine, "grid_collection", [{"key": "g1", "name": "王伟", "phone": WANG["phone"], "address": HOME}])
    resolve(engine)
    with Session(engine) as session:
        wang = entity_of(session, "household_registry", "h1")
        assert entity_of(session, "tax", "t1") == wang == entity_of(session, "grid_collection", "g1")
        split_entity(session, wang, None, [[record_id(session, "household_registry", "h1")]], "steward:li")
        session.commit()
    resolve(engine)
    resolve(engine)
    with Session(engine) as session:
        assert entity_of(session, "tax", "t1") == entity_of(session, "grid_collection", "g1")
        assert entity_of(session, "household_registry", "h1") != entity_of(session, "tax", "t1")


def test_a_move_keeps_the_records_that_stay_together_in_later_runs(engine: Engine) -> None:
    # As with a split: the registry's record, the only bridge between the tax record and the grid
    # visit, is moved to a namesake's entity; the two left behind stay one person.
    load(engine, "household_registry", [{"key": "h1", **WANG}, *background(200)])
    load(
        engine,
        "tax",
        [
            {"key": "t1", "name": "王伟", "id_number": WANG["id_number"]},
            {"key": "t2", "name": "王伟", "id_number": "110105194912310021"},
        ],
    )
    load(engine, "grid_collection", [{"key": "g1", "name": "王伟", "phone": WANG["phone"], "address": HOME}])
    resolve(engine)
    with Session(engine) as session:
        wang, namesake = entity_of(session, "household_registry", "h1"), entity_of(session, "tax", "t2")
        assert entity_of(session, "tax", "t1") == wang == entity_of(session, "grid_collection", "g1")
        assert namesake != wang
        h1 = record_id(session, "household_registry", "h1")
        move_records(session, wang, None, [h1], namesake, None, "steward:li")
        session.commit()
    resolve(engine)
    resolve(engine)
    with Session(engine) as session:
        assert entity_of(session, "tax", "t1") == entity_of(session, "grid_collection", "g1")
        assert entity_of(session, "household_registry", "h1") == entity_of(session, "tax", "t2")
        assert entity_of(session, "household_registry", "h1") != entity_of(session, "tax", "t1")

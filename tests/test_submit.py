"""Records submitted live: stored, resolved at once and answered with their entities, as a department's
system relies on; idempotent; and the same answers from a warm resolver as from one read afresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from resolved_city import resolved_city
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from hub import submit as submission
from hub.api.review import take_effect
from hub.domain import Decision, EntityStatus, Kind, ReviewStatus
from hub.errors import BusyError, InputError
from hub.ingest import ingest_records
from hub.resolve.realtime import Warm
from hub.resolve.run import plan_resolution, run_resolution
from hub.review import decide_item
from hub.steward import merge_entities, override_value, split_entity
from hub.store.locks import batch_resolution
from hub.store.models import ChangeEvent, Entity, Judgement, Membership, ReviewItem, SourceRecord
from hub.submit import LiveResolvers, Outcome, Submitted, submit_records

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def household(engine: Engine, n: int) -> list[tuple[dict[str, Any], str]]:
    """`n` household-registry people with an ID number, each with the entity it belongs to."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT v.payload, m.entity_id FROM source_record r JOIN source s ON s.id = r.source_id"
                " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
                " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
                " WHERE s.name = 'household_registry' AND r.kind = 'person' ORDER BY r.id LIMIT :n"
            ),
            {"n": n},
        ).all()
    return [(json.loads(p) if isinstance(p, str) else dict(p), e) for p, e in rows]


def as_tax(person: dict[str, Any], key: str) -> dict[str, Any]:
    """The same person as the tax bureau would submit it: its own key, name, ID number and phone."""
    return {"key": key, **{f: person[f] for f in ("name", "id_number", "phone") if person.get(f)}}


def submit(
    engine: Engine, records: list[dict[str, Any]], live: LiveResolvers | None = None
) -> list[Submitted]:
    with Session(engine) as session:
        with session.begin():
            submission = submit_records(session, "tax", Kind.PERSON, records, actor="client:tax", live=live)
        submission.committed()
    return submission.results


def warm_city(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, people: int
) -> tuple[Engine, list[tuple[dict[str, Any], str]], LiveResolvers, list[Submitted], Warm]:
    """A small resolved city, `people` of its household-registry persons, and a process's resolvers
    after a first submission of the first of them, with the persons' resolver it kept warm."""
    engine = resolved_city(request, tmp_path, persons=150, backend=backend)
    chosen = household(engine, people)
    live = LiveResolvers()
    first = submit(engine, [as_tax(chosen[0][0], "t0")], live)  # reads the persons, keeps them warm
    return engine, chosen, live, first, live._warm[Kind.PERSON][0]


@pytest.fixture(scope="module", params=BACKENDS)
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = resolved_city(request, tmp_path_factory.mktemp("submit"), persons=200)
    yield engine
    engine.dispose()


def test_each_record_is_answered_with_its_entity_and_the_bad_one_alone_is_set_aside(city: Engine) -> None:
    (known, entity), *_ = household(city, 1)
    newcomer = {"key": "tax-new-1", "name": "司马青云", "id_number": "110101199003070515"}
    bad = {"key": "x" * 300, "name": "王五"}
    results = submit(city, [as_tax(known, "tax-1"), newcomer, bad, {"name": "无键"}])
    assert [(r.key, r.outcome) for r in results[:2]] == [
        ("tax-1", Outcome.JOINED),
        ("tax-new-1", Outcome.CREATED),
    ]
    assert results[0].entity_id == entity and not results[0].unchanged
    with Session(city) as session:
        alone = session.scalar(
            select(func.count()).where(
                Membership.entity_id == results[1].entity_id, Membership.valid_to.is_(None)
            )
        )
    assert alone == 1
    assert results[2].outcome == Outcome.QUARANTINED and "key too long" in (results[2].reason or "")
    assert results[3].outcome == Outcome.QUARANTINED and results[3].entity_id is None


def test_submitting_again_changes_nothing_and_gives_the_same_answer(city: Engine) -> None:
    (known, _), *_ = household(city, 2)[1:]
    record = as_tax(known, "tax-again")
    first = submit(city, [record])
    with Session(city) as session:
        position = session.scalar(select(func.max(ChangeEvent.id)))
    again = submit(city, [record])
    assert [(r.entity_id, r.outcome) for r in again] == [(r.entity_id, r.outcome) for r in first]
    assert again[0].unchanged and not first[0].unchanged
    with Session(city) as session:
        assert session.scalar(select(func.max(ChangeEvent.id))) == position


def test_limits_and_empty_submissions_are_refused(city: Engine) -> None:
    with pytest.raises(InputError, match="one or more"):
        submit(city, [])
    with pytest.raises(InputError, match="at most 500"):
        submit(city, [{"key": f"k{i}", "name": "张三"} for i in range(501)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_warm_resolver_answers_as_one_read_afresh(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """The same submissions against two copies of a city, one process keeping its resolver warm and
    one reading the kind each time, give the same answers; the warm one is caught up when a steward
    changes the graph, and read again when another writer stores a record of the kind."""
    answers = []
    for name, live in (("cold", None), ("warm", LiveResolvers())):
        (tmp_path / name).mkdir()
        engine = resolved_city(request, tmp_path / name, persons=150, backend=backend)
        people = household(engine, 8)
        batches = [
            [as_tax(people[0][0], "t0")],
            [as_tax(people[1][0], "t1"), {"key": "t-new", "name": "诸葛明月", "phone": "13712345678"}],
            [as_tax(people[2][0], "t2"), {"key": "t-new-2", "name": "诸葛明月", "phone": "13712345678"}],
        ]
        got, resolvers = [], []
        for batch in batches:
            got.append(submit(engine, batch, live))
            if live is not None:
                resolvers.append(live._warm[Kind.PERSON][0])
        if live is not None:  # read once, then used warm
            assert resolvers[0] is resolvers[1] is resolvers[2]
        assert got[2][1].entity_id == got[1][1].entity_id  # the second 诸葛明月 joined the first
        assert [got[0][0].entity_id, got[1][0].entity_id] == [people[0][1], people[1][1]]
        if live is not None:
            with Session(engine) as session:
                newest = session.scalar(select(func.max(ChangeEvent.id))) or 0
            assert live._warm[Kind.PERSON][1][0] == newest  # kept, at the feed's position
        # Someone else changes the graph: a steward corrects a person's name.
        with Session(engine) as session, session.begin():
            override_value(session, people[3][1], None, "name", "蒋文洪", "steward:test")
        if live is not None:
            with Session(engine) as session:
                newest = session.scalar(select(func.max(ChangeEvent.id))) or 0
            kept = live._warm[Kind.PERSON][1][0]
            assert kept < newest  # behind: the next submission catches it up
        got.append(submit(engine, [as_tax(people[4][0], "t4")], live))
        if live is not None:
            assert live._warm[Kind.PERSON][0] is resolvers[0]  # caught up, not read again
        assert (got[3][0].outcome, got[3][0].entity_id) == (Outcome.JOINED, people[4][1])
        # Another writer stores a person: records the resolver does not hold.
        with Session(engine) as session, session.begin():
            ingest_records(session, "rental_registry", Kind.PERSON, [{"key": "z1", "name": "蒋文洪"}])
        got.append(submit(engine, [as_tax(people[5][0], "t5")], live))
        if live is not None:
            assert live._warm[Kind.PERSON][0] is not resolvers[0]  # read afresh
        assert (got[4][0].outcome, got[4][0].entity_id) == (Outcome.JOINED, people[5][1])
        answers.append([[(r.key, r.outcome, r.unchanged) for r in batch] for batch in got])
        engine.dispose()
    cold, warm = answers
    assert cold == warm
    assert cold[1][1][1] == Outcome.CREATED and cold[2][1][1] == Outcome.JOINED


def test_while_a_batch_resolution_runs_records_wait_for_the_next_run_and_steward_edits_are_refused(
    city: Engine,
) -> None:
    """A batch run decides from what it read when it began: what a live write decided meanwhile would
    be undone where the run moves the same records. So records submitted during it are stored and
    answered pending, the next resolution matches them, and a steward's edit is BUSY."""
    (known, entity), (other, other_entity), (third, third_entity) = household(city, 3)
    with batch_resolution(city):
        (during,) = submit(city, [as_tax(known, "tax-during-batch")])
        with Session(city) as session, pytest.raises(BusyError, match="batch resolution"):
            merge_entities(session, entity, None, other_entity, None, "steward:wang")
    assert during.outcome == Outcome.CREATED and during.pending and during.entity_id != entity
    (again,) = submit(city, [as_tax(known, "tax-during-batch")])  # unchanged: nothing new to resolve
    assert again.unchanged and not again.pending
    (between,) = submit(city, [as_tax(third, "tax-after-the-batch")])  # resolved at once again
    assert between.entity_id == third_entity and not between.pending
    plan = plan_resolution(city, [Kind.PERSON])
    with Session(city) as session:
        waiting = session.scalar(select(SourceRecord.id).where(SourceRecord.key == "tax-during-batch"))
        resolved = session.scalar(select(SourceRecord.id).where(SourceRecord.key == "tax-after-the-batch"))
    # the next resolution takes the waiting record, though a submission's run came after it
    assert waiting in plan.incremental[Kind.PERSON] and resolved not in plan.incremental[Kind.PERSON]
    run_resolution(city, plan, workers=0)
    with Session(city) as session:
        now = session.scalar(
            select(Membership.entity_id)
            .join(SourceRecord, SourceRecord.id == Membership.record_id)
            .where(SourceRecord.key == "tax-during-batch", Membership.valid_to.is_(None))
        )
    assert now == entity
    (after,) = submit(city, [as_tax(other, "tax-after-batch")])  # resolved at once again
    assert after.outcome == Outcome.JOINED and after.entity_id == other_entity and not after.pending


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kind_read_ahead_of_the_write_lock_is_what_the_submission_resolves_on(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """Once someone else changed the graph, the API reads the kind again before a submission takes the
    write lock (`LiveResolvers.prepare`), so other writers do not wait for that read: the submission
    then resolves warm on what was read, with the answers of a resolver read afresh."""
    engine = resolved_city(request, tmp_path, persons=150, backend=backend)
    people = household(engine, 4)
    live = LiveResolvers()
    assert live.prepare(engine, Kind.PERSON)
    ahead = live._warm[Kind.PERSON][0]
    assert live.prepare(engine, Kind.PERSON) and live._warm[Kind.PERSON][0] is ahead  # nothing changed
    first = submit(engine, [as_tax(people[0][0], "t0")], live)
    assert live._warm[Kind.PERSON][0] is ahead  # used, and kept at the new position

    with Session(engine) as session, session.begin():  # a person stored by another writer
        ingest_records(session, "rental_registry", Kind.PERSON, [{"key": "z1", "name": "蒋文洪"}])
    with Session(engine) as session:
        newest = session.scalar(select(func.max(ChangeEvent.id))) or 0
    assert live._warm[Kind.PERSON][1][0] < newest
    assert live.prepare(engine, Kind.PERSON)
    again, position, _ = live._warm[Kind.PERSON]
    assert again is not ahead and position[0] == newest
    second = submit(engine, [as_tax(people[2][0], "t2"), {"key": "t-new", "name": "诸葛明月"}], live)
    assert live._warm[Kind.PERSON][0] is again

    cold = [
        submit(engine, [as_tax(people[3][0], "t3")])[0],
        submit(engine, [{"key": "t-new", "name": "诸葛明月"}])[0],
    ]
    assert [(r.outcome, r.entity_id) for r in (first[0], second[0], cold[0])] == [
        (Outcome.JOINED, people[0][1]),
        (Outcome.JOINED, people[2][1]),
        (Outcome.JOINED, people[3][1]),
    ]
    assert second[1].outcome == Outcome.CREATED and cold[1].unchanged
    # Addresses prepare their whole table to match, so they always take the full path: nothing is read.
    assert not live.prepare(engine, Kind.ADDRESS) and Kind.ADDRESS not in live._warm
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_change_to_another_kind_leaves_a_kinds_resolver_warm(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """A kind's resolver holds that kind's records and entities only: a steward's override of a legal
    entity and merge of two addresses leave the persons' kept resolver current, so the next person
    submission resolves on it without reading the persons again. A person record stored by another
    writer still makes it stale."""
    engine, people, live, first, kept = warm_city(request, tmp_path, backend, 3)
    active = Entity.status == EntityStatus.ACTIVE
    with Session(engine) as session, session.begin():
        company = session.scalars(select(Entity.id).where(Entity.kind == Kind.LEGAL_ENTITY, active)).first()
        addresses = session.scalars(
            select(Entity.id).where(Entity.kind == Kind.ADDRESS, active).limit(2)
        ).all()
        assert company is not None and len(addresses) == 2
        override_value(session, company, None, "name", "测试改名有限公司", "steward:test")
        merge_entities(session, addresses[0], None, addresses[1], None, "steward:test")
    assert live.prepare(engine, Kind.PERSON) and live._warm[Kind.PERSON][0] is kept
    second = submit(engine, [as_tax(people[1][0], "t1")], live)
    assert live._warm[Kind.PERSON][0] is kept  # resolved on the kept resolver, which grew by one
    assert [(r.outcome, r.entity_id) for r in (first[0], second[0])] == [
        (Outcome.JOINED, people[0][1]),
        (Outcome.JOINED, people[1][1]),
    ]

    with Session(engine) as session, session.begin():
        ingest_records(session, "rental_registry", Kind.PERSON, [{"key": "z1", "name": "蒋文洪"}])
    assert live.prepare(engine, Kind.PERSON) and live._warm[Kind.PERSON][0] is not kept
    engine.dispose()


def _entities(engine: Engine, warm: Warm) -> tuple[set[frozenset[int]], set[frozenset[int]]]:
    """The kept resolver's person entities and the database's, as sets of record ids."""
    held = set(warm.ids)
    stored: dict[str, set[int]] = {}
    with Session(engine) as session:
        for record, entity in session.execute(
            select(Membership.record_id, Membership.entity_id)
            .join(SourceRecord, SourceRecord.id == Membership.record_id)
            .where(Membership.valid_to.is_(None), SourceRecord.kind == Kind.PERSON)
        ):
            stored.setdefault(entity, set()).add(record)
    kept: dict[int, set[int]] = {}
    for index, label in enumerate(warm.resolver.entity):
        kept.setdefault(label, set()).add(warm.ids[index])
    return {frozenset(v) for v in kept.values()}, {frozenset(v & held) for v in stored.values() if v & held}


@pytest.mark.parametrize("backend", BACKENDS)
def test_stewards_merges_and_splits_reach_the_kept_resolver_without_reading_the_kind_again(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """A steward's merge, split or override moves no record's contents and no weight: the next
    submission catches the kept resolver up from the change feed (the touched entities' members, the
    stewards' decisions) instead of reading every person again (44 s at 1M), and the resolver's
    entities are the database's, so the submission cannot undo the steward's edit."""
    engine, people, live, _, kept = warm_city(request, tmp_path, backend, 3)
    # Two records resolved by key, not by row: the resolver's record ids are no longer ascending.
    submit(engine, [{"key": "t9b", "name": "诸葛明月"}, {"key": "t9a", "name": "上官云"}], live)
    assert live._warm[Kind.PERSON][0] is kept and kept.ids != sorted(kept.ids)
    with Session(engine) as session, session.begin():
        merge_entities(session, people[2][1], None, people[1][1], None, "steward:test")
        several = session.execute(
            select(Membership.entity_id, func.min(Membership.record_id))
            .join(Entity, Entity.id == Membership.entity_id)
            .where(Membership.valid_to.is_(None), Entity.kind == Kind.PERSON)
            .where(Membership.entity_id.not_in([people[1][1], people[2][1]]))
            .group_by(Membership.entity_id)
            .having(func.count() >= 2)
            .order_by(Membership.entity_id)
            .limit(1)
        ).one()
        split_entity(session, several[0], None, [[several[1]]], "steward:test")
        override_value(session, people[0][1], None, "name", "蒋文洪", "steward:test")
    warm_entities, stored_entities = _entities(engine, kept)
    assert warm_entities != stored_entities  # behind the edits until it is taken
    assert live.prepare(engine, Kind.PERSON) and live._warm[Kind.PERSON][0] is kept

    (joined,) = submit(engine, [as_tax(people[1][0], "t1")], live)
    assert live._warm[Kind.PERSON][0] is kept  # caught up, not read again
    assert (joined.outcome, joined.entity_id) == (Outcome.JOINED, people[2][1])  # the merge stands
    warm_entities, stored_entities = _entities(engine, kept)
    assert warm_entities == stored_entities
    assert any(several[1] in entity and len(entity) == 1 for entity in stored_entities)  # and the split
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stewards_edit_while_the_kind_is_read_ahead_does_not_waste_the_read(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steward merges two persons while the API reads the persons ahead of a submission: the read is
    kept (at the position before it) and the submission catches it up instead of reading again."""
    engine = resolved_city(request, tmp_path, persons=150, backend=backend)
    people = household(engine, 2)
    live = LiveResolvers()
    read = submission.build_resolver

    def merged_meanwhile(session: Session, kind: Kind) -> Any:
        built = read(session, kind)
        with Session(engine) as other, other.begin():  # another request's edit, committed meanwhile
            merge_entities(other, people[1][1], None, people[0][1], None, "steward:test")
        return built

    monkeypatch.setattr(submission, "build_resolver", merged_meanwhile)
    assert live.prepare(engine, Kind.PERSON)
    monkeypatch.undo()
    ahead = live._warm[Kind.PERSON][0]
    (answer,) = submit(engine, [as_tax(people[0][0], "t0")], live)
    assert live._warm[Kind.PERSON][0] is ahead  # caught up, not read again
    assert (answer.outcome, answer.entity_id) == (Outcome.JOINED, people[1][1])  # into the survivor
    warm_entities, stored_entities = _entities(engine, ahead)
    assert warm_entities == stored_entities
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stewards_decision_that_moves_no_entity_reaches_the_warm_resolver(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """NOT_MATCH on a review pair already in two entities changes no entity, so it writes no change-feed
    entry; a warm resolver that missed it could join the two through the next submitted record, against
    the steward's decision. The next submission catches the kept resolver up, and it holds the pair as
    one to keep apart; the decision's undo, which withdraws the judgement, reaches it too."""
    engine, people, live, _, kept = warm_city(request, tmp_path, backend, 1)
    with Session(engine) as session, session.begin():
        current = {
            record: entity
            for record, entity in session.execute(
                select(Membership.record_id, Membership.entity_id).where(Membership.valid_to.is_(None))
            )
        }
        apart = [
            (item, a, b)
            for item, a, b in session.execute(
                select(ReviewItem.id, Judgement.record_a_id, Judgement.record_b_id)
                .join(Judgement, Judgement.id == ReviewItem.judgement_id)
                .where(ReviewItem.kind == Kind.PERSON, ReviewItem.status == ReviewStatus.OPEN)
                .order_by(ReviewItem.id)
            )
            if current[a] != current[b]
        ]
        assert apart, "the city has no open review pair of two person entities"
        item, a, b = apart[0]
        feed = session.scalar(select(func.max(ChangeEvent.id)))
        outcome = decide_item(session, item, "steward:test", Decision.NEGATIVE, None)
        take_effect(session, outcome, "steward:test", None)
        assert outcome.judgement is not None
        made = outcome.judgement.id
        assert session.scalar(select(func.max(ChangeEvent.id))) == feed  # no entity moved
    assert live.prepare(engine, Kind.PERSON)
    index = {record: i for i, record in enumerate(kept.ids)}
    assert (index[a], index[b]) not in kept.resolver.cannot_link
    submit(engine, [as_tax(people[0][0], "t1")], live)  # takes the kept resolver, caught up
    assert live._warm[Kind.PERSON][0] is kept
    assert (index[a], index[b]) in kept.resolver.cannot_link

    with Session(engine) as session, session.begin():
        judgement = session.get(Judgement, made)
        assert judgement is not None
        judgement.deleted_at = judgement.created_at  # as an undo withdraws it (hub.steward)
    submit(engine, [as_tax(people[0][0], "t2")], live)
    assert live._warm[Kind.PERSON][0] is kept
    assert (index[a], index[b]) not in kept.resolver.cannot_link
    engine.dispose()


def test_a_kind_never_resolved_is_not_read_ahead(engine: Engine) -> None:
    live = LiveResolvers()
    assert not live.prepare(engine, Kind.PERSON)
    assert Kind.PERSON not in live._warm

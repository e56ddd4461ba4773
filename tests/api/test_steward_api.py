"""Stewards' merges and their undo over HTTP: versions that guard against a concurrent edit, links
that follow the records, the audit trail, undo back to exactly the state before, and later runs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from api_city import City, data, post
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.audit import verify
from hub.domain import Kind, LinkRelation
from hub.errors import ConflictError
from hub.resolve.batch import resolve_kinds
from hub.steward import merge_entities
from hub.store.models import Entity, Judgement, Link, LinkEvidence, Membership, Source, SourceRecord

VERSION = "query($id: ID!) { person(id: $id) { id version redirectedFrom } }"
MERGE = """mutation($into: ID!, $iv: Int!, $other: ID!, $ov: Int!, $note: String) {
  mergeEntities(into: $into, intoVersion: $iv, other: $other, otherVersion: $ov, note: $note) {
    eventId entity { id ... on Person { version sourceRecords { key } } } } }"""
UNDO = "mutation($e: ID!) { undo(eventId: $e) { eventId entity { id } } }"


def two_people_with_homes(city: City, skip: int = 0) -> tuple[str, str]:
    """Two active person entities that each live somewhere (so links have to follow a merge)."""
    with Session(city.engine) as session:
        a, b = session.scalars(
            select(Link.subject_id)
            .join(Entity, Entity.id == Link.subject_id)
            .where(Link.valid_to.is_(None), Link.relation == LinkRelation.LIVES_AT, Entity.status == "active")
            .group_by(Link.subject_id)
            .order_by(Link.subject_id)
            .offset(skip)
            .limit(2)
        )
    return a, b


def state(city: City, *entity_ids: str) -> dict[str, Any]:
    """Members, status and current links (with their evidence) of these entities."""
    with Session(city.engine) as session:
        members = {
            e: sorted(
                session.scalars(
                    select(Membership.record_id).where(
                        Membership.entity_id == e, Membership.valid_to.is_(None)
                    )
                )
            )
            for e in entity_ids
        }
        status = {e: (x.status.value, x.merged_into_id) for e in entity_ids if (x := session.get(Entity, e))}
        links = session.scalars(
            select(Link).where(
                Link.valid_to.is_(None), or_(Link.subject_id.in_(entity_ids), Link.object_id.in_(entity_ids))
            )
        ).all()
        evidence = {
            (link.relation.value, link.subject_id, link.object_id): frozenset(
                session.scalars(select(LinkEvidence.record_id).where(LinkEvidence.link_id == link.id))
            )
            for link in links
        }
    return {"members": members, "status": status, "links": evidence}


def version(client: Any, entity: str) -> int:
    return int(data(client, VERSION, id=entity)["person"]["version"])


def test_a_merge_moves_records_and_links_and_undo_restores_exactly(city: City) -> None:
    a, b = two_people_with_homes(city)
    before = state(city, a, b)
    values = (
        "query($id: ID!) { person(id: $id) { name idNumber birthDate gender phone lineage { field value } } }"
    )
    with city.client(role="steward") as steward:
        golden = {e: data(steward, values, id=e)["person"] for e in (a, b)}
        merged = data(
            steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b), note="same"
        )
        edit = merged["mergeEntities"]
        assert edit["entity"]["id"] == a
        after = state(city, a, b)
        assert after["members"] == {a: sorted(before["members"][a] + before["members"][b]), b: []}
        assert after["status"][b] == ("merged", a)
        assert not any(b in (subject, obj) for _, subject, obj in after["links"])
        for (relation, subject, obj), records in before["links"].items():
            moved = (relation, a if subject == b else subject, a if obj == b else obj)
            assert records <= after["links"][moved]
        redirected = data(steward, VERSION, id=b)["person"]
        assert redirected["id"] == a and redirected["redirectedFrom"] == b

        undone = data(steward, UNDO, e=edit["eventId"])["undo"]
        assert undone["entity"]["id"] == b
        assert state(city, a, b) == before
        assert {e: data(steward, values, id=e)["person"] for e in (a, b)} == golden
        assert post(steward, UNDO, e=edit["eventId"])["errors"][0]["extensions"]["code"] == "CONFLICT"
    with Session(city.engine) as session:
        check = verify(session)
        steward_judgements = session.scalars(
            select(Judgement).where(Judgement.actor_type == "steward", Judgement.note == "same")
        ).all()
    assert check.ok
    # One per record beyond the first, all withdrawn by the undo.
    assert len(steward_judgements) == len(before["members"][a] + before["members"][b]) - 1
    assert all(j.deleted_at is not None for j in steward_judgements)


def test_two_stewards_one_wins_the_other_gets_a_conflict(city: City) -> None:
    a, b = two_people_with_homes(city, skip=2)
    with city.client(role="steward") as first, city.client(role="steward") as second:
        seen = {e: version(first, e) for e in (a, b)}
        assert (
            data(first, MERGE, into=a, iv=seen[a], other=b, ov=seen[b])["mergeEntities"]["entity"]["id"] == a
        )
        body = post(second, MERGE, into=b, iv=seen[b], other=a, ov=seen[a])
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert state(city, a, b)["status"][b] == ("merged", a)


def test_undo_refuses_once_someone_edited_the_entity_again(city: City) -> None:
    a, b = two_people_with_homes(city, skip=4)
    c, _ = two_people_with_homes(city, skip=6)
    with city.client(role="steward") as steward:
        first = data(steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b))
        data(steward, MERGE, into=a, iv=version(steward, a), other=c, ov=version(steward, c))
        body = post(steward, UNDO, e=first["mergeEntities"]["eventId"])
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"iv": 999}, "CONFLICT"),
        ({"other": "per_nobody"}, "NOT_FOUND"),
        ({"same": True}, "BAD_INPUT"),
    ],
)
def test_bad_merges_get_coded_errors(city: City, variables: dict[str, Any], code: str) -> None:
    a, b = two_people_with_homes(city, skip=8)  # each case leaves them as they were (asserted below)
    with city.client(role="steward") as steward:
        args = {"into": a, "iv": version(steward, a), "other": b, "ov": version(steward, b)}
        variables = dict(variables)  # the parameters are shared by both backends
        if variables.pop("same", False):
            args["other"], args["ov"] = a, args["iv"]
        args.update(variables)
        assert post(steward, MERGE, **args)["errors"][0]["extensions"]["code"] == code
    assert state(city, a, b)["status"][b] == ("active", None)


def test_readers_and_auditors_may_not_merge(city: City) -> None:
    a, b = two_people_with_homes(city, skip=10)
    for role in ("reader", "auditor"):
        with city.client(role=role) as client:
            body = post(client, MERGE, into=a, iv=1, other=b, ov=1)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


SPLIT = """mutation($id: ID!, $v: Int!, $groups: [[RecordRef!]!]!) {
  splitEntity(id: $id, version: $v, groups: $groups, note: "two people") {
    eventId entity { id } created } }"""
MOVE = """mutation($id: ID!, $v: Int!, $records: [RecordRef!]!, $to: ID!, $tv: Int!) {
  moveRecords(id: $id, version: $v, records: $records, to: $to, toVersion: $tv) { eventId entity { id } } }"""


def people_with_several_records(
    city: City, skip: int = 0, at_least: int = 2
) -> list[tuple[str, list[dict[str, str]]]]:
    """Active persons with two or more records and a home, with their records as (source, key)."""
    with Session(city.engine) as session:
        ids = session.scalars(
            select(Membership.entity_id)
            .join(Link, (Link.subject_id == Membership.entity_id) & Link.valid_to.is_(None))
            .where(Membership.valid_to.is_(None), Membership.entity_id.like("per_%"))
            .group_by(Membership.entity_id)
            .having(func.count(func.distinct(Membership.record_id)) >= at_least)
            .order_by(Membership.entity_id)
            .offset(skip)
            .limit(2)
        ).all()
        out = []
        for entity_id in ids:
            rows = session.execute(
                select(Source.name, SourceRecord.key)
                .join(SourceRecord, SourceRecord.source_id == Source.id)
                .join(Membership, Membership.record_id == SourceRecord.id)
                .where(Membership.entity_id == entity_id, Membership.valid_to.is_(None))
                .order_by(SourceRecord.id)
            ).all()
            out.append((entity_id, [{"source": source, "key": key} for source, key in rows]))
    return out


def test_a_split_takes_its_records_and_their_links_and_undo_restores_exactly(city: City) -> None:
    [(a, records), _] = people_with_several_records(city)
    before = state(city, a)
    with city.client(role="steward") as steward:
        edit = data(steward, SPLIT, id=a, v=version(steward, a), groups=[records[-1:]])["splitEntity"]
        [new] = edit["created"]
        assert edit["entity"]["id"] == a and new != a
        after = state(city, a, new)
        assert after["members"][a] == before["members"][a][:-1]
        assert after["members"][new] == before["members"][a][-1:]
        moved = set(after["members"][new])
        for (relation, subject, obj), evidence in before["links"].items():
            if subject == a and evidence & moved:
                assert after["links"][(relation, new, obj)] == evidence & moved
            if subject == a and evidence - moved:
                assert after["links"][(relation, a, obj)] == evidence - moved
        every_record_left = post(steward, SPLIT, id=a, v=version(steward, a), groups=[records[:-1]])
        assert every_record_left["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        stale = post(steward, SPLIT, id=a, v=version(steward, a) - 1, groups=[records[:1]])
        assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"

        data(steward, UNDO, e=edit["eventId"])
    restored = state(city, a, new)
    assert restored["members"][a] == before["members"][a] and restored["members"][new] == []
    assert {k: v for k, v in restored["links"].items() if new not in k} == before["links"]
    assert not any(new in key for key in restored["links"])
    assert restored["status"][new] == ("merged", a)


def test_a_split_into_several_groups_and_its_undo(city: City) -> None:
    [(a, records), _] = people_with_several_records(city, at_least=3)
    before = state(city, a)
    with city.client(role="steward") as steward:
        edit = data(steward, SPLIT, id=a, v=version(steward, a), groups=[records[:1], records[1:2]])[
            "splitEntity"
        ]
        first, second = edit["created"]
        after = state(city, a, first, second)
        members = before["members"][a]
        assert after["members"] == {a: members[2:], first: members[:1], second: members[1:2]}
        overlap = post(steward, SPLIT, id=a, v=version(steward, a), groups=[records[2:3], records[2:3]])
        assert overlap["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        data(steward, UNDO, e=edit["eventId"])
    restored = state(city, a, first, second)
    assert restored["members"] == {a: members, first: [], second: []}
    assert {k: v for k, v in restored["links"].items() if first not in k and second not in k} == before[
        "links"
    ]


def test_records_move_to_another_entity_and_back(city: City) -> None:
    [(a, records), (b, _)] = people_with_several_records(city, skip=2)
    before = state(city, a, b)
    with city.client(role="steward") as steward:
        edit = data(
            steward, MOVE, id=a, v=version(steward, a), records=records[:1], to=b, tv=version(steward, b)
        )["moveRecords"]
        assert edit["entity"]["id"] == b
        after = state(city, a, b)
        assert after["members"][b] == sorted(before["members"][b] + before["members"][a][:1])
        assert after["members"][a] == before["members"][a][1:]
        unknown = post(
            steward, MOVE, id=a, v=version(steward, a), records=[{"source": "tax", "key": "no such key"}],
            to=b, tv=version(steward, b),
        )  # fmt: skip
        assert unknown["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        data(steward, UNDO, e=edit["eventId"])
    assert state(city, a, b) == before


WHY = """query($id: ID!) { person(id: $id) { id sourceRecords { key judgements {
  decision by actor score runId note explanation { comparison level weight } other { key entityId } } } } }"""


def test_each_membership_shows_the_judgements_behind_it(city: City) -> None:
    [(a, _), (b, _)] = people_with_several_records(city, skip=6)
    with city.client(role="steward") as steward:
        person = data(steward, WHY, id=a)["person"]
        for record in person["sourceRecords"]:
            joins = [
                j for j in record["judgements"] if j["decision"] == "MATCH" and j["other"]["entityId"] == a
            ]
            assert joins, record  # every record of a multi-record entity was joined to it by something
            for join in joins:
                assert join["by"] in ("RULE", "MODEL") and join["runId"]
                if join["by"] == "MODEL":
                    assert join["score"] >= 0.95 and {s["comparison"] for s in join["explanation"]} >= {
                        "name"
                    }
        data(
            steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b), note="seen twice"
        )
        merged = data(steward, WHY, id=a)["person"]
    by_steward = [
        j
        for r in merged["sourceRecords"]
        for j in r["judgements"]
        if j["by"] == "STEWARD" and j["note"] == "seen twice"
    ]
    assert by_steward and all(
        j["decision"] == "MATCH" and j["actor"].startswith("steward:") for j in by_steward
    )
    with city.client(role="reader") as reader:
        assert post(reader, WHY, id=a)["errors"][0]["extensions"]["code"] == "FORBIDDEN"


AS_OF = """query($id: ID!, $at: DateTime) { person(id: $id, asOf: $at) { id redirectedFrom name
  sourceRecords { key } addresses { relation address { id } } } }"""


def _now() -> str:
    time.sleep(0.01)  # the instants either side of an edit are distinct
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    return moment


def test_as_of_shows_entities_as_they_were_before_and_after_a_merge_and_a_split(city: City) -> None:
    [(a, _), (b, _)] = people_with_several_records(city, skip=8)
    [(c, records), _] = people_with_several_records(city, skip=10)
    with city.client(role="steward") as steward:
        then = {e: data(steward, AS_OF, id=e)["person"] for e in (a, b, c)}
        before = _now()
        data(steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b))
        split = data(steward, SPLIT, id=c, v=version(steward, c), groups=[records[:1]])["splitEntity"]
        after = _now()
        [new] = split["created"]

        for entity in (a, b, c):  # before the edits: each as it was, the merged-away one included
            assert data(steward, AS_OF, id=entity, at=before)["person"] == then[entity]
        assert data(steward, AS_OF, id=new, at=before)["person"] is None  # it did not exist yet

        absorbed = data(steward, AS_OF, id=b, at=after)["person"]
        assert absorbed["id"] == a and absorbed["redirectedFrom"] == b
        assert {r["key"] for r in absorbed["sourceRecords"]} == {
            r["key"] for e in (a, b) for r in then[e]["sourceRecords"]
        }
        assert [r["key"] for r in data(steward, AS_OF, id=new, at=after)["person"]["sourceRecords"]] == [
            records[0]["key"]
        ]
        assert data(steward, AS_OF, id=c, at=after)["person"] == data(steward, AS_OF, id=c)["person"]

        naive = post(steward, AS_OF, id=a, at="2026-01-01T00:00:00")
        assert naive["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        two = post(
            steward,
            "query($a: ID!, $t: DateTime, $u: DateTime) { x: person(id: $a, asOf: $t) { id }"
            " y: person(id: $a, asOf: $u) { id } }",
            a=a, t=before, u=after,
        )  # fmt: skip
        assert two["errors"][0]["extensions"]["code"] == "BAD_INPUT"


HISTORY = """query($id: ID!) { person(id: $id) { id history {
  version at actor action recordsAdded recordsRemoved eventId } } }"""


def test_history_lists_every_change_with_who_and_when_and_stays_readable_after_a_merge(city: City) -> None:
    [(a, _), (b, _)] = people_with_several_records(city, skip=12)
    with city.client(role="steward") as steward:
        members_b = state(city, b)["members"][b]
        edit = data(steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b))
        event = edit["mergeEntities"]["eventId"]
        history = data(steward, HISTORY, id=a)["person"]["history"]
        retired = data(steward, HISTORY, id=b)["person"]  # redirected to a, but b's own history
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    actors = {h["actor"] for h in history}
    assert "ingest" in actors and "resolution" in actors
    # The merge is one change: its audit event with the records it brought in.
    merge = [h for h in history if h["action"] == "entity.merge"]
    assert [h["eventId"] for h in merge] == [event] and merge[0]["actor"].startswith("steward:")
    assert merge[0]["recordsAdded"] == members_b and merge[0]["recordsRemoved"] == []
    assert not [h for h in history if h["actor"].startswith("steward:") and h["action"] == "records.changed"]
    assert retired["id"] == a
    left = [h for h in retired["history"] if h["recordsRemoved"]]
    assert [h["action"] for h in left] == ["entity.merge"] and left[0]["recordsRemoved"] == members_b
    assert left[0]["eventId"] == event
    with city.client(role="reader") as reader:
        assert post(reader, HISTORY, id=a)["errors"][0]["extensions"]["code"] == "FORBIDDEN"


OVERRIDE = """mutation($id: ID!, $v: Int!, $f: String!, $value: String) {
  overrideValue(id: $id, version: $v, field: $f, value: $value, note: "checked the paper file") {
    eventId entity { ... on Person { name phone } } } }"""
NAME = """query($id: ID!) { person(id: $id) { name idNumber
  lineage { field value rule values { value chosen source key } } } }"""


def test_a_stewards_value_outranks_the_sources_and_undo_takes_it_back(city: City) -> None:
    [(a, _), _] = people_with_several_records(city, skip=14)
    with city.client("pii:read", role="steward") as steward:
        before = data(steward, NAME, id=a)["person"]
        edit = data(steward, OVERRIDE, id=a, v=version(steward, a), f="name", value="王晓明")["overrideValue"]
        assert edit["entity"]["name"] == "王晓明"
        after = data(steward, NAME, id=a)["person"]
        [name] = [f for f in after["lineage"] if f["field"] == "name"]
        stated = [v for v in name["values"] if v["source"] == "steward"]
        assert stated == [
            {"value": "王晓明", "chosen": True, "source": "steward", "key": f"steward:{name_of(steward)}"}
        ]
        sources = {v["value"] for v in name["values"] if v["source"] != "steward"}
        assert sources == {v["value"] for f in before["lineage"] if f["field"] == "name" for v in f["values"]}

        data(steward, UNDO, e=edit["eventId"])
        assert data(steward, NAME, id=a)["person"] == before

        data(steward, OVERRIDE, id=a, v=version(steward, a), f="idNumber", value="11010519491231002X")
        assert data(steward, NAME, id=a)["person"]["idNumber"] == "11010519491231002X"
        bad = post(steward, OVERRIDE, id=a, v=version(steward, a), f="shoeSize", value="42")
        assert bad["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        stale = post(steward, OVERRIDE, id=a, v=1, f="name", value="x")
        assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
        # An edit is undone once (and never after the entity changed again).
        assert post(steward, UNDO, e=edit["eventId"])["errors"][0]["extensions"]["code"] == "CONFLICT"
    with city.client(role="auditor") as auditor:
        trail = data(
            auditor,
            'query($id: ID!) { auditEvents(entityId: $id, action: "entity.override")'
            " { edges { node { after } } } }",
            id=a,
        )["auditEvents"]["edges"]
    shown = [e["node"]["after"]["value"] for e in trail]
    assert "王晓明" in shown and "110105********002X" in shown  # personal values masked in the trail


def name_of(client: Any) -> str:
    return str(data(client, "{ viewer { name } }")["viewer"]["name"])


def test_two_stewards_at_the_same_moment_one_wins_the_other_gets_a_conflict(city: City) -> None:
    # Both read the survivor at the same version, then merge a different entity into it at once.
    a, b = two_people_with_homes(city, skip=16)
    c, _ = two_people_with_homes(city, skip=18)
    with Session(city.engine) as session:
        seen = {e: session.get(Entity, e).version for e in (a, b, c)}  # type: ignore[union-attr]
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def merge(steward: str, other: str) -> None:
        with Session(city.engine) as session:
            start.wait()
            try:
                merge_entities(session, a, seen[a], other, seen[other], f"steward:{steward}")
                session.commit()
                outcomes[steward] = "merged"
            except ConflictError:
                session.rollback()
                outcomes[steward] = "conflict"

    threads = [threading.Thread(target=merge, args=args) for args in (("li", b), ("wu", c))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["conflict", "merged"]
    winner = b if outcomes["li"] == "merged" else c
    loser = c if winner == b else b
    after = state(city, a, b, c)
    assert after["status"][winner] == ("merged", a) and after["status"][loser] == ("active", None)


def test_merges_and_splits_survive_a_full_rerun(city: City) -> None:
    # Last in this module: it resolves the shared city again.
    a, b = two_people_with_homes(city, skip=12)
    [(c, records), _] = people_with_several_records(city, skip=4)
    with city.client(role="steward") as steward:
        data(steward, MERGE, into=a, iv=version(steward, a), other=b, ov=version(steward, b))
        data(steward, SPLIT, id=c, v=version(steward, c), groups=[records[:1]])
    merged = state(city, a)["members"][a]
    kept = state(city, c)["members"][c]
    with Session(city.engine) as session:
        split_off = session.scalar(
            select(SourceRecord.id)
            .join(Source, Source.id == SourceRecord.source_id)
            .where(Source.name == records[0]["source"], SourceRecord.key == records[0]["key"])
        )
    assert split_off is not None
    list(resolve_kinds(city.engine, [Kind.PERSON]))

    def entities_of(record_ids: list[int]) -> set[str]:
        with Session(city.engine) as session:
            return set(
                session.scalars(
                    select(Membership.entity_id).where(
                        Membership.record_id.in_(record_ids), Membership.valid_to.is_(None)
                    )
                )
            )

    assert len(entities_of(merged)) == 1
    assert len(entities_of(kept)) == 1
    assert entities_of([split_off]).isdisjoint(entities_of(kept))


def test_an_override_is_checked_like_a_source_value(city: City) -> None:
    [(a, _), _] = people_with_several_records(city, skip=16)
    with city.client("pii:read", role="steward") as steward:
        for field, value in (
            ("idNumber", "110105194912310022"),
            ("phone", "12345"),
            ("birthDate", "明年"),
            ("gender", "X"),
        ):
            refused = post(steward, OVERRIDE, id=a, v=version(steward, a), f=field, value=value)
            [error] = refused["errors"]
            assert error["extensions"]["code"] == "BAD_INPUT" and repr(value) in error["message"], error
        data(steward, OVERRIDE, id=a, v=version(steward, a), f="phone", value="139 1234 5678")
        assert data(steward, NAME.replace("idNumber", "phone"), id=a)["person"]["phone"] == "13912345678"
        data(steward, OVERRIDE, id=a, v=version(steward, a), f="gender", value="F")
        assert data(steward, NAME.replace("idNumber", "gender"), id=a)["person"]["gender"] == "女"


def test_the_history_reports_the_entitys_own_versions(city: City) -> None:
    [(a, _), _] = people_with_several_records(city, skip=18)
    with city.client("pii:read", role="steward") as steward:
        data(steward, OVERRIDE, id=a, v=version(steward, a), f="name", value="王晓明")
        person = data(steward, "query($id: ID!) { person(id: $id) { version history { version } } }", id=a)
        versions = [h["version"] for h in person["person"]["history"]]
        assert versions[-1] == person["person"]["version"] == version(steward, a)
        assert versions == sorted(versions)
    # A review item names its records' entities; claiming it changes neither entity's version.
    with city.client(role="steward") as steward:
        item = data(steward, "{ reviewItems(first: 1) { edges { node { id records { entityId } } } } }")
        [edge] = item["reviewItems"]["edges"]
        entity = edge["node"]["records"][0]["entityId"]
        data(steward, "mutation($id: ID!) { claimReviewItem(id: $id) { id } }", id=edge["node"]["id"])
        seen = data(
            steward,
            "query($id: ID!) { node(id: $id) { ... on Entity { version history { version action } } } }",
            id=entity,
        )["node"]
        assert seen["history"][-1]["action"] == "review.claim"
        assert seen["history"][-1]["version"] == seen["version"]


def test_undo_of_a_split_whose_groups_share_a_link_restores_it_once(city: City) -> None:
    # Two of the person's records assert one link (both say where they live), and each goes to an
    # entity of its own: the first group leaves the link with the second's evidence, the second
    # closes that too. Undo opens the link once, with both records, as before the split.
    with Session(city.engine) as session:
        shared = session.execute(
            select(Link.subject_id, func.min(LinkEvidence.record_id), func.max(LinkEvidence.record_id))
            .join(LinkEvidence, LinkEvidence.link_id == Link.id)
            .where(Link.valid_to.is_(None), Link.subject_id.like("per_%"))
            .group_by(Link.id, Link.subject_id)
            .having(func.count(LinkEvidence.record_id) >= 2)
            .order_by(Link.subject_id)
        ).all()
        members: dict[str, int] = {
            entity_id: count
            for entity_id, count in session.execute(
                select(Membership.entity_id, func.count())
                .where(Membership.valid_to.is_(None), Membership.entity_id.like("per_%"))
                .group_by(Membership.entity_id)
            )
        }
        kept = {row.subject_id: row for row in shared if members.get(row.subject_id, 0) >= 3}
        a, first_id, second_id = next(iter(kept.values()))
        refs = {
            record_id: {"source": source, "key": key}
            for record_id, source, key in session.execute(
                select(SourceRecord.id, Source.name, SourceRecord.key)
                .join(Source, Source.id == SourceRecord.source_id)
                .where(SourceRecord.id.in_([first_id, second_id]))
            )
        }
    before = state(city, a)
    with city.client(role="steward") as steward:
        groups = [[refs[first_id]], [refs[second_id]]]
        edit = data(steward, SPLIT, id=a, v=version(steward, a), groups=groups)["splitEntity"]
        data(steward, UNDO, e=edit["eventId"])
    restored = state(city, a, *edit["created"])
    assert {k: v for k, v in restored["links"].items() if k[1] == a} == before["links"]
    with Session(city.engine) as session:
        current = session.execute(
            select(Link.relation, Link.object_id, func.count())
            .where(Link.subject_id == a, Link.valid_to.is_(None))
            .group_by(Link.relation, Link.object_id)
        ).all()
    assert all(count == 1 for _relation, _object, count in current), current

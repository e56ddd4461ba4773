"""The review queue over HTTP: who may read and decide, claims and conflicts, and decisions that every
later resolution run honours."""

from __future__ import annotations

from typing import Any

from api_city import City, data, post
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain import Decision, Kind, ReviewStatus
from hub.resolve.batch import resolve_kinds
from hub.steward import merge_entities
from hub.store.models import AuditEvent, Judgement, Membership, ReviewItem

QUEUE = """query($kind: EntityKind, $state: ReviewState, $assignee: String, $first: Int) {
  reviewItems(kind: $kind, state: $state, assignee: $assignee, first: $first) {
    totalCount edges { node { id kind state assignee priority score decision note
      explanation { comparison level weight } records { source key entityId features } } } } }"""
CLAIM = "mutation($id: ID!) { claimReviewItem(id: $id) { id state assignee } }"
RELEASE = "mutation($id: ID!) { releaseReviewItem(id: $id) { id state assignee } }"
PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $band: ScoreBand, $source: String,
    $town: String, $states: [ReviewState!]) {
  reviewItems(first: $first, after: $after, last: $last, before: $before, band: $band, source: $source,
      town: $town, states: $states) {
    totalCount bands { band low high count }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
    edges { cursor node { id state score records { source key entityId } } } } }"""
DECIDE = """mutation($id: ID!, $d: ReviewDecision!, $n: String) {
  decideReviewItem(id: $id, decision: $d, note: $n) { id state assignee decision note } }"""


def queue(client: Any, **variables: Any) -> list[dict[str, Any]]:
    return [e["node"] for e in data(client, QUEUE, **variables)["reviewItems"]["edges"]]


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def name(client: Any) -> str:
    return str(data(client, "{ viewer { name } }")["viewer"]["name"])


def test_readers_see_no_queue_and_auditors_may_not_decide(city: City) -> None:
    with city.client(role="reader") as reader:
        assert code(post(reader, QUEUE)) == "FORBIDDEN"
        assert code(post(reader, CLAIM, id="1")) == "FORBIDDEN"
    with city.client(role="auditor") as auditor:
        assert queue(auditor, first=1)
        item = queue(auditor, first=1)[0]["id"]
        body = post(auditor, DECIDE, id=item, d="MATCH")
        assert code(body) == "FORBIDDEN" and "auditor" in body["errors"][0]["message"]


def test_the_queue_shows_both_records_and_the_explanation_most_uncertain_first(city: City) -> None:
    with city.client(role="steward") as steward:
        items = queue(steward, kind="PERSON", state="OPEN", first=20)
    assert items and all(i["kind"] == "PERSON" and i["state"] == "OPEN" for i in items)
    priorities = [i["priority"] for i in items]
    assert priorities == sorted(priorities, reverse=True)
    first = items[0]
    assert len(first["records"]) == 2 and first["records"][0]["entityId"] != first["records"][1]["entityId"]
    assert all(0 <= i["score"] <= 1 for i in items)
    names = [step["comparison"] for step in first["explanation"]]
    assert "name" in names and all(isinstance(s["weight"], float) for s in first["explanation"])
    assert "*" in str(first["records"][0]["features"].get("id_number", "*"))  # a steward sees masked IDs


def test_a_claim_holds_against_other_stewards(city: City) -> None:
    with city.client(role="steward") as a, city.client(role="steward") as b:
        item = queue(a, state="OPEN", first=1)[0]["id"]
        claimed = data(a, CLAIM, id=item)["claimReviewItem"]
        assert claimed["state"] == "CLAIMED" and claimed["assignee"] == f"steward:{name(a)}"
        assert data(a, CLAIM, id=item)["claimReviewItem"]["state"] == "CLAIMED"  # again: still a's
        assert code(post(b, CLAIM, id=item)) == "CONFLICT"
        assert code(post(b, DECIDE, id=item, d="MATCH")) == "CONFLICT"
        mine = queue(a, assignee=f"steward:{name(a)}")
        assert [i["id"] for i in mine] == [item]
        decided = data(a, DECIDE, id=item, d="NOT_MATCH", n="different mothers")["decideReviewItem"]
        assert decided["state"] == "DECIDED" and decided["decision"] == "NOT_MATCH"
        assert code(post(a, DECIDE, id=item, d="MATCH")) == "CONFLICT"
        assert code(post(a, CLAIM, id="999999")) == "NOT_FOUND"
        assert code(post(a, CLAIM, id="x")) == "BAD_INPUT"
    with Session(city.engine) as session:
        events = {tuple(row) for row in session.execute(select(AuditEvent.actor, AuditEvent.action))}
    assert (claimed["assignee"], "review.claim") in events
    assert (claimed["assignee"], "review.decide") in events


def test_unsure_leaves_the_item_open_with_the_note(city: City) -> None:
    with city.client(role="steward") as steward:
        item = queue(steward, state="OPEN", first=1)[0]["id"]
        data(steward, CLAIM, id=item)
        unsure = data(steward, DECIDE, id=item, d="UNSURE", n="ask the grid worker")["decideReviewItem"]
    assert unsure == {
        "id": item,
        "state": "OPEN",
        "assignee": None,
        "decision": "UNSURE",
        "note": "ask the grid worker",
    }


def _pair(city: City, item_id: str) -> tuple[int, int]:
    with Session(city.engine) as session:
        item = session.get(ReviewItem, int(item_id))
        assert item is not None
        judgement = session.get(Judgement, item.judgement_id)
        assert judgement is not None
        return judgement.record_a_id, judgement.record_b_id


def _entities(city: City, a: int, b: int) -> tuple[str, str]:
    with Session(city.engine) as session:
        current = dict(
            session.execute(
                select(Membership.record_id, Membership.entity_id).where(
                    Membership.record_id.in_([a, b]), Membership.valid_to.is_(None)
                )
            ).all()
        )
    return current[a], current[b]


def page(client: Any, **variables: Any) -> dict[str, Any]:
    return dict(data(client, PAGE, **variables)["reviewItems"])


def ids(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in connection["edges"]]


def test_release_hands_a_claim_back_and_only_its_holder_or_an_admin_may(city: City) -> None:
    with (
        city.client(role="steward") as a,
        city.client(role="steward") as b,
        city.client(role="admin") as admin,
    ):
        holder, chief = f"steward:{name(a)}", f"steward:{name(admin)}"
        item = queue(a, state="OPEN", first=1)[0]["id"]
        assert code(post(a, RELEASE, id=item)) == "CONFLICT"  # nobody holds it
        data(a, CLAIM, id=item)
        refused = post(b, RELEASE, id=item)
        assert code(refused) == "FORBIDDEN" and holder in refused["errors"][0]["message"]
        released = data(a, RELEASE, id=item)["releaseReviewItem"]
        assert released == {"id": item, "state": "OPEN", "assignee": None}
        data(b, CLAIM, id=item)
        assert data(admin, RELEASE, id=item)["releaseReviewItem"] == released  # anyone's, for an admin
    with city.client(role="auditor") as auditor:
        assert code(post(auditor, RELEASE, id=item)) == "FORBIDDEN"
    with Session(city.engine) as session:
        releases = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "review.release").order_by(AuditEvent.id)
        ).all()
    assert list(releases[-2:]) == [holder, chief]


def test_filters_and_band_counts_agree_with_the_items(city: City) -> None:
    with city.client(role="steward") as steward:
        everything = page(steward, first=500)
        bands = {b["band"]: b for b in everything["bands"]}
        assert sum(b["count"] for b in bands.values()) == everything["totalCount"] == len(everything["edges"])
        for band, counted in bands.items():
            items = page(steward, first=500, band=band)
            assert items["totalCount"] == counted["count"] == len(items["edges"])
            top = 1.0 if band == "LIKELY" else counted["high"] - 1e-12
            assert all(counted["low"] <= e["node"]["score"] <= top for e in items["edges"])
        rental = page(steward, first=500, source="rental_registry")
        assert 0 < rental["totalCount"] < everything["totalCount"]
        for edge in rental["edges"]:
            assert "rental_registry" in {r["source"] for r in edge["node"]["records"]}
        assert page(steward, first=500, source="no_such_system")["totalCount"] == 0
        town = page(steward, first=500, town="虞山街道")
        assert 0 < town["totalCount"] < everything["totalCount"]
        assert page(steward, first=500, town="不存在街道")["totalCount"] == 0


def test_keyset_pages_skip_nothing_when_earlier_items_are_decided(city: City) -> None:
    open_states = ["OPEN", "CLAIMED"]
    with city.client(role="steward") as steward:
        before = ids(page(steward, first=500, states=open_states))
        first = page(steward, first=2, states=open_states)
        assert ids(first) == before[:2] and first["pageInfo"]["hasNextPage"]
        for item in ids(first):
            data(steward, DECIDE, id=item, d="UNSURE" if item == before[0] else "NOT_MATCH")
        second = page(steward, first=2, after=first["pageInfo"]["endCursor"], states=open_states)
        assert ids(second) == before[2:4]  # an offset of 2 would now skip two of them
        back = page(steward, last=2, before=second["pageInfo"]["startCursor"], states=open_states)
        assert ids(back) == [before[0]]  # still open (unsure); the other one left the open list
        assert not back["pageInfo"]["hasPreviousPage"]
        assert code(post(steward, PAGE, first=2, after="not-a-cursor")) == "BAD_INPUT"


def test_match_merges_the_two_entities_at_once_larger_surviving(city: City) -> None:
    with city.client(role="steward") as steward:
        item = next(
            i
            for i in queue(steward, kind="PERSON", state="OPEN", first=50)
            if i["records"][0]["entityId"] != i["records"][1]["entityId"]
        )
        a, b = _pair(city, item["id"])
        left, right = _entities(city, a, b)
        sizes = {
            e: city.one("SELECT count(*) FROM membership WHERE entity_id = :e AND valid_to IS NULL", e=e)
            for e in (left, right)
        }
        data(steward, DECIDE, id=item["id"], d="MATCH", n="same person")
        shown = data(
            steward, "query($id: ID!) { reviewItem(id: $id) { state records { entityId } } }", id=item["id"]
        )
    assert _entities(city, a, b)[0] == _entities(city, a, b)[1]
    survivor = _entities(city, a, b)[0]
    assert sizes[survivor] >= max(sizes.values())
    assert {r["entityId"] for r in shown["reviewItem"]["records"]} == {survivor}
    with Session(city.engine) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(2)).all()
    assert list(reversed(actions)) == ["review.decide", "entity.merge"]


def test_not_match_splits_a_shared_entity_at_once(city: City) -> None:
    with city.client(role="steward") as steward:
        item = queue(steward, kind="PERSON", state="OPEN", first=1)[0]["id"]
        a, b = _pair(city, item)
        left, right = _entities(city, a, b)
        with Session(city.engine) as session, session.begin():  # as if a run had joined them
            merge_entities(session, left, None, right, None, "steward:test", "joined for the test")
        assert _entities(city, a, b) == (left, left)
        data(steward, DECIDE, id=item, d="NOT_MATCH", n="a relative, not the same person")
    kept, split_off = _entities(city, a, b)
    assert kept == left and split_off != left
    assert (
        city.one("SELECT count(*) FROM membership WHERE entity_id = :e AND valid_to IS NULL", e=split_off)
        == 1
    )
    with Session(city.engine) as session:
        split, decided = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(2)).all()
        # the steward judged one pair: the split asserts nothing about the records that stay
        asserted = session.scalars(
            select(Judgement.decision).where(Judgement.id.in_(split.after["judgements"]))
        ).all()
    assert [decided.action, split.action] == ["review.decide", "entity.split"]
    assert asserted and set(asserted) == {Decision.NEGATIVE}


def test_decisions_hold_in_every_later_run_and_never_come_back(city: City) -> None:
    # Last in this module: it resolves the shared city again.
    with city.client(role="steward") as steward:
        open_items = queue(steward, kind="PERSON", state="OPEN", first=3)
        match, apart, left_open = (item["id"] for item in open_items)
        data(steward, DECIDE, id=match, d="MATCH", n="same person, old ID card")
        data(steward, DECIDE, id=apart, d="NOT_MATCH")
    list(resolve_kinds(city.engine, [Kind.PERSON]))
    with city.client(role="steward") as steward:  # what a claim of an item no longer open says
        closed = post(steward, CLAIM, id=left_open)["errors"][0]
        decided = post(steward, CLAIM, id=match)["errors"][0]
    assert closed["extensions"]["code"] == "CONFLICT"
    assert closed["message"].startswith(
        f"review item {left_open} was closed already: superseded by resolution run"
    )
    assert decided["message"].startswith(f"review item {match} was decided already (MATCH) by steward:")
    a, b = _pair(city, match)
    left, right = _entities(city, a, b)
    assert left == right
    a, b = _pair(city, apart)
    left, right = _entities(city, a, b)
    assert left != right
    with Session(city.engine) as session:
        reopened = session.scalars(
            select(ReviewItem)
            .join(Judgement, Judgement.id == ReviewItem.judgement_id)
            .where(
                ReviewItem.status != ReviewStatus.DECIDED,
                Judgement.record_a_id == min(a, b),
                Judgement.record_b_id == max(a, b),
            )
        ).all()
    assert reopened == []

"""Kind scopes hold for every steward read and action: a steward scoped to addresses neither lists nor
claims, decides or undoes anything about persons, and the refusal names the action refused."""

from __future__ import annotations

from typing import Any

from api_city import City, data, post
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.domain import EntityStatus, Kind, ReviewStatus
from hub.store.models import Entity, ReviewItem

QUEUE = "query($first: Int) { reviewItems(first: $first) { totalCount edges { node { id kind } } } }"
CLAIM = "mutation($id: ID!) { claimReviewItem(id: $id) { id state } }"
DECIDE = "mutation($id: ID!) { decideReviewItem(id: $id, decision: NOT_MATCH) { id state } }"
OVERRIDE = """mutation($id: ID!, $v: Int!) {
  overrideValue(id: $id, version: $v, field: "name", value: "张三") { eventId } }"""
UNDO = "mutation($e: ID!) { undo(eventId: $e) { eventId } }"


def _error(body: dict[str, Any]) -> dict[str, Any]:
    error: dict[str, Any] = body["errors"][0]
    return error


def _open_item(city: City, kind: Kind) -> str:
    with Session(city.engine) as session:
        item = session.scalar(
            select(ReviewItem.id)
            .where(ReviewItem.kind == kind, ReviewItem.status == ReviewStatus.OPEN)
            .order_by(ReviewItem.id)
        )
    assert item is not None, f"the city has no open {kind.value} review item"
    return str(item)


def test_a_steward_scoped_to_addresses_lists_and_acts_on_address_items_only(city: City) -> None:
    person_item = _open_item(city, Kind.PERSON)
    with city.client("address", role="steward") as steward:
        listed = data(steward, QUEUE, first=500)["reviewItems"]
        assert {e["node"]["kind"] for e in listed["edges"]} <= {"ADDRESS"}  # no person item among them
        assert listed["totalCount"] == city.one("SELECT count(*) FROM review_item WHERE kind = 'address'")
        for mutation in (CLAIM, DECIDE):
            error = _error(post(steward, mutation, id=person_item))
            assert error["extensions"]["code"] == "FORBIDDEN" and "person" in error["message"]
    with Session(city.engine) as session:
        item = session.get(ReviewItem, int(person_item))
        assert item is not None and item.status == ReviewStatus.OPEN and item.assignee is None


def test_a_steward_may_not_undo_an_edit_of_a_kind_outside_its_scope(city: City) -> None:
    with Session(city.engine) as session:
        person, version = session.execute(
            select(Entity.id, Entity.version)
            .where(Entity.kind == Kind.PERSON, Entity.status == EntityStatus.ACTIVE)
            .order_by(Entity.id.desc())
        ).first() or ("", 0)
    with city.client("person", role="steward") as steward:
        event = data(steward, OVERRIDE, id=person, v=version)["overrideValue"]["eventId"]
    with city.client("address", role="steward") as other:
        error = _error(post(other, UNDO, e=event))
    assert error["extensions"]["code"] == "FORBIDDEN" and "person" in error["message"]


def test_a_refusal_names_the_action_refused(city: City) -> None:
    with city.client(role="auditor") as auditor:
        error = _error(post(auditor, OVERRIDE, id="per_x", v=1))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "override golden values" in error["message"] and "review" not in error["message"]

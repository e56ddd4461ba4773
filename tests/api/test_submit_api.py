"""`submitRecords` and `changes` over GraphQL, as a department's system calls them: a writer submits for
its own sources only, and polls the change feed with the cursor each page gives."""

from __future__ import annotations

import json
from typing import Any

from api_city import City, data, post
from sqlalchemy import text
from starlette.testclient import TestClient

from hub.api.inputs import RECORD_INPUTS
from hub.api.schema import ClientRole
from hub.clients import ROLES
from hub.contract import KIND_FIELDS

SUBMIT = """mutation($source: String!, $records: [PersonRecordInput!]!) {
  submitRecords(source: $source, records: {persons: $records}) {
    key outcome entityId unchanged reason } }"""
CHANGES = """query($after: String, $kinds: [EntityKind!], $first: Int!) {
  changes(after: $after, kinds: $kinds, first: $first) {
    entries { cursor change kind entityId otherKind otherId relation linkId version actor at }
    endCursor hasMore } }"""


def _known_person(city: City) -> tuple[dict[str, str], str]:
    with city.engine.connect() as connection:
        payload, entity = connection.execute(
            text(
                "SELECT v.payload, m.entity_id FROM source_record r JOIN source s ON s.id = r.source_id"
                " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
                " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
                " WHERE s.name = 'household_registry' AND r.kind = 'person' ORDER BY r.id LIMIT 1"
            )
        ).one()
    person = json.loads(payload) if isinstance(payload, str) else dict(payload)
    return {"name": person["name"], "idNumber": person["id_number"]}, entity


def _feed(
    client: TestClient, after: str | None = None, kinds: list[str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    entries: list[dict[str, Any]] = []
    while True:
        page = data(client, CHANGES, after=after, kinds=kinds, first=500)["changes"]
        entries += page["entries"]
        after = page["endCursor"]
        if not page["hasMore"]:
            return entries, after


def test_a_writer_submits_for_its_sources_and_the_feed_tells_the_others(city: City) -> None:
    known, entity = _known_person(city)
    reader = city.client()
    _, start = _feed(reader)
    writer = city.client("source:tax", role="writer")
    extra = {"key": "api-2", "name": "上官云飞", "phone": "13655556666", "extra": {"household_number": "88"}}
    records = [{"key": "api-1", **known}, extra, {"key": "x" * 300, "name": "键太长"}, {"name": "无键"}]
    answers = data(writer, SUBMIT, source="tax", records=records)["submitRecords"]
    assert [(a["key"], a["outcome"], a["unchanged"]) for a in answers] == [
        ("api-1", "JOINED", False),
        ("api-2", "CREATED", False),
        ("x" * 300, "QUARANTINED", False),
        (None, "QUARANTINED", False),
    ]
    assert "missing key" in answers[3]["reason"]
    assert answers[0]["entityId"] == entity and "key too long" in answers[2]["reason"]
    again = data(writer, SUBMIT, source="tax", records=records[:2])["submitRecords"]
    assert [(a["entityId"], a["unchanged"]) for a in again] == [(a["entityId"], True) for a in answers[:2]]
    with city.engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT v.payload FROM source_record r JOIN record_version v ON v.record_id = r.id"
                " WHERE r.key = 'api-2'"
            )
        ).scalar_one()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["household_number"] == "88" and stored["phone"] == "13655556666"  # as the contract names
    both = """mutation { submitRecords(source: "tax",
      records: {persons: [{key: "b1"}], addresses: [{key: "b2"}]}) { key } }"""
    assert post(writer, both)["errors"]

    entries, end = _feed(reader, start)
    said = {(e["change"], e["entityId"], e["actor"]) for e in entries}
    assert ("CREATED", answers[1]["entityId"], "INGEST") in said
    assert any(e["change"] == "MERGED" and e["otherId"] == entity for e in entries)  # api-1's own entity
    assert all(e["actor"] in ("INGEST", "RESOLUTION") for e in entries)
    nothing, same = _feed(reader, end)
    assert nothing == [] and same == end


def test_who_may_submit(city: City) -> None:
    record = [{"key": "who-1", "name": "欧阳雪"}]
    for client, source in (
        (city.client(), "tax"),
        (city.client("source:tax", role="steward"), "tax"),
        (city.client("source:rental_registry", role="writer"), "tax"),
    ):
        body = post(client, SUBMIT, source=source, records=record)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    admin = city.client(role="admin")
    assert data(admin, SUBMIT, source="tax", records=record)["submitRecords"][0]["outcome"] == "CREATED"
    persons_only = city.client("person", "source:tax", role="writer")
    addresses = SUBMIT.replace("PersonRecordInput", "AddressRecordInput").replace("persons:", "addresses:")
    body = post(persons_only, addresses, source="tax", records=[{"key": "a"}])
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_feed_shows_a_client_only_the_kinds_it_reads(city: City) -> None:
    everything, _ = _feed(city.client())
    assert {e["kind"] for e in everything} == {"PERSON", "ADDRESS", "LEGAL_ENTITY"}
    people, _ = _feed(city.client("person"))
    assert people and all(e["kind"] == "PERSON" and e["otherKind"] in (None, "PERSON") for e in people)
    assert [e["cursor"] for e in people] == [
        e["cursor"] for e in everything if e["kind"] == "PERSON" and e["otherKind"] in (None, "PERSON")
    ]
    addresses, _ = _feed(city.client(), kinds=["ADDRESS"])
    assert any(e["relation"] == "LIVES_AT" for e in addresses)
    body = post(city.client("person"), CHANGES, after=None, kinds=["ADDRESS"], first=10)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for variables in ({"after": "not-a-cursor", "first": 10}, {"after": None, "first": 0}):
        body = post(city.client(), CHANGES, kinds=None, **variables)
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"


LIST = """query($after: String, $first: Int) { persons(first: $first, after: $after) {
  edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""


def test_every_person_a_page_at_a_time_without_skipping_when_the_graph_changes(city: City) -> None:
    reader = city.client()
    seen: list[str] = []
    after = None
    page_number = 0
    while True:
        page = data(reader, LIST, after=after, first=97)["persons"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if page_number == 1:  # a new person arrives while the department pages: no page skips one
            writer = city.client("source:tax", role="writer")
            data(writer, SUBMIT, source="tax", records=[{"key": "list-new", "name": "澹台明"}])
        page_number += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    with city.engine.connect() as connection:
        active = list(
            connection.execute(
                text("SELECT id FROM entity WHERE kind = 'person' AND status = 'active' ORDER BY id")
            ).scalars()
        )
    # Every person, once, in id order: the one who arrived on the way too (new ids sort last).
    assert seen == active
    total = data(reader, "{ persons(first: 1) { totalCount } }")["persons"]["totalCount"]
    assert total == len(active)
    body = post(reader, LIST, after="bm90LWEtY3Vyc29y", first=5)
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    body = post(city.client("address"), LIST, after=None, first=5)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_enumerable_values_are_enums(city: City) -> None:
    """A typed client gets enums where the values are enumerable: the client's role, a change's
    relation, a judgement's verdict and who gave it."""
    assert {role.value for role in ClientRole} == set(ROLES)
    writer = city.client("source:tax", role="writer")
    assert data(writer, "{ viewer { role scopes } }")["viewer"] == {
        "role": "WRITER",
        "scopes": ["source:tax"],
    }
    types = data(
        city.client(),
        """{ entry: __type(name: "ChangeEntry") { fields { name type { name ofType { name } } } }
             judgement: __type(name: "RecordJudgement") {
               fields { name type { name ofType { name } } } } }""",
    )

    def kinds(fields: list[dict[str, Any]]) -> dict[str, str]:
        return {f["name"]: f["type"]["name"] or f["type"]["ofType"]["name"] for f in fields}

    assert kinds(types["entry"]["fields"])["relation"] == "Relation"
    assert {k: v for k, v in kinds(types["judgement"]["fields"]).items() if k in ("decision", "by")} == {
        "decision": "ReviewDecision",
        "by": "JudgedBy",
    }


def test_the_record_inputs_have_the_contracts_fields() -> None:
    """Each kind's input type has exactly the contract's fields (docs/contract.md §1), a key and extra."""
    for kind, input_type in RECORD_INPUTS.items():
        fields = {f.python_name for f in input_type.__strawberry_definition__.fields}  # type: ignore[attr-defined]
        assert fields == {"key", "extra", *KIND_FIELDS[kind]}, kind

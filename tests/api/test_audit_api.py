"""What auditors read over HTTP: the audit trail and the access log, by filter and page; nobody else."""

from __future__ import annotations

import itertools

import pytest
from api_city import City, data, post
from sqlalchemy.orm import Session

from hub.audit import record_event

EVENTS = """query($actor: String, $action: String, $entity: ID, $since: DateTime, $until: DateTime,
  $first: Int, $after: String) {
  auditEvents(actor: $actor, action: $action, entityId: $entity, since: $since, until: $until,
    first: $first, after: $after) {
    totalCount edges { cursor node { id occurredAt actor action subjectIds before after prevHash hash } }
    pageInfo { hasNextPage endCursor } } }"""
ACCESS = """query($name: String, $entity: ID) { accessLog(client: $name, entityId: $entity) {
  totalCount edges { node { client operation entityIds fields purpose } } } }"""


@pytest.fixture(scope="module")
def merges(city: City) -> list[str]:
    """Three steward events on entities of the city's audit trail (after its resolution runs)."""
    subjects = [["per_a", "per_b"], ["per_b"], ["adr_c"]]
    with Session(city.engine) as session, session.begin():
        for i, subject in enumerate(subjects):
            record_event(
                session, f"steward:{'li' if i < 2 else 'wu'}", "entity.merge", subject, after={"i": i}
            )
    return ["per_a", "per_b", "adr_c"]


@pytest.mark.parametrize("role", ["reader", "steward"])
def test_only_auditors_and_admins_read_the_trail_and_the_log(city: City, role: str) -> None:
    with city.client(role=role) as client:
        for query in (EVENTS, ACCESS):
            body = post(client, query)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert role in body["errors"][0]["message"]


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_the_trail_in_order_chained_and_filtered(city: City, merges: list[str], role: str) -> None:
    with city.client(role=role) as client:
        everything = data(client, EVENTS)["auditEvents"]
        nodes = [e["node"] for e in everything["edges"]]
        assert everything["totalCount"] == len(nodes) >= 6
        assert [int(n["id"]) for n in nodes] == list(range(1, len(nodes) + 1))
        assert all(b["prevHash"] == a["hash"] for a, b in itertools.pairwise(nodes))
        assert {n["action"] for n in nodes} == {"resolution.run", "entity.merge"}

        by_li = data(client, EVENTS, actor="steward:li")["auditEvents"]
        assert by_li["totalCount"] == 2 and {e["node"]["actor"] for e in by_li["edges"]} == {"steward:li"}
        on_b = data(client, EVENTS, entity="per_b")["auditEvents"]
        assert [e["node"]["after"] for e in on_b["edges"]] == [{"i": 0}, {"i": 1}]
        runs = data(client, EVENTS, action="resolution.run")["auditEvents"]
        assert runs["totalCount"] == 3
        assert {e["node"]["after"]["kind"] for e in runs["edges"]} == {"person", "address", "legal_entity"}

        last = nodes[-1]["occurredAt"]
        assert data(client, EVENTS, since=last)["auditEvents"]["totalCount"] >= 1
        assert data(client, EVENTS, until=nodes[0]["occurredAt"])["auditEvents"]["totalCount"] == 0


def test_the_trail_pages_with_cursors(city: City, merges: list[str]) -> None:
    with city.client(role="auditor") as client:
        seen: list[str] = []
        after = None
        while True:
            page = data(client, EVENTS, first=2, after=after)["auditEvents"]
            seen += [e["node"]["id"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [str(i) for i in range(1, page["totalCount"] + 1)]
        for variables, code in (({"after": "nonsense"}, "BAD_INPUT"), ({"first": 501}, "BAD_INPUT")):
            assert post(client, EVENTS, **variables)["errors"][0]["extensions"]["code"] == code
        body = post(client, EVENTS, since="2026-02-01T00:00:00Z", until="2026-01-01T00:00:00Z")
        assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_the_access_log_by_client_and_entity(city: City) -> None:
    entity = city.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " WHERE m.valid_to IS NULL AND r.kind = 'person' ORDER BY r.id LIMIT 1"
    )
    with city.client("pii:read") as reader:
        data(reader, "query Case($id: ID!) { person(id: $id) { idNumber } }", id=entity)
        name = data(reader, "{ viewer { name } }")["viewer"]["name"]
    with city.client(role="auditor") as auditor:
        log = data(auditor, ACCESS, name=name)["accessLog"]
        assert log["totalCount"] == 1
        [entry] = [e["node"] for e in log["edges"]]
        assert entry["client"] == name and entry["entityIds"] == [entity] and entry["fields"] == ["idNumber"]
        assert entry["operation"].startswith("Case:")
        seen_by = {e["node"]["client"] for e in data(auditor, ACCESS, entity=entity)["accessLog"]["edges"]}
        assert name in seen_by
        assert data(auditor, ACCESS, name="no such client")["accessLog"]["totalCount"] == 0

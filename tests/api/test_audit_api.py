"""What auditors read over HTTP: the audit trail and the access log, by filter and page; nobody else."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from api_city import City, data, post
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.audit import record_event

EVENTS = """query($actor: String, $action: String, $entity: ID, $since: DateTime, $until: DateTime,
  $first: Int, $after: String) {
  auditEvents(actor: $actor, action: $action, entityId: $entity, since: $since, until: $until,
    first: $first, after: $after) {
    totalCount edges { cursor node { id occurredAt actor action subjectIds before after prevHash hash } }
    pageInfo { hasNextPage endCursor } } }"""
ACCESS = """query($name: String, $entity: ID) { accessLog(client: $name, entityId: $entity) {
  totalCount edges { node { client operation operationHash operationName variables
    lookups { argument value } entityIds fields purpose } } } }"""


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
        assert entry["operationName"] == "Case" and entry["operation"].startswith("query Case(")
        seen_by = {e["node"]["client"] for e in data(auditor, ACCESS, entity=entity)["accessLog"]["edges"]}
        assert name in seen_by
        assert data(auditor, ACCESS, name="no such client")["accessLog"]["totalCount"] == 0


def a_person(city: City) -> tuple[str, str]:
    """A current person entity and the ID number the hub shows for it."""
    entity = city.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name = 'household_registry'"
        " ORDER BY r.id LIMIT 1"
    )
    with city.client("pii:read") as client:
        id_number = data(client, "query($id: ID!) { person(id: $id) { idNumber } }", id=entity)["person"]
    return entity, id_number["idNumber"]


def sha(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def log_of(city: City, client: TestClient) -> list[dict[str, Any]]:
    """The access-log entries of the client `client`, as an auditor reads them."""
    name = data(client, "{ viewer { name } }")["viewer"]["name"]
    with city.client(role="auditor") as auditor:
        return [e["node"] for e in data(auditor, ACCESS, name=name)["accessLog"]["edges"]]


def test_the_access_log_keeps_what_was_asked_without_the_personal_values(city: City) -> None:
    entity, id_number = a_person(city)
    # A comment longer than the operation column once filled it; the ID number is written into the
    # text once and passed once as a variable of an innocent name.
    query = (
        "# " + "padding " * 40 + "\n"
        "query Case($x: String!, $r: PersonRecordInput!) {"
        f' person: personByIdNumber(idNumber: "{id_number}") {{ idNumber }}'
        " again: personByIdNumber(idNumber: $x) { name }"
        " match(record: {person: $r}) { score } }"
    )
    # A field the contract does not name, but spelled as a phone: digested too.
    record = {
        "name": "某人",
        "idNumber": id_number,
        "phone": "13912345678",
        "extra": {"contactPhone": "13800001111"},
    }
    with city.client("pii:read") as client:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": {"x": id_number, "r": record}},
            headers={"X-Purpose": "case"},
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        [entry] = log_of(city, client)
    assert entry["operationName"] == "Case" and entry["purpose"] == "case"
    assert entry["operation"].startswith(
        "query Case($x:String!$r:PersonRecordInput!){person:personByIdNumber(idNumber:"
    )
    assert entry["operationHash"] == hashlib.sha256(query.encode()).hexdigest()
    assert entry["variables"] == {
        "x": sha(id_number),
        "r": {
            **record,
            "idNumber": sha(id_number),
            "phone": sha("13912345678"),
            "extra": {"contactPhone": sha("13800001111")},
        },
    }
    assert {(x["argument"], x["value"]) for x in entry["lookups"]} == {
        ("idNumber", sha(id_number)),
        ("id_number", sha(id_number)),
        ("phone", sha("13912345678")),
    }
    assert entity in entry["entityIds"]
    logged = orjson.dumps(entry).decode()
    assert id_number not in logged and "13912345678" not in logged and "13800001111" not in logged


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (  # the variable passed in a fragment, not in the operation's own selection
            "query FromFragment($q: String!) { ...F }"
            " fragment F on Query { personByIdNumber(idNumber: $q) { id } }",
            {"q": "110101190001010018"},
        ),
        (  # a record's field written inline, in the API's spelling, holding a variable
            'query Inline($x: String) { match(record: {person: {name: "某人", idNumber: $x}}) { score } }',
            {"x": "110101190001010018"},
        ),
        (
            'query Born($b: String) { match(record: {person: {name: "某人", birthDate: $b}}) { score } }',
            {"b": "1900-01-01"},
        ),
    ],
    ids=["fragment", "inline-record-field", "birth-date"],
)
def test_personal_variables_are_digests_wherever_the_operation_passes_them(
    city: City, query: str, variables: dict[str, str]
) -> None:
    with city.client("pii:read") as client:
        response = client.post("/graphql", json={"query": query, "variables": variables})
        assert "errors" not in response.json(), response.text
        [entry] = log_of(city, client)
    assert entry["variables"] == {name: sha(value) for name, value in variables.items()}


def test_a_lookup_that_finds_nobody_is_logged(city: City) -> None:
    # Asking whether a number is known is itself a read of personal data.
    with city.client("pii:read") as client:
        found = data(
            client,
            "query Who($n: String!) { personByIdNumber(idNumber: $n) { name } }",
            n="110101190001010000",
        )
        assert found["personByIdNumber"] is None
        [entry] = log_of(city, client)
    assert entry["entityIds"] == [] and entry["fields"] == []
    assert entry["lookups"] == [{"argument": "idNumber", "value": sha("110101190001010000")}]
    assert entry["variables"] == {"n": sha("110101190001010000")}


def test_a_purpose_is_one_of_the_configured_codes(city: City) -> None:
    entity, _ = a_person(city)
    query = "query Case($id: ID!) { person(id: $id) { idNumber } }"
    with city.client("pii:read") as client:
        refused = client.post(
            "/graphql", json={"query": query, "variables": {"id": entity}}, headers={"X-Purpose": "curiosity"}
        ).json()
        assert refused["data"] is None
        [error] = refused["errors"]
        assert error["extensions"]["code"] == "BAD_INPUT"
        assert (
            "'curiosity'" in error["message"]
            and "service, case, statistics, audit, maintenance" in error["message"]
        )
        assert log_of(city, client) == []  # nothing was read, so nothing to log
        for header in ({"X-Purpose": "Statistics"}, {}):
            body = client.post("/graphql", json={"query": query, "variables": {"id": entity}}, headers=header)
            assert "errors" not in body.json()
        assert [e["purpose"] for e in log_of(city, client)] == ["statistics", None]


def test_the_purposes_are_configured(city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PURPOSES", "tax-audit, welfare")
    with city.client("pii:read") as client:
        for purpose, code in (("welfare", None), ("case", "BAD_INPUT")):
            body = client.post(
                "/graphql", json={"query": "{ viewer { name } }"}, headers={"X-Purpose": purpose}
            ).json()
            assert (body.get("errors") or [{"extensions": {"code": None}}])[0]["extensions"]["code"] == code
        assert "tax-audit, welfare" in body["errors"][0]["message"]


def test_a_purpose_in_chinese_is_stored_as_written(city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sent as UTF-8 bytes (which HTTP hands over as Latin-1) or percent-encoded, as clients send it.
    monkeypatch.setenv("HUB_PURPOSES", "执法,service")
    entity, _ = a_person(city)
    query = "query Case($id: ID!) { person(id: $id) { idNumber } }"
    with city.client("pii:read") as client:
        for header in ("执法".encode(), "%E6%89%A7%E6%B3%95"):
            body = client.post(
                "/graphql", json={"query": query, "variables": {"id": entity}}, headers={"X-Purpose": header}
            ).json()
            assert "errors" not in body, body
        assert [e["purpose"] for e in log_of(city, client)] == ["执法", "执法"]
        mojibake = "执法".encode().decode("latin-1")  # what a server that did not re-read it stored
        name = data(client, "{ viewer { name } }")["viewer"]["name"]
    by_purpose = "query($name: String, $p: String) { accessLog(client: $name, purpose: $p) { totalCount } }"
    with city.client(role="auditor") as auditor:
        for purpose, count in (("执法", 2), (mojibake, 0), ("service", 0)):
            assert data(auditor, by_purpose, name=name, p=purpose)["accessLog"]["totalCount"] == count


@contextmanager
def a_broken_access_log(city: City) -> Iterator[None]:
    """Inserts into access_log fail, as on a full disk (put back afterwards: the city is shared)."""
    if city.engine.dialect.name == "postgresql":
        create = [
            "CREATE FUNCTION access_log_broken() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$",
            "CREATE TRIGGER access_log_broken BEFORE INSERT ON access_log"
            " FOR EACH ROW EXECUTE FUNCTION access_log_broken()",
        ]
        drop = ["DROP TRIGGER access_log_broken ON access_log", "DROP FUNCTION access_log_broken()"]
    else:
        create = [
            "CREATE TRIGGER access_log_broken BEFORE INSERT ON access_log"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        ]
        drop = ["DROP TRIGGER access_log_broken"]
    with city.engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
    try:
        yield
    finally:
        with city.engine.begin() as connection:
            for statement in drop:
                connection.execute(text(statement))


def test_personal_data_that_cannot_be_logged_is_withheld(
    city: City, caplog: pytest.LogCaptureFixture
) -> None:
    entity, id_number = a_person(city)
    query = "query Case($id: ID!) { person(id: $id) { name idNumber } }"
    with city.client("pii:read") as client, a_broken_access_log(city):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            response = client.post("/graphql", json={"query": query, "variables": {"id": entity}})
        # Data that shows nothing personal needs no log and still comes back.
        assert data(client, "{ viewer { name } }")["viewer"]["name"]
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "ACCESS_LOG_UNAVAILABLE"}
    for leak in (id_number, "INSERT", "access_log", "SQL", "disk"):
        assert leak not in response.text
    failures = [r for r in caplog.records if "access log not written" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "INSERT INTO access_log" in caplog.text

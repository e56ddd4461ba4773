"""The GraphQL endpoint through HTTP: sourceRecord, error codes, /health and the printed schema."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app, schema_sdl
from hub.clients import add_client
from hub.domain import Kind
from hub.ingest import ingest_records

SOURCE_RECORD = """
query ($source: String!, $kind: EntityKind!, $key: String!) {
  sourceRecord(source: $source, kind: $kind, key: $key) {
    source kind key entityId version firstSeenAt flags { field reason } payload features
  }
}
"""


def create_client(engine: Engine, *scopes: str) -> TestClient:
    """An HTTP client of the app carrying the token of a newly registered reader with `scopes`."""
    with Session(engine) as session, session.begin():
        token = add_client(session, f"test-{uuid.uuid4().hex[:8]}", "reader", scopes)
    return TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})


def post(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_records(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        ingest_records(
            session,
            "household_registry",
            Kind.PERSON,
            [{"key": "4711", "name": "王伟", "id_number": "110105194912310021"}],
        )
        ingest_records(session, "doorplate_platform", Kind.ADDRESS, [{"key": "D1", "address": "虞山街道1号"}])


def test_source_record_gives_the_entity_and_flags(engine: Engine) -> None:
    create_records(engine)
    with create_client(engine) as client:
        body = post(client, SOURCE_RECORD, source="household_registry", kind="PERSON", key="4711")
    assert "errors" not in body
    record = body["data"]["sourceRecord"]
    assert record["source"] == "household_registry"
    assert record["kind"] == "PERSON"
    assert record["key"] == "4711"
    assert record["entityId"].startswith("per_")
    assert record["version"] == 1
    # the reason quotes the check characters, which complete a masked number: masked too
    assert record["flags"] == [{"field": "id_number", "reason": "check digit *, expected *"}]
    assert record["payload"] == {"key": "4711", "name": "王伟", "id_number": "110105********0021"}
    assert record["features"]["id_number"] == "110105********0021"
    assert record["features"]["id_number_valid"] is False
    with create_client(engine, "pii:read") as client:
        body = post(client, SOURCE_RECORD, source="household_registry", kind="PERSON", key="4711")
    assert body["data"]["sourceRecord"]["flags"] == [
        {"field": "id_number", "reason": "check digit 1, expected X"}
    ]


def test_source_record_matches_the_crosswalk(engine: Engine) -> None:
    from hub.export import crosswalk_rows

    create_records(engine)
    rows = {(s, k, key): entity for s, k, key, entity in crosswalk_rows(engine)}
    with create_client(engine) as client:
        body = post(client, SOURCE_RECORD, source="doorplate_platform", kind="ADDRESS", key="D1")
    assert body["data"]["sourceRecord"]["entityId"] == rows[("doorplate_platform", "address", "D1")]


@pytest.mark.parametrize(
    ("source", "kind", "key"),
    [
        ("household_registry", "ADDRESS", "4711"),
        ("tax", "PERSON", "4711"),
        ("household_registry", "PERSON", "x"),
    ],
)
def test_unknown_source_record_is_null(engine: Engine, source: str, kind: str, key: str) -> None:
    create_records(engine)
    with create_client(engine) as client:
        body = post(client, SOURCE_RECORD, source=source, kind=kind, key=key)
    assert body == {"data": {"sourceRecord": None}}


def test_bad_variable_value_gets_a_coded_error(engine: Engine) -> None:
    with create_client(engine) as client:
        body = post(client, SOURCE_RECORD, source="tax", kind="COMPANY", key="1")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert "COMPANY" in error["message"]


def test_bad_inline_argument_fails_validation_with_a_code(engine: Engine) -> None:
    with create_client(engine) as client:
        body = post(client, '{ sourceRecord(source: "tax", kind: COMPANY, key: "1") { key } }')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "COMPANY" in error["message"]


def test_several_operations_need_the_name_of_the_one_to_run(engine: Engine) -> None:
    """The GraphQL specification's rule: without `operationName` a document of two operations is an
    error, not its first operation run (what a client meant cannot be guessed)."""
    two = "query Mine { viewer { name } } query Role { viewer { role } }"
    with create_client(engine) as client:
        for _ in range(2):  # the second time from the cache of checked documents
            [error] = post(client, two)["errors"]
            assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert "operation name" in error["message"]
        response = client.post("/graphql", json={"query": two, "operationName": "Role"})
        assert response.json() == {"data": {"viewer": {"role": "READER"}}}


def _client_of(engine: Engine, role: str) -> TestClient:
    with Session(engine) as session, session.begin():
        token = add_client(session, f"test-{uuid.uuid4().hex[:8]}", role)
    return TestClient(create_app(engine), headers={"Authorization": f"Bearer {token}"})


def _cursor(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("role", "query"),
    [
        ("reader", '{ person(id: "per_1", asOf: "yesterday") { id } }'),
        ("reader", '{ person(id: "per_1", asOf: "0001-01-01T00:00:00+14:00") { id } }'),
        ("reader", '{ person(id: "per_1", asOf: "9999-12-31T23:59:59-05:00") { id } }'),
        ("auditor", '{ accessLog(since: "bad") { edges { node { id } } } }'),
        ("auditor", '{ auditEvents(until: "9999-12-31T23:59:59-01:00") { edges { node { id } } } }'),
        ("auditor", '{ accessLog(after: "' + _cursor("i:²") + '") { edges { node { id } } } }'),
        ("steward", '{ reviewItem(id: "²") { id } }'),
        ("steward", '{ reviewItem(id: "99999999999999999999999") { id } }'),
    ],
)
def test_odd_times_ids_and_cursors_are_bad_input_not_internal(engine: Engine, role: str, query: str) -> None:
    """A digit Python reads as one and int() does not ("²"), a number past a 64-bit key, a time no
    zone can hold: the caller's mistake, said as such, not an unexpected error."""
    with _client_of(engine, role) as client:
        [error] = post(client, query)["errors"]
    assert error["extensions"]["code"] in ("BAD_INPUT", "GRAPHQL_VALIDATION_FAILED"), error


def test_a_time_given_as_a_variable_is_checked_alike(engine: Engine) -> None:
    with create_client(engine) as client:
        body = post(
            client,
            'query($t: DateTime) { person(id: "per_1", asOf: $t) { id } }',
            t="9999-12-31T23:59:59-05:00",
        )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT" and "9999" in error["message"]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "said"),
    [
        (
            {"content": b"{ viewer { name } }", "headers": {"Content-Type": "application/graphql"}},
            415,
            "JSON",
        ),
        ({"json": {}}, 400, "no GraphQL query"),
        ({"json": {"query": "{ viewer { name } }", "operationName": "Nope"}}, 400, "Nope"),
    ],
    ids=["not-json", "no-query", "unknown-operation"],
)
def test_a_request_the_view_refuses_gets_a_coded_json_error(
    engine: Engine, request_kwargs: dict[str, Any], status: int, said: str
) -> None:
    """What a client's JSON parser reads, as for every other refusal, not the view's plain text."""
    with create_client(engine) as client:
        response = client.post("/graphql", **request_kwargs)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_INPUT" and said in error["message"]


def test_a_mutation_sent_as_get_is_405_with_its_allowed_method(engine: Engine) -> None:
    with create_client(engine) as client:
        response = client.get("/graphql", params={"query": 'mutation { undo(eventId: "1") { eventId } }'})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_syntax_error_gets_a_coded_error(engine: Engine) -> None:
    with create_client(engine) as client:
        response = client.post("/graphql", json={"query": "{ sourceRecord(source: "})
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_health_reports_the_database(engine: Engine) -> None:
    with create_client(engine) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_graphiql_is_served_to_browsers(engine: Engine) -> None:
    with create_client(engine) as client:
        response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_federation_service_sdl(engine: Engine) -> None:
    with create_client(engine) as client:
        body = post(client, "{ _service { sdl } }")
    assert (
        "sourceRecord(source: String!, kind: EntityKind!, key: String!): SourceRecord"
        in (body["data"]["_service"]["sdl"])
    )


def test_schema_graphql_is_current() -> None:
    checked_in = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == schema_sdl(), "schema.graphql is stale: run `hub schema > schema.graphql`"

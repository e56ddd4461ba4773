"""Traces (the optional extra `otel`): a request, its GraphQL operation, resolvers and statements each
get a span, collected here by OpenTelemetry's in-memory exporter, and no span holds a personal value."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from api_city import City
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.clients import add_client

trace = pytest.importorskip("opentelemetry.sdk.trace", reason="the optional extra otel is not installed")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


def _person(city: City) -> dict[str, Any]:
    with city.engine.connect() as connection:
        payload = connection.execute(
            text(
                "SELECT v.payload FROM source_record r JOIN source s ON s.id = r.source_id"
                " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
                " WHERE s.name = 'household_registry' AND r.kind = 'person' ORDER BY r.id LIMIT 1"
            )
        ).scalar_one()
    return json.loads(payload) if isinstance(payload, str) else dict(payload)


def test_requests_operations_resolvers_and_statements_have_spans_without_personal_values(city: City) -> None:
    exporter = InMemorySpanExporter()
    provider = trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"traced-{uuid.uuid4().hex[:6]}", "reader", ["pii:read"])
    person = _person(city)
    number, phone = person["id_number"], person.get("phone") or "13912345678"
    app = create_app(city.engine, tracer_provider=provider)
    queries = [
        # An ID number written into the text, one passed as a variable, a phone in a match record.
        (f'query Written {{ personByIdNumber(idNumber: "{number}") {{ id name idNumber }} }}', {}),
        ("query Passed($n: String!) { searchPersons(idNumber: $n) { person { id } } }", {"n": number}),
        (
            "query Matched($r: PersonRecordInput!) { match(record: {person: $r}) { score } }",
            {"r": {"name": person["name"], "phone": phone}},
        ),
        # A name, an address's text and a source key find a person as well as an ID number does.
        ("query Named($n: String) { searchPersons(name: $n, first: 3) { score } }", {"n": person["name"]}),
        ("query Placed($t: String!) { searchAddresses(text: $t) { score } }", {"t": person["address"]}),
        (
            'query Keyed($k: String!) { sourceRecord(source: "household_registry", kind: PERSON, key: $k)'
            " { key } }",
            {"k": person["key"]},
        ),
        # Digits in an operation's name are elided as in the metrics.
        (f"query Q{number[:17]} {{ viewer {{ name }} }}", {}),
    ]
    with TestClient(app, headers={"Authorization": f"Bearer {token}", "X-Purpose": "case"}) as client:
        for query, variables in queries:
            body = client.post("/graphql", json={"query": query, "variables": variables}).json()
            assert "errors" not in body, body
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert any(n.startswith("POST /graphql") for n in names), names  # the request
    operations = [s for s in spans if s.name.startswith("GraphQL Query")]
    assert {s.name for s in operations} >= {"GraphQL Query: Written", "GraphQL Query: Passed"}
    assert any(n in ("personByIdNumber", "searchPersons", "match") for n in names) or any(
        "graphql.path" in (s.attributes or {}) for s in spans
    )
    statements = [
        s
        for s in spans
        if (s.attributes or {}).get("db.statement") or "db.query.text" in (s.attributes or {})
    ]
    assert statements, names
    request = next(s for s in spans if s.name.startswith("POST /graphql"))
    assert any(s.context.trace_id == request.context.trace_id for s in operations)  # one trace per request
    everything = json.dumps(
        [{k: str(v) for k, v in (s.attributes or {}).items()} for s in spans], ensure_ascii=False
    )
    everything += " ".join(s.name for s in spans)
    assert number not in everything and phone not in everything and number[:17] not in everything
    for text_value in (person["name"], person["address"], person["key"]):
        assert text_value not in everything, text_value
    assert "Written" in everything  # the operations are there, their literals elided
    firsts = [s for s in spans if (s.attributes or {}).get("graphql.param.first") == 3]
    assert firsts  # plain arguments are kept


def test_the_servers_own_pools_are_traced_and_probes_are_not(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hub serve` builds two engines (reads, writes); both run statements worth a span. `/health`
    and `/metrics`, called every few seconds by probes and scrapers, get none."""
    exporter = InMemorySpanExporter()
    provider = trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"traced-{uuid.uuid4().hex[:6]}", "reader")
    monkeypatch.setenv("HUB_DATABASE_URL", city.engine.url.render_as_string(hide_password=False))
    app = create_app(tracer_provider=provider)  # the server's own two pools
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/health").status_code == 200
        client.get("/metrics")
        assert not exporter.get_finished_spans()
        body = client.post(
            "/graphql", json={"query": "{ persons(first: 2) { edges { node { id name } } } }"}
        ).json()
        assert "errors" not in body, body
    spans = exporter.get_finished_spans()
    statements = [s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name == "hub.sql"]
    assert statements, [s.name for s in spans]


def test_traces_without_the_extra_or_a_collector_are_off_by_default(city: City) -> None:
    app = create_app(city.engine)
    assert not any(
        "OpenTelemetry" in type(m.cls).__name__ or "OpenTelemetry" in str(m.cls) for m in app.user_middleware
    )


def test_a_traced_lookup_is_resolved_field_by_field_with_a_span_per_field(city: City) -> None:
    """A lookup of a known shape is answered in one pass (hub.api.planned), except when traced: then
    every field still gets its span."""
    exporter = InMemorySpanExporter()
    provider = trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"traced-{uuid.uuid4().hex[:6]}", "reader")
    address = city.one(
        "SELECT object_id FROM link WHERE relation = 'lives_at' AND valid_to IS NULL ORDER BY id LIMIT 1"
    )
    query = "query Hops($id: ID!) { address(id: $id) { id text residents { person { id name } } } }"
    app = create_app(city.engine, tracer_provider=provider)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        # twice: the second time the query's text is known, which alone would answer it in one pass
        for _ in range(2):
            exporter.clear()
            body = client.post("/graphql", json={"query": query, "variables": {"id": address}}).json()
            assert body["data"]["address"]["residents"], body
            paths = {str((s.attributes or {}).get("graphql.path")) for s in exporter.get_finished_spans()}
            assert {"address", "address.text", "address.residents"} <= paths, paths


def test_spans_still_in_the_batch_are_sent_when_the_server_stops(city: City) -> None:
    """A server stopped (systemd's SIGTERM) sends the spans its batch still holds, not only those of
    requests older than the batch's delay."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = InMemorySpanExporter()
    provider = trace.TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"traced-{uuid.uuid4().hex[:6]}", "reader")
    app = create_app(city.engine, tracer_provider=provider)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        body = client.post("/graphql", json={"query": "query Last { viewer { name } }"}).json()
        assert "errors" not in body, body
        assert not exporter.get_finished_spans()  # still in the batch
    assert "GraphQL Query: Last" in {s.name for s in exporter.get_finished_spans()}
    provider.shutdown()

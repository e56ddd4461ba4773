"""`/metrics`: counts per operation, client and code, read from the database at each scrape, and
readable only from the allowed addresses or with an ops client's token."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from api_city import City, data, post
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from hub.api import create_app
from hub.api.metrics import MAX_OPERATIONS, MAX_OPERATIONS_PER_CLIENT, forget_dead_processes, operation_name
from hub.clients import add_client
from hub.domain import ReviewStatus
from hub.store.models import AuditEvent, IngestRun, ResolutionRun, ReviewItem

LOCAL = ("127.0.0.1", 50000)
FORBIDDEN_LOOKUP = "query ByIdNumber($i: String!) { personByIdNumber(idNumber: $i) { id } }"


def _token(city: City, role: str = "reader", *scopes: str) -> tuple[str, str]:
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    with Session(city.engine) as session, session.begin():
        return name, add_client(session, name, role, scopes)


def _caller(app: Starlette, token: str, address: tuple[str, int] = ("testclient", 50000)) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, client=address)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Each sample of an exposition by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _scrape(app: Starlette) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = TestClient(app, client=LOCAL).get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return _samples(response.text)


def test_requests_are_counted_per_operation_client_and_code(city: City) -> None:
    app = create_app(city.engine)
    name, token = _token(city)
    with _caller(app, token) as client:
        for _ in range(2):
            assert data(client, "query WhoAmI { viewer { name } }")["viewer"]["name"] == name
        body = post(client, FORBIDDEN_LOOKUP, i="110101190001010018")
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert data(client, "{ viewer { role } }")
    samples = _scrape(app)
    ok = {"operation": "WhoAmI", "client": name, "code": "OK"}
    refused = {"operation": "ByIdNumber", "client": name, "code": "FORBIDDEN"}
    anonymous = {"operation": "anonymous", "client": name, "code": "OK"}
    assert _value(samples, "hub_graphql_requests_total", **ok) == 2
    assert _value(samples, "hub_graphql_requests_total", **refused) == 1
    assert _value(samples, "hub_graphql_requests_total", **anonymous) == 1
    assert _value(samples, "hub_graphql_request_duration_seconds_count", **ok) == 2
    assert _value(samples, "hub_graphql_request_duration_seconds_bucket", **ok, le="+Inf") == 2
    assert (_value(samples, "hub_graphql_request_duration_seconds_sum", **refused) or 0) > 0
    assert _value(samples, "hub_graphql_requests_in_flight") == 0
    # another app has a registry of its own
    assert _value(_scrape(create_app(city.engine)), "hub_graphql_requests_total", **ok) is None


def test_requests_refused_before_graphql_are_counted_with_their_code(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_API_RATE", "0.001")
    monkeypatch.setenv("HUB_API_BURST", "1")
    app = create_app(city.engine)
    name, token = _token(city)
    with _caller(app, token) as client:
        assert client.post("/graphql", json={"query": "{ viewer { name } }"}).status_code == 200
        assert client.post("/graphql", json={"query": "{ viewer { name } }"}).status_code == 429
    with TestClient(app) as anybody:
        assert anybody.post("/graphql", json={"query": "{ viewer { name } }"}).status_code == 401
    monkeypatch.setenv("HUB_API_RATE", "0")
    unlimited = create_app(city.engine)
    with _caller(unlimited, token) as client:
        malformed = client.post("/graphql", content=b"query=1", headers={"Content-Type": "text/plain"})
    assert malformed.status_code == 415  # coded as every refusal is, not strawberry's plain text
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    status = {"operation": "-", "client": name, "code": "BAD_INPUT"}
    assert _value(_scrape(unlimited), "hub_graphql_requests_total", **status) == 1
    samples = _scrape(app)
    limited = {"operation": "-", "client": name, "code": "RATE_LIMITED"}
    assert _value(samples, "hub_graphql_requests_total", **limited) == 1
    assert _value(samples, "hub_rate_limit_refusals_total", limit="requests") == 1
    assert _value(samples, "hub_rate_limit_refusals_total", limit="client_slots") == 0
    unauthenticated = {"operation": "-", "client": "-", "code": "UNAUTHENTICATED"}
    assert _value(samples, "hub_graphql_requests_total", **unauthenticated) == 1


def test_the_database_is_read_at_each_scrape(city: City) -> None:
    app = create_app(city.engine)
    samples = _scrape(app)
    assert _value(samples, "hub_database_up") == 1
    with Session(city.engine) as session:
        chain = session.scalar(select(func.count()).select_from(AuditEvent))
        ingests = session.execute(
            select(
                IngestRun.kind,
                func.count(),
                func.sum(IngestRun.new + IngestRun.changed + IngestRun.unchanged + IngestRun.quarantined),
            ).group_by(IngestRun.kind)
        ).all()
        resolutions = session.scalar(select(func.count()).select_from(ResolutionRun))
        open_items = session.scalar(
            select(func.count()).select_from(ReviewItem).where(ReviewItem.status != ReviewStatus.DECIDED)
        )
    assert chain and _value(samples, "hub_audit_chain_length") == chain
    assert len(ingests) == 3
    for kind, runs, rows in ingests:
        assert _value(samples, "hub_ingest_runs_total", kind=kind.value) == runs
        read = sum(
            _value(samples, "hub_ingest_records_total", kind=kind.value, outcome=outcome) or 0
            for outcome in ("new", "changed", "unchanged", "quarantined")
        )
        assert read == rows
        assert (_value(samples, "hub_ingest_last_run_seconds", kind=kind.value) or -1) >= 0
    assert resolutions and _total(samples, "hub_resolution_runs_total") == resolutions
    assert (_value(samples, "hub_resolution_last_run_records", kind="person") or 0) > 0
    assert open_items and _total(samples, "hub_review_items_open") == open_items
    for kind_label in ("person", "address", "legal_entity"):  # every series there, at 0 when none waits
        for status in ("open", "claimed"):
            assert _value(samples, "hub_review_items_open", kind=kind_label, status=status) is not None
    assert not any(name.endswith("_created") for name, _ in samples)
    size = _value(samples, "hub_db_pool_size", pool="reads+writes")  # the test's engine serves both
    assert size is not None and size > 0
    assert _value(samples, "hub_db_pool_checked_out", pool="reads+writes") == 0


def _total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


def test_metrics_are_refused_to_other_addresses_unless_the_client_is_ops(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(city.engine)
    _, reader = _token(city)
    _, ops = _token(city, "ops")
    refused = TestClient(app).get("/metrics")  # the test client's address is "testclient"
    assert refused.status_code == 403
    assert refused.text.count("\n") == 1 and "HUB_METRICS_ALLOW" in refused.text
    assert _caller(app, reader).get("/metrics").status_code == 403
    assert _caller(app, "hub_not-a-token").get("/metrics").status_code == 403
    allowed = _caller(app, ops).get("/metrics")
    assert allowed.status_code == 200 and "hub_graphql_requests_in_flight" in allowed.text
    assert TestClient(app, client=("::1", 1)).get("/metrics").status_code == 200

    monkeypatch.setenv("HUB_METRICS_ALLOW", "10.0.0.0/8, 192.0.2.7")
    assert TestClient(app, client=("10.20.30.40", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=("192.0.2.7", 1)).get("/metrics").status_code == 200
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 403
    assert _caller(app, ops, LOCAL).get("/metrics").status_code == 200

    monkeypatch.setenv("HUB_METRICS_ALLOW", "")
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 403


def test_an_ops_client_reads_nothing_over_graphql_but_who_it_is(city: City) -> None:
    name, ops = _token(city, "ops")
    with _caller(create_app(city.engine), ops) as client:
        assert data(client, "{ viewer { name role } }")["viewer"] == {"name": name, "role": "OPS"}
        body = post(client, '{ person(id: "per_x") { id } }')
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("given", "label"),
    [
        (None, "anonymous"),
        ("", "anonymous"),
        ("CityLookup", "CityLookup"),
        ("x" * 100, "x" * 64),
        ("by320582199001011234", "by_"),
        ("has space", "invalid"),
        ("查询", "invalid"),
    ],
)
def test_operation_names_are_normalized(given: str | None, label: str) -> None:
    assert operation_name(given) == label


def test_distinct_operation_names_are_capped_per_client_and_in_all(city: City) -> None:
    app = create_app(city.engine)
    clients = [_token(city) for _ in range(MAX_OPERATIONS // MAX_OPERATIONS_PER_CLIENT + 1)]
    (first, first_token), *others, (last, last_token) = clients
    with _caller(app, first_token) as client:  # one client generating names: past its share, `other`
        for index in range(MAX_OPERATIONS_PER_CLIENT + 5):
            client.post("/graphql", json={"query": f"query Op{index} {{ __typename }}"})
    for number, (_, token) in enumerate(others):  # the others' names still count, up to the whole cap
        with _caller(app, token) as client:
            for index in range(MAX_OPERATIONS_PER_CLIENT):
                client.post("/graphql", json={"query": f"query Client{number}Op{index} {{ __typename }}"})
    with _caller(app, last_token) as client:  # every name taken: later ones are `other` for anyone
        client.post("/graphql", json={"query": "query LastOne { __typename }"})
        client.post("/graphql", json={"query": "query Op3 { __typename }"})  # a name already counted
    samples = _scrape(app)
    operations = {
        dict(labels)["operation"] for (n, labels), _ in samples.items() if n == "hub_graphql_requests_total"
    }
    assert len(operations) == MAX_OPERATIONS + 1
    assert _value(samples, "hub_graphql_requests_total", operation="other", client=first, code="OK") == 5
    assert _value(
        samples, "hub_graphql_requests_total", operation="Client0Op49", client=others[0][0], code="OK"
    )
    assert _value(samples, "hub_graphql_requests_total", operation="other", client=last, code="OK") == 1
    assert _value(samples, "hub_graphql_requests_total", operation="Op3", client=last, code="OK") == 1


def test_a_lookup_over_the_personal_rate_is_counted_as_its_refusal(city: City) -> None:
    app = create_app(city.engine)
    name, token = _token(city, "reader", "pii:lookup")
    # a burst of 10 lookups per client (HUB_PII_LOOKUP_BURST): the last of 12 aliases are refused
    aliases = " ".join(
        f'a{n}: personByIdNumber(idNumber: "11010119000101001{n % 10}") {{ id }}' for n in range(12)
    )
    with _caller(app, token) as client:
        body = post(client, f"query Many {{ {aliases} }}")
    assert {error["extensions"]["code"] for error in body["errors"]} == {"RATE_LIMITED"}
    samples = _scrape(app)
    assert _value(samples, "hub_rate_limit_refusals_total", limit="pii_lookups") == 1
    assert _value(samples, "hub_rate_limit_refusals_total", limit="requests") == 0
    limited = {"operation": "Many", "client": name, "code": "RATE_LIMITED"}
    assert _value(samples, "hub_graphql_requests_total", **limited) == 1


def test_a_killed_workers_requests_in_flight_are_forgotten_and_its_counts_kept(tmp_path: Path) -> None:
    """With several workers (`hub serve --workers N`) each keeps its values in a file of the shared
    directory; one killed leaves its in-flight gauge behind until a later process drops it."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    alive = os.getpid()
    for name in (
        f"gauge_livesum_{ended.pid}.db",
        f"gauge_livesum_{alive}.db",
        f"counter_{ended.pid}.db",
        f"histogram_{ended.pid}.db",
    ):
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_processes(str(tmp_path)) == [ended.pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"gauge_livesum_{alive}.db", f"counter_{ended.pid}.db", f"histogram_{ended.pid}.db"]
    )


def test_an_ops_scrape_from_afar_shows_a_database_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The scrape that matters most is the one during an outage: a remote scraper's ops token, checked
    in the database before, still reads `hub_database_up 0`; a token never checked gets 503, not 500."""
    from sqlalchemy import Engine

    from hub.store.database import make_engine
    from hub.store.migrations import upgrade

    path = tmp_path / "hub.db"
    engine: Engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as session, session.begin():
        ops = add_client(session, "prometheus", "ops")
        reader = add_client(session, "someone", "reader")
    app = create_app(engine)
    remote = ("192.0.2.9", 40000)
    with _caller(app, ops, remote) as scraper, _caller(app, reader, remote) as other:
        assert _value(_samples(scraper.get("/metrics").text), "hub_database_up") == 1
        engine.dispose()  # the database is lost
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(b"not a database any more")
        during = scraper.get("/metrics")
        assert during.status_code == 200, during.text
        assert _value(_samples(during.text), "hub_database_up") == 0
        refused = other.get("/metrics")
        assert refused.status_code == 503 and "cannot be read" in refused.text
        health = scraper.get("/health")  # and the probe says so, with the reason in the log only
        assert health.status_code == 503 and health.json()["status"] == "error"
        assert any(r.name == "hub.health" and "not a database" in r.getMessage() for r in caplog.records)
    engine.dispose()

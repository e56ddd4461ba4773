"""One JSON line per request on `hub.request`, its id in `X-Request-Id`, and no personal value in any
log line."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import sys
import time
import uuid
from typing import Any

import pytest
from api_city import City, data, post
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.api.logs import JsonFormatter, shape_hash
from hub.clients import add_client
from hub.domain import Kind
from hub.store.models import RecordVersion, SourceRecord

BY_ID = "query PersonById($i: String!) { personByIdNumber(idNumber: $i) { id name idNumber phone } }"
SEARCH = (
    "query Search($i: String, $p: String, $n: String) { searchPersons(idNumber: $i, phone: $p, name: $n)"
    " { score person { id name idNumber phone birthDate } } }"
)
MATCH = (
    "query Match($r: PersonRecordInput!) { match(record: {person: $r}) { entity { id } score"
    " explanation { comparison level weight } } }"
)
PERSON = "query($id: ID!) { person(id: $id) { id name idNumber phone birthDate } }"


def _client(city: City, *scopes: str) -> tuple[str, TestClient]:
    name = f"log-{uuid.uuid4().hex[:8]}"
    with Session(city.engine) as session, session.begin():
        token = add_client(session, name, "reader", scopes)
    return name, TestClient(create_app(city.engine), headers={"Authorization": f"Bearer {token}"})


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "hub.request"]


def test_each_request_is_one_json_line_with_its_outcome(city: City, caplog: pytest.LogCaptureFixture) -> None:
    name, client = _client(city)
    query = 'query Hello { viewer { name } node(id: "per_missing") { id } }'
    with client, caplog.at_level(logging.INFO, logger="hub.request"):
        ok = client.post("/graphql", json={"query": query})
        refused = client.post("/graphql", json={"query": BY_ID, "variables": {"i": "110101190001010018"}})
        client.get("/health")
    lines = _request_lines(caplog)
    assert [line["path"] for line in lines] == ["/graphql", "/graphql", "/health"]
    first, second, health = lines
    assert first["request_id"] == ok.headers["X-Request-Id"]
    assert first["client"] == name and first["operation"] == "Hello" and first["code"] == "OK"
    assert first["status"] == 200 and first["method"] == "POST" and first["duration_ms"] > 0
    assert first["logger"] == "hub.request" and first["level"] == "INFO"
    assert re.fullmatch(r"[0-9a-f]{12}", first["operation_hash"])
    assert first["entities"] == 0  # the node was not found
    assert second["request_id"] == refused.headers["X-Request-Id"] != first["request_id"]
    assert second["operation"] == "PersonById" and second["code"] == "FORBIDDEN"
    assert "operation" not in health and health["status"] == 200 and health["client"] is None


def test_the_entities_in_an_answer_are_counted(city: City, caplog: pytest.LogCaptureFixture) -> None:
    _, client = _client(city)
    with client, caplog.at_level(logging.INFO, logger="hub.request"):
        found = data(
            client, "query Page { persons(first: 3) { edges { node { id sourceRecords { key } } } } }"
        )
    assert len(found["persons"]["edges"]) == 3
    assert _request_lines(caplog)[-1]["entities"] == 3  # the entities, each with an id


def test_a_refused_request_is_logged_with_its_code(city: City, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app(city.engine)) as client, caplog.at_level(logging.INFO, logger="hub.request"):
        response = client.post("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 401
    (line,) = _request_lines(caplog)
    assert line["status"] == 401 and line["code"] == "UNAUTHENTICATED" and line["client"] is None
    assert line["operation"] is None and line["request_id"] == response.headers["X-Request-Id"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("3f2c9a1e-7b4d-4a8e-9c1f-2d3e4f5a6b7c", True),
        ("gateway.trace:42_a-b", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("two words", False),
        ('quote"', False),
        ("-leading-dash", False),
        ("", False),
    ],
)
def test_the_request_id_is_the_callers_when_it_is_a_sane_token(city: City, given: str, kept: bool) -> None:
    with TestClient(create_app(city.engine)) as client:
        response = client.get("/health", headers={"X-Request-Id": given})
        generated = client.get("/health")
    returned = response.headers["X-Request-Id"]
    if kept:
        assert returned == given
    else:
        assert returned != given and re.fullmatch(r"[0-9a-f]{32}", returned)
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-Id"])
    assert generated.headers["X-Request-Id"] != returned


def test_a_request_line_has_the_record_logger_info_would_make(
    city: City, caplog: pytest.LogCaptureFixture
) -> None:
    """The request's record is made without `Logger.info`, more cheaply: a handler or formatter of the
    operator's finds every attribute, with the values `Logger.info` would give them."""
    _, client = _client(city)
    with client, caplog.at_level(logging.INFO, logger="hub.request"):
        before = time.time()
        client.post("/graphql", json={"query": "query Hello { viewer { name } }"})
        after = time.time()
    (record,) = [r for r in caplog.records if r.name == "hub.request"]
    extra = {k: v for k, v in record.__dict__.items() if k in _request_lines(caplog)[0]}
    extra = {k: v for k, v in extra.items() if k not in ("time", "level", "logger", "message", "pid")}
    assert {"request_id", "status", "duration_ms", "operation", "entities"} <= set(extra)
    reference = logging.getLogger("hub.request").makeRecord(
        "hub.request", logging.INFO, record.pathname, record.lineno, "request", (), None, "__call__", extra
    )
    formatted = {"message", "asctime"}  # set on the record by the handlers that formatted it
    assert set(record.__dict__) - formatted == set(reference.__dict__)
    per_record = {"created", "msecs", "relativeCreated", "thread", "threadName", *formatted}
    assert {k: v for k, v in record.__dict__.items() if k not in per_record} == {
        k: v for k, v in reference.__dict__.items() if k not in per_record
    }
    assert record.funcName == "__call__" and record.pathname.endswith(
        ("hub/api/logs.py", "hub\\api\\logs.py")
    )
    assert record.getMessage() == "request" and record.process == os.getpid()
    assert before <= record.created <= after and record.msecs == int(record.created % 1 * 1000)
    assert record.thread is not None and record.threadName
    assert abs(record.relativeCreated - reference.relativeCreated) < (after - before) * 1000 + 1000


def test_request_ids_are_unique_across_worker_processes() -> None:
    """Each worker process draws its own prefix (a server's workers are spawned; a forked child draws a
    new one too)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        ids = pool.map(_ids, [3, 3])
    ids.append(_ids(3))
    prefixes = {i[:16] for run in ids for i in run}
    assert len(prefixes) == 3 and len({i for run in ids for i in run}) == 9


def _ids(n: int) -> list[str]:
    from hub.api.logs import _new_id

    return [_new_id() for _ in range(n)]


def test_the_operation_hash_is_the_queries_shape_without_its_literals(city: City) -> None:
    from graphql import parse

    one = '{ personByIdNumber(idNumber: "110101190001010018") { id } }'
    other = '{ personByIdNumber(idNumber: "320582199001011234") { id } }'
    different = '{ personByIdNumber(idNumber: "1") { id name } }'
    assert (
        shape_hash(one, parse(one))
        == shape_hash(other, parse(other))
        != shape_hash(different, parse(different))
    )
    assert shape_hash(None, None) is None
    # An ID number written as a number (quotes forgotten) is elided too: hashing guesses finds nothing.
    unquoted = "{ personByIdNumber(idNumber: 110101190001010018) { id } }"
    other_unquoted = "{ personByIdNumber(idNumber: 320582199001011234) { id } }"
    assert shape_hash(unquoted, parse(unquoted)) == shape_hash(other_unquoted, parse(other_unquoted))


def _personal_values(city: City) -> set[str]:
    """Every ID number and phone of the city's person records: each payload value of 11 or more
    digits, as written and as digits alone."""
    values: set[str] = set()
    with Session(city.engine) as session:
        payloads = session.scalars(
            select(RecordVersion.payload)
            .join(SourceRecord, SourceRecord.id == RecordVersion.record_id)
            .where(SourceRecord.kind == Kind.PERSON)
        )
        for payload in payloads:
            for value in payload.values():
                digits = re.sub(r"\D", "", str(value))
                if len(digits) >= 11:
                    values.update({str(value), digits})
    return values


def test_no_log_line_holds_an_id_number_or_a_phone(city: City, caplog: pytest.LogCaptureFixture) -> None:
    values = _personal_values(city)
    assert len(values) > 500
    entity = city.one(
        "SELECT m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
        " JOIN source s ON s.id = r.source_id WHERE m.valid_to IS NULL AND s.name = 'household_registry'"
        " ORDER BY r.id LIMIT 1"
    )
    _, pii = _client(city, "pii:read")
    _, reader = _client(city)
    with pii, reader, caplog.at_level(logging.DEBUG):
        person = data(pii, PERSON, id=entity)["person"]
        assert person["idNumber"] in values and person["phone"] in values
        assert data(pii, BY_ID, i=person["idNumber"])["personByIdNumber"]["id"] == entity
        assert data(pii, SEARCH, i=person["idNumber"])["searchPersons"]
        assert data(pii, SEARCH, p=person["phone"])["searchPersons"]
        record = {"name": person["name"], "idNumber": person["idNumber"], "phone": person["phone"]}
        assert data(pii, MATCH, r=record)["match"]
        written = f'{{ personByIdNumber(idNumber: "{person["idNumber"]}") {{ id }} }}'
        assert data(pii, written)["personByIdNumber"]["id"] == entity
        assert post(reader, BY_ID, i=person["idNumber"])["errors"]  # refused: no pii scope
        assert data(reader, SEARCH, n=person["name"])["searchPersons"]
        bad = post(pii, SEARCH + " broken {", p=person["phone"])
        assert bad["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records] + [r.getMessage() for r in caplog.records]
    assert sum(r.name == "hub.request" for r in caplog.records) == 9
    leaked = {value for value in values for line in lines if value in line}
    assert not leaked, sorted(leaked)[:5]


def test_the_formatter_writes_extra_fields_and_exceptions() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started %s", ("server",), None)
    record.color_message = "\x1b[1mStarted\x1b[0m"
    record.request_id = "abc"
    line = json.loads(formatter.format(record))
    assert line["message"] == "Started server" and line["logger"] == "uvicorn.error"
    assert line["request_id"] == "abc" and "color_message" not in line and "args" not in line
    assert line["time"].endswith("+00:00") and line["level"] == "INFO" and line["pid"] == record.process
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("hub", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    assert "ValueError: boom" in json.loads(formatter.format(failed))["exception"]


def test_every_line_a_served_process_writes_is_json() -> None:
    """A log collector parsing JSON lines loses a line that is not one: another library's warning
    (OpenTelemetry's exporter retrying, urllib3) goes through the same format as uvicorn's and the hub's."""
    import subprocess

    script = (
        "import logging, logging.config\n"
        "from hub.api.logs import log_config\n"
        "logging.config.dictConfig(log_config())\n"
        "logging.getLogger('opentelemetry.exporter.otlp').warning('Transient error %s, retrying', 'x')\n"
        "logging.getLogger('urllib3.connectionpool').error('Retrying %d', 1)\n"
        "logging.getLogger('uvicorn.error').info('Started server process')\n"
        "logging.getLogger('some.library').info('not shown: below WARNING')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert [json.loads(line)["logger"] for line in lines] == [
        "opentelemetry.exporter.otlp",
        "urllib3.connectionpool",
        "uvicorn.error",
    ]

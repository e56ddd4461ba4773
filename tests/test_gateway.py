"""The hub behind a real Apollo Gateway, beside a departmental subgraph that extends its entities.

`federation/gateway.mjs` starts a pensions office's subgraph (extending `Person` by `id` and
`Address` by `doorplateCode`) and an Apollo Gateway that composes it with the hub served here by
uvicorn, fetching the hub's SDL with a token of the `gateway` role. Every query below goes through
the gateway with a departmental client's own token, which the gateway forwards to the hub.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import serve
from resolved_city import resolved_city
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from hub.api import create_app
from hub.clients import add_client
from hub.steward import merge_entities

FEDERATION_DIR = Path(__file__).resolve().parents[1] / "federation"
NODE = shutil.which("node")
FIX = "run `npm ci --prefix federation` in the repository root"
MAX_REPRESENTATIONS = 20

if NODE is None:
    pytest.skip(
        f"node is not on PATH, so no gateway can run: install Node.js, then {FIX}", allow_module_level=True
    )
NODE_MAJOR = int(
    subprocess.run([NODE, "--version"], capture_output=True, text=True, check=True).stdout[1:].split(".")[0]
)
if NODE_MAJOR < 20:
    pytest.skip(
        f"node {NODE_MAJOR} is too old for @apollo/server 5: install Node.js 20 or newer",
        allow_module_level=True,
    )
for package in ("@apollo/gateway", "@apollo/server", "@apollo/subgraph"):
    if not (FEDERATION_DIR / "node_modules" / package).is_dir():
        pytest.skip(f"federation/node_modules is missing {package}: {FIX}", allow_module_level=True)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = resolved_city(request, tmp_path_factory.mktemp("gateway"), persons=300)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def hub_url(engine: Engine) -> Iterator[str]:
    """The hub served by uvicorn on a free port, with a small `_entities` limit."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_API_MAX_REPRESENTATIONS", str(MAX_REPRESENTATIONS))
        app = create_app(engine)
    with serve(app) as base:
        yield f"{base}/graphql"


@pytest.fixture(scope="module")
def gateway(engine: Engine, hub_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's URL; the gateway and the department run until the module's tests end."""
    assert NODE is not None
    log_path = tmp_path_factory.mktemp("gateway-log") / "gateway.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [NODE, "gateway.mjs"],
            cwd=FEDERATION_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
        )
    assert process.stdin is not None and process.stdout is not None
    stdout = process.stdout
    try:
        process.stdin.write(
            json.dumps({"hub": hub_url, "gatewayToken": token(engine, role="gateway")}) + "\n"
        )
        process.stdin.flush()
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(45)
        if not ready or not ready[0].startswith("{"):
            pytest.fail(f"the gateway did not start:\n{log_path.read_text(encoding='utf-8')}")
        yield json.loads(ready[0])["gateway"]
    finally:
        process.stdin.close()  # the script stops both servers when its stdin ends
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        stdout.close()


def token(engine: Engine, *scopes: str, role: str = "reader") -> str:
    with Session(engine) as session, session.begin():
        return add_client(session, f"gateway-test-{uuid.uuid4().hex[:8]}", role, scopes)


def ask(url: str, bearer: str | None, query: str, **variables: Any) -> dict[str, Any]:
    """POST one operation to the gateway as a departmental client; the JSON answer, errors included."""
    headers = {"Content-Type": "application/json", "X-Purpose": "service"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read())
    return answer


def one(engine: Engine, sql: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar()


def a_person(engine: Engine, offset: int = 0) -> str:
    """A person with a valid ID number who lives somewhere."""
    entity: str = one(
        engine,
        "SELECT DISTINCT l.subject_id FROM link l WHERE l.relation = 'lives_at' AND l.valid_to IS NULL"
        f" ORDER BY l.subject_id LIMIT 1 OFFSET {offset}",
    )
    return entity


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in errors]


# --- hub → department and department → hub --------------------------------------------------------


def test_a_hub_person_gets_the_departments_field_by_its_id(engine: Engine, gateway: str) -> None:
    person = a_person(engine)
    answer = ask(
        gateway, token(engine), "query($id: ID!) { person(id: $id) { id name pensionStatus } }", id=person
    )
    assert "errors" not in answer, answer
    found = answer["data"]["person"]
    assert found["id"] == person and found["name"] and found["pensionStatus"] == f"pension of {person}"


def test_department_persons_get_the_hubs_fields_masked_per_the_forwarded_token(
    engine: Engine, gateway: str
) -> None:
    person = a_person(engine, 1)
    query = "query($ids: [ID!]!) { pensioners(ids: $ids) { id pensionStatus name idNumber } }"
    masked = ask(gateway, token(engine), query, ids=[person])
    whole = ask(gateway, token(engine, "pii:read"), query, ids=[person])
    assert "errors" not in masked and "errors" not in whole, (masked, whole)
    [seen], [full] = masked["data"]["pensioners"], whole["data"]["pensioners"]
    assert seen["name"] == full["name"] and seen["pensionStatus"] == f"pension of {person}"
    assert len(full["idNumber"]) == 18 and full["idNumber"].isalnum()
    assert seen["idNumber"] == full["idNumber"][:6] + "********" + full["idNumber"][-4:]
    logged = one(engine, f"SELECT count(*) FROM access_log WHERE CAST(entity_ids AS TEXT) LIKE '%{person}%'")
    assert logged >= 2  # each client's own read, logged by the hub under the forwarded token


def test_without_a_token_the_hub_answers_nothing_through_the_gateway(engine: Engine, gateway: str) -> None:
    person = a_person(engine)
    answer = ask(
        gateway, None, "query($ids: [ID!]!) { pensioners(ids: $ids) { pensionStatus name } }", ids=[person]
    )
    assert answer["data"] == {"pensioners": [{"pensionStatus": f"pension of {person}", "name": None}]}
    assert codes(answer["errors"]) == ["UNAUTHENTICATED"]
    assert "stacktrace" not in json.dumps(answer)


# --- the second address key -----------------------------------------------------------------------


def test_addresses_cross_by_the_doorplate_code_key_both_ways(engine: Engine, gateway: str) -> None:
    code = one(
        engine,
        "SELECT t.term FROM search_term t JOIN search_field f ON f.id = t.field_id"
        " WHERE f.field = 'doorplate' ORDER BY t.term LIMIT 1",
    )
    reader = token(engine)
    by_code = ask(
        gateway,
        reader,
        "query($c: String!) { addressByDoorplateCode(doorplateCode: $c) { id text } }",
        c=code,
    )
    address = by_code["data"]["addressByDoorplateCode"]
    assert address and address["text"]
    inspected = ask(
        gateway,
        reader,
        "query($c: [String!]!) { inspections(doorplateCodes: $c) {"
        " address { doorplateCode id text lastInspection } } }",
        c=[code],
    )
    assert "errors" not in inspected, inspected
    assert inspected["data"]["inspections"] == [
        {
            "address": {
                "doorplateCode": code,
                "id": address["id"],
                "text": address["text"],
                "lastInspection": f"inspected {code}",
            }
        }
    ]
    hub_side = ask(
        gateway,
        reader,
        "query($id: ID!) { address(id: $id) { doorplateCode lastInspection } }",
        id=address["id"],
    )
    assert hub_side == {"data": {"address": {"doorplateCode": code, "lastInspection": f"inspected {code}"}}}


# --- retired ids ----------------------------------------------------------------------------------


def test_a_retired_id_resolves_to_its_survivor_through_the_gateway(engine: Engine, gateway: str) -> None:
    survivor, retired = a_person(engine, 5), a_person(engine, 6)
    with Session(engine) as session, session.begin():
        merge_entities(session, survivor, None, retired, None, "steward:test", "one person")
    reader = token(engine)
    from_department = ask(
        gateway,
        reader,
        "query($ids: [ID!]!) { pensioners(ids: $ids) { redirectedFrom name } }",
        ids=[retired, survivor],
    )
    assert "errors" not in from_department, from_department
    through_retired, direct = from_department["data"]["pensioners"]
    assert through_retired == {"redirectedFrom": retired, "name": direct["name"]} and direct["name"]
    from_hub = ask(
        gateway, reader, "query($id: ID!) { person(id: $id) { id redirectedFrom pensionStatus } }", id=retired
    )
    assert from_hub == {
        "data": {
            "person": {"id": survivor, "redirectedFrom": retired, "pensionStatus": f"pension of {survivor}"}
        }
    }


# --- limits and refusals --------------------------------------------------------------------------


def test_an_oversized_entities_batch_is_refused_with_a_code(engine: Engine, gateway: str) -> None:
    reader = token(engine)
    query = "query($ids: [ID!]!) { pensioners(ids: $ids) { pensionStatus name } }"
    ids = [f"per_{i:024x}" for i in range(MAX_REPRESENTATIONS + 1)]
    refused = ask(gateway, reader, query, ids=ids)
    assert "TOO_LARGE" in codes(refused["errors"]), refused["errors"]
    assert any("HUB_API_MAX_REPRESENTATIONS" in e["message"] for e in refused["errors"])
    allowed = ask(gateway, reader, query, ids=ids[:MAX_REPRESENTATIONS])
    assert "errors" not in allowed and len(allowed["data"]["pensioners"]) == MAX_REPRESENTATIONS


def test_a_scope_refusal_touches_only_the_refused_field_behind_the_gateway(
    engine: Engine, gateway: str
) -> None:
    person = a_person(engine, 2)
    persons_only = token(engine, "person")
    answer = ask(
        gateway,
        persons_only,
        "query($ids: [ID!]!) { pensioners(ids: $ids) { pensionStatus name addresses { relation } } }",
        ids=[person],
    )
    [found] = answer["data"]["pensioners"]
    assert found["pensionStatus"] == f"pension of {person}" and found["name"] and found["addresses"] == []
    assert codes(answer["errors"]) == ["FORBIDDEN"]
    assert answer["errors"][0]["path"] == ["pensioners", 0, "addresses"]


def test_malformed_keys_never_reach_the_gateway_as_internal_errors(engine: Engine, gateway: str) -> None:
    """A department may hand out an id the hub never issued: an answer of null, not an error."""
    answer = ask(
        gateway, token(engine), "query($ids: [ID!]!) { pensioners(ids: $ids) { name } }", ids=["", "x"]
    )
    assert "INTERNAL" not in codes(answer.get("errors", [])), answer
    assert answer["data"]["pensioners"] == [{"name": None}, {"name": None}]


# --- what a departmental supergraph leaves out ----------------------------------------------------

STEWARD_TYPES = {
    "ReviewItemNode",
    "AuditEvent",
    "AccessLogEntry",
    "EntityChange",
    "RecordJudgement",
    "EntityEdit",
}


def test_stewards_and_auditors_fields_are_not_in_the_departmental_supergraph(
    engine: Engine, gateway: str
) -> None:
    reader = token(engine)
    schema = ask(
        gateway,
        reader,
        "{ __schema { mutationType { fields { name } } queryType { fields { name } } types { name } }"
        ' person: __type(name: "Person") { fields { name } }'
        ' record: __type(name: "SourceRecord") { fields { name } } }',
    )["data"]
    queries = {f["name"] for f in schema["__schema"]["queryType"]["fields"]}
    assert {"person", "address", "legalEntity", "searchPersons", "match"} <= queries
    assert not {"reviewItems", "reviewItem", "auditEvents", "accessLog"} & queries
    # A department submits records; stewards' edits stay out.
    assert [f["name"] for f in schema["__schema"]["mutationType"]["fields"]] == ["submitRecords"]
    assert not STEWARD_TYPES & {t["name"] for t in schema["__schema"]["types"]}
    person_fields = {f["name"] for f in schema["person"]["fields"]}
    assert {
        "name",
        "idNumber",
        "addresses",
        "pensionStatus",
        "lineage",
    } <= person_fields and "history" not in person_fields
    assert "judgements" not in {f["name"] for f in schema["record"]["fields"]}
    steward = token(engine, role="steward")
    review = ask(gateway, steward, "{ reviewItems { totalCount } }")
    assert (
        codes(review["errors"]) == ["GRAPHQL_VALIDATION_FAILED"]
        and "reviewItems" in review["errors"][0]["message"]
    )
    edit = ask(gateway, steward, 'mutation { undo(eventId: "1") { __typename } }')
    assert 'Cannot query field "undo"' in edit["errors"][0]["message"] and not edit.get("data")

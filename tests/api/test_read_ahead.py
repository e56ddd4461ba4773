"""Lookups read their answer ahead (hub.api.readahead), and those of a known shape are answered in one
pass (hub.api.planned): the same answer, in fewer statements.

Every query here is executed twice on the same city, with reading ahead and without it (field by
field through the loaders, as before it), and must give the same data, the same errors and the same
personal fields noted for the access log."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import logging
import re
import uuid
from typing import Any

import pytest
from api_city import City, graphql_scope
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from hub.api import create_app, loaders
from hub.api.context import HubContext
from hub.api.extensions import objects_with_id
from hub.api.logs import JsonFormatter
from hub.api.planned import answer_operation, plain_variables, plan_of
from hub.api.schema import schema
from hub.clients import ClientInfo, add_client, authenticate_connection
from hub.store.models import AccessLog as AccessLogRow
from hub.store.sql import raw_cursor

THREE_HOPS = """query($id: ID!) { address(id: $id) { id text residents { relation person { id name
  legalEntities { role legalEntity { id name addresses { relation address { id text } } } } } } } }"""

PERSON = """query($id: ID!) { person(id: $id) { id name idNumber birthDate gender phone version updatedAt
  addresses { relation address { id text doorplateCode components residents(first: 2) { person { id } } } }
  legalEntities { role person { name } legalEntity { id name uscc legalForm phone
    addresses { address { text legalEntities { relation legalEntity { name } } } } } }
  sourceRecords { source kind key entityId } } }"""

FRAGMENTS = """query($id: ID!) { node(id: $id) { __typename id ...P ... on Address { text } } }
fragment P on Person { name phone legalEntities { legalEntity { ...L } } }
fragment L on LegalEntity { name addresses { address { id text } } }"""

ALIASES = """query($id: ID!) { address(id: $id) { a: residents(first: 1) { person { n: name } }
  b: residents { person { name addresses { address { id } } } } } }"""

SKIPPED = """query($id: ID!, $no: Boolean!) { address(id: $id) { text
  residents @include(if: $no) { person { name } } legalEntities { legalEntity { name } } } }"""

SEARCH = """query($t: String!) { searchAddresses(text: $t, first: 3) { score address { text residents {
  person { name legalEntities { role legalEntity { name addresses { address { text } } } } } } } } }"""

BAD_FIRST = """query($id: ID!) { address(id: $id) { text residents(first: -1) { person { name } } } }"""


class _Counted:
    """A driver cursor that counts the statements it runs."""

    def __init__(self, cursor: Any, counts: list[int]) -> None:
        self._cursor = cursor
        self._counts = counts

    def execute(self, *args: Any) -> Any:
        self._counts[0] += 1
        return self._cursor.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _execute(
    city: City, query: str, client: ClientInfo, *, ahead: bool, **variables: Any
) -> tuple[int, Any, list[str], dict[str, set[str]]]:
    """Statements run (through SQLAlchemy and on the loaders' driver cursors), data, error messages and
    personal fields noted, for one execution."""
    counts = [0]

    def counter(*_args: Any) -> None:
        counts[0] += 1

    def counted_cursor(connection: Any) -> Any:
        return _Counted(raw_cursor(connection), counts)

    context = HubContext(engine=city.engine, reader=city.engine, client=client, read_ahead=ahead)
    event.listen(city.engine, "before_cursor_execute", counter)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(loaders, "raw_cursor", counted_cursor)
            result = asyncio.run(schema.execute(query, variable_values=variables, context_value=context))
    finally:
        event.remove(city.engine, "before_cursor_execute", counter)
    return counts[0], result.data, [e.message for e in result.errors or []], context.personal


def _both(city: City, query: str, client: ClientInfo, **variables: Any) -> tuple[int, int, Any]:
    """Statements with and without reading ahead, after checking that both answered the same."""
    ahead, data, errors, personal = _execute(city, query, client, ahead=True, **variables)
    plain, data_plain, errors_plain, personal_plain = _execute(city, query, client, ahead=False, **variables)
    assert errors == errors_plain
    assert data == data_plain
    assert personal == personal_plain
    return ahead, plain, data


def _client(city: City, *scopes: str) -> ClientInfo:
    """A new reader client holding `scopes`, as a request authenticated with its token sees it."""
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"ahead-{uuid.uuid4().hex[:8]}", "reader", scopes)
    client = authenticate_connection(city.engine, token)
    assert client is not None
    return client


def _busy_addresses(city: City, n: int) -> list[str]:
    """Addresses with the most residents who work for a legal entity (every hop has rows)."""
    return city.column(
        "SELECT l.object_id FROM link l JOIN link w ON w.subject_id = l.subject_id AND w.valid_to IS NULL"
        " AND w.relation IN ('employed_by', 'legal_representative')"
        " WHERE l.relation = 'lives_at' AND l.valid_to IS NULL"
        " GROUP BY l.object_id ORDER BY count(*) DESC, l.object_id LIMIT :n",
        n=n,
    )


def _workers(city: City, n: int) -> list[str]:
    """Persons who work for or represent a legal entity, and live somewhere."""
    return city.column(
        "SELECT DISTINCT w.subject_id FROM link w JOIN link l ON l.subject_id = w.subject_id"
        " AND l.valid_to IS NULL AND l.relation = 'lives_at'"
        " WHERE w.valid_to IS NULL AND w.relation IN ('employed_by', 'legal_representative')"
        " ORDER BY w.subject_id LIMIT :n",
        n=n,
    )


def test_the_three_hop_answer_is_the_same_in_fewer_statements(city: City) -> None:
    for address in _busy_addresses(city, 3):
        ahead, plain, data = _both(city, THREE_HOPS, _client(city), id=address)
        assert data is not None
        companies = [c for r in data["address"]["residents"] for c in r["person"]["legalEntities"]]
        assert companies and all(c["legalEntity"]["addresses"] for c in companies)
        # a page of residents, their links, the companies' links, every member and the entity's row
        assert ahead == 4, (ahead, plain)
        assert plain > ahead


@pytest.mark.parametrize("scopes", [("pii:read",), ()], ids=["pii", "masked"])
def test_every_field_of_a_person_is_the_same_read_ahead(city: City, scopes: tuple[str, ...]) -> None:
    for person in _workers(city, 3):
        ahead, plain, data = _both(city, PERSON, _client(city, *scopes), id=person)
        assert data["person"]["legalEntities"] and data["person"]["addresses"]
        assert ahead < plain


def test_fragments_aliases_directives_and_searches_give_the_same_answer(city: City) -> None:
    address = _busy_addresses(city, 1)[0]
    person = _workers(city, 1)[0]
    client = _client(city, "pii:read")
    _both(city, FRAGMENTS, client, id=person)
    _both(city, FRAGMENTS, client, id=address)
    _both(city, ALIASES, client, id=address)
    for no in (True, False):
        _both(city, SKIPPED, client, id=address, no=no)
    text = city.one(
        "SELECT v.payload FROM record_version v JOIN source_record r ON r.id = v.record_id"
        " AND v.version = r.version WHERE r.kind = 'address' ORDER BY r.id LIMIT 1"
    )
    assert text
    _both(city, SEARCH, client, t=address_text(text))


def test_a_field_refused_or_out_of_range_is_refused_the_same(city: City) -> None:
    address = _busy_addresses(city, 1)[0]
    person = _workers(city, 1)[0]
    _, _, data = _both(city, THREE_HOPS, _client(city, "address"), id=address)
    assert data["address"]["residents"] == []  # persons are out of its scope: an empty list and an error
    _both(city, PERSON, _client(city, "person", "address"), id=person)
    _both(city, BAD_FIRST, _client(city), id=address)


def test_as_of_reads_ahead_at_that_instant(city: City) -> None:
    address = _busy_addresses(city, 1)[0]
    at = city.one("SELECT max(valid_from) FROM link")
    query = THREE_HOPS.replace("($id: ID!)", "($id: ID!, $at: DateTime)").replace(
        "address(id: $id)", "address(id: $id, asOf: $at)"
    )
    instant = at if isinstance(at, str) else at.isoformat()
    if "+" not in instant[10:] and not instant.endswith("Z"):
        instant += "+00:00"
    _both(city, query, _client(city), id=address, at=instant)


def address_text(payload: Any) -> str:
    """The address text of a stored address record's payload."""
    value = payload if isinstance(payload, dict) else json.loads(payload)
    return str(value.get("address") or next(v for v in value.values() if isinstance(v, str)))


# ---- lookups of a known shape, answered in one pass (hub.api.planned) -----------------------------

PLANNED = {
    "three hops": THREE_HOPS,
    "every value, masked or not, and names": """query($id: ID!) { __typename p: person(id: $id) {
      __typename id redirectedFrom name idNumber birthDate gender phone
      addresses { __typename relation person { name } address { id text doorplateCode } }
      legalEntities { role legalEntity { __typename name uscc legalForm branch establishedOn phone
        addresses { relation legalEntity { id } address { text } } } } } }""",
    "aliases and pages": ALIASES,
    "an address's companies": """query($id: ID!) { address(id: $id) { text
      legalEntities(first: 1) { relation legalEntity { name } } } }""",
}
NOT_PLANNED = {
    "fragments": FRAGMENTS,
    "a directive": SKIPPED,
    "a search": SEARCH,
    "times": "query($id: ID!) { person(id: $id) { name version updatedAt } }",
    "connections": "query($id: ID!) { address(id: $id) { residentsConnection { totalCount } } }",
    "evidence": "query($id: ID!) { person(id: $id) { addresses { evidence { key } } } }",
    "as of": "query($id: ID!) { person(id: $id, asOf: null) { name } }",
    "a key twice": "query($id: ID!) { person(id: $id) { name name } }",
    "back and on again": """query($id: ID!) { person(id: $id) { addresses { person { addresses {
      address { id } } } } } }""",
    "a mutation": "mutation { __typename }",
}


def _operation(query: str) -> Any:
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return operations[0], fragments


@pytest.mark.parametrize("query", PLANNED.values(), ids=PLANNED.keys())
def test_lookups_of_a_known_shape_are_planned(query: str) -> None:
    plan = plan_of(*_operation(query))
    assert plan is not None
    assert plan_of(*_operation(query)) is not None


@pytest.mark.parametrize("query", NOT_PLANNED.values(), ids=NOT_PLANNED.keys())
def test_other_queries_go_field_by_field(query: str) -> None:
    assert plan_of(*_operation(query)) is None


@pytest.mark.parametrize("scopes", [("pii:read",), ()], ids=["pii", "masked"])
def test_planned_answers_are_the_executors(
    city: City, scopes: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(city, *scopes)
    address = _busy_addresses(city, 1)[0]
    with caplog.at_level(logging.DEBUG, logger="hub.api.planned"):
        for person in _workers(city, 2):
            for query in PLANNED.values():
                entity = address if "address(id" in query else person
                _both(city, query, client, id=entity)
        assert not caplog.records  # answered by the plan, not given up to the executor
        _both(city, BAD_FIRST, client, id=address)  # out of range: the executor's coded error
        assert [r.getMessage() for r in caplog.records] == [
            "planned answer given up (InputError): the executor answers"
        ]


def test_unknown_retired_and_other_kinds_ids_are_answered_as_the_executor_does(city: City) -> None:
    client = _client(city)
    person = _workers(city, 1)[0]
    retired = city.one("SELECT id FROM entity WHERE merged_into_id IS NOT NULL AND kind = 'person' LIMIT 1")
    query = PLANNED["every value, masked or not, and names"]
    for entity in (person, retired, "per_nobody", _busy_addresses(city, 1)[0]):
        if entity is not None:
            _both(city, query, client, id=entity)
    if retired is not None:
        _, _, data = _both(city, query, client, id=retired)
        assert data["p"]["redirectedFrom"] == retired
    literal = THREE_HOPS.replace("($id: ID!)", "").replace("$id", f'"{_busy_addresses(city, 1)[0]}"')
    assert plan_of(*_operation(literal)) is not None
    _both(city, literal, client)


# ---- the whole operation in one pass (hub.api.planned.answer_operation) ---------------------------


def _http_client(city: City, role: str, *scopes: str) -> TestClient:
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"pass-{uuid.uuid4().hex[:8]}", role, scopes)
    return TestClient(create_app(city.engine), headers={"Authorization": f"Bearer {token}"})


_LOGGED = (
    "client_id",
    "operation",
    "operation_hash",
    "operation_name",
    "variables",
    "lookups",
    "entity_ids",
    "fields",
    "purpose",
)


def _access_rows(city: City) -> list[tuple[Any, ...]]:
    """Every access-log row's columns but its id and time."""
    with Session(city.engine) as session:
        rows = session.scalars(select(AccessLogRow).order_by(AccessLogRow.id)).all()
        return [tuple(getattr(r, name) for name in _LOGGED) for r in rows]


def test_a_query_seen_before_is_answered_in_one_pass_with_the_same_logs(
    city: City, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planned query's text checked once skips strawberry's HTTP view and the extensions' hooks from
    its second request on; its answer, request log line, access-log row and refusals are those of the
    first."""
    passed: list[tuple[str, bool]] = []

    def watch(where: str) -> None:
        async def watched(*args: Any) -> Any:
            answered = await answer_operation(*args)
            passed.append((where, answered is not None))
            return answered

        # the modules (`hub.api.schema` the attribute is the schema itself)
        monkeypatch.setattr(importlib.import_module(f"hub.api.{where}"), "answer_operation", watched)

    watch("app")  # before the HTTP view
    watch("schema")  # inside it, for what the app hands on
    person = _workers(city, 1)[0]
    # a text no earlier test sent, so that its first request is checked and answered the usual way
    query = f"# {uuid.uuid4().hex}\nquery Who($id: ID!) {{ person(id: $id) {{ id name idNumber phone }} }}"
    body = {"query": query, "variables": {"id": person}}
    before = len(_access_rows(city))
    with _http_client(city, "reader", "pii:read") as client, caplog.at_level(logging.INFO, "hub.request"):
        first = client.post("/graphql", json=body, headers={"x-purpose": "case"})
        second = client.post("/graphql", json=body, headers={"x-purpose": "case"})
        unknown = client.post("/graphql", json=body, headers={"x-purpose": "curiosity"})
        wrong = client.post("/graphql", json={"query": query, "variables": {"id": ["x"]}})
    usual = [("app", False), ("schema", False)]
    assert passed == [*usual, ("app", True), *usual, *usual]
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert second.json() == first.json() and first.json()["data"]["person"]["idNumber"]
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "hub.request"]
    kept = ("client", "operation", "operation_hash", "code", "entities", "status")
    assert [line["code"] for line in lines] == ["OK", "OK", "BAD_INPUT", "BAD_INPUT"]
    assert {k: lines[1][k] for k in kept} == {k: lines[0][k] for k in kept}
    assert lines[0]["operation"] == "Who" and lines[0]["entities"] == 1
    rows = _access_rows(city)[before:]
    assert len(rows) == 2 and rows[0] == rows[1]
    assert rows[0][3] == "Who" and rows[0][8] == "case" and rows[0][6] == [person]
    assert unknown.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"


def test_requests_the_view_must_handle_still_get_the_same_answer(
    city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a plain JSON POST skips the HTTP view: a GET, a request with operation extensions, one
    asking for a streamed answer and one whose text was not seen before go through strawberry's view,
    and get the answer the skipped one gets."""
    passed: list[bool] = []

    async def watched(*args: Any) -> Any:
        answered = await answer_operation(*args)
        passed.append(answered is not None)
        return answered

    monkeypatch.setattr(importlib.import_module("hub.api.app"), "answer_operation", watched)
    address = _busy_addresses(city, 1)[0]
    body = {"query": THREE_HOPS, "variables": {"id": address}}
    with _http_client(city, "reader") as client:
        client.post("/graphql", json=body)  # known from now on
        passed.clear()
        plain = client.post("/graphql", json=body)
        assert passed == [True]
        passed.clear()
        params = {"query": THREE_HOPS, "variables": json.dumps({"id": address})}
        others = [
            client.get("/graphql", params=params),
            client.post("/graphql", json={**body, "extensions": {"tag": "x"}}),
            client.post("/graphql", json=body, headers={"accept": "multipart/mixed"}),
            client.post("/graphql", json={**body, "query": f"# {uuid.uuid4().hex}\n{THREE_HOPS}"}),
        ]
    assert passed == [False]  # the last one: a text not seen before
    assert plain.json()["data"]["address"]["residents"]
    for other in others:
        assert other.status_code == 200 and other.json() == plain.json()


def test_tokens_refused_a_query_are_refused_it_in_one_pass_too(city: City) -> None:
    """A gateway's own token and an ops client's may not read entities, however often they ask."""
    address = _busy_addresses(city, 1)[0]
    body = {"query": THREE_HOPS, "variables": {"id": address}}
    for role in ("gateway", "ops"):
        with _http_client(city, role) as client:
            answers = [client.post("/graphql", json=body).json() for _ in range(2)]
        for answer in answers:
            assert answer["data"] is None
            assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("allowed", [set(), {OperationType.MUTATION}], ids=["none", "mutations"])
def test_a_known_query_is_refused_where_queries_are_not_allowed(city: City, allowed: set[Any]) -> None:
    """A GET endpoint that allows no queries refuses a query whose text is known as any other."""
    address = _busy_addresses(city, 1)[0]
    _execute(city, THREE_HOPS, _client(city), ahead=True, id=address)  # known from now on
    context = HubContext(engine=city.engine, reader=city.engine, client=_client(city))
    with pytest.raises(InvalidOperationTypeError):
        asyncio.run(
            schema.execute(
                THREE_HOPS,
                variable_values={"id": address},
                context_value=context,
                allowed_operation_types=allowed,
            )
        )


def _asgi_post(app: Any, token: str, body: dict[str, Any]) -> int:
    """POST `body` to /graphql straight into the ASGI app, on this thread's event loop: its status."""
    raw = json.dumps(body).encode()
    scope = graphql_scope(token, raw)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    return int(messages[0]["status"])


def _left_in_cycles(send: Any) -> list[object]:
    """The objects of the hub's modules that requests sent by `send()` left in reference cycles."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        send()
        gc.collect()
        return [o for o in gc.garbage if type(o).__module__.startswith("hub.")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_an_answered_request_leaves_nothing_it_read_for_the_cyclic_collector(city: City) -> None:
    """What an operation read (its loaders, rows, members, golden values) is freed as soon as the
    request ends: none of it is held in a reference cycle, which only the cyclic collector could free,
    walking it again at each of its young collections meanwhile. A query answered in one pass leaves
    nothing of the hub at all; field by field, graphql-core's execution context keeps the operation's
    context in a cycle of its own, but nothing read."""
    with Session(city.engine) as session, session.begin():
        token = add_client(session, f"cycles-{uuid.uuid4().hex[:8]}", "reader", ("pii:read",))
    app = create_app(city.engine)
    planned = {"query": THREE_HOPS, "variables": {"id": _busy_addresses(city, 1)[0]}}
    field_by_field = {"query": PERSON, "variables": {"id": _workers(city, 1)[0]}}
    for body in (planned, field_by_field):  # parsed, checked and kept
        assert _asgi_post(app, token, body) == 200

    def send(body: dict[str, Any]) -> Any:
        return lambda: [_asgi_post(app, token, body) == 200 for _ in range(2)]

    assert not {type(o).__qualname__ for o in _left_in_cycles(send(planned))}
    read = {type(o).__qualname__ for o in _left_in_cycles(send(field_by_field))}
    assert not read & {"Loaders", "Loader", "MemberRow", "LinkRow", "EntityRow", "Claim", "Golden"}, read


# The request log's count of objects with an `id`, which the one pass keeps as it builds the answer
# instead of walking it: the same as the walk, `id` keys made by aliases included.
COUNTED = {
    **PLANNED,
    "ids by aliases": """query($id: ID!) { id: address(id: $id) { id: text
      residents(first: 2) { id: relation person { name } } } }""",
}


@pytest.mark.parametrize("query", COUNTED.values(), ids=COUNTED.keys())
def test_a_one_pass_answer_counts_its_entities_as_the_walk_does(
    city: City, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    entity = _busy_addresses(city, 1)[0] if "address(id" in query else _workers(city, 1)[0]
    body = {"query": f"# {uuid.uuid4().hex}\n{query}", "variables": {"id": entity}}
    with _http_client(city, "reader") as client, caplog.at_level(logging.INFO, "hub.request"):
        walked, counted = (client.post("/graphql", json=body) for _ in range(2))
    assert walked.json() == counted.json() and "errors" not in walked.json()
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "hub.request"]
    assert len(lines) == 2
    count = objects_with_id(walked.json()["data"])
    assert lines[1]["entities"] == lines[0]["entities"] == count
    assert count > 0 or not re.search(r"\bid\b", query.replace("$id", "").replace("(id:", ""))


# Variables as a client sends them, and what graphql-core makes of each type.
_VALUES = ["per_1", "", "中文", 7, -3, 2**31 - 1, 2**31, -(2**31), 1.0, 1.5, True, False, None, [1], {"a": 1}]
_ABSENT = object()


@pytest.mark.parametrize("type_", ["ID!", "ID", "String!", "String", "Int!", "Int"])
def test_plain_variables_are_coerced_as_graphql_core_does(type_: str) -> None:
    """`plain_variables` coerces what it takes at a glance exactly as graphql-core would, and leaves
    everything else (a value to convert or to refuse) to graphql-core."""
    operation, fragments = _operation(f'query($v: {type_}) {{ person(id: "per_1") {{ id }} }}')
    plan = plan_of(operation, fragments)
    assert plan is not None
    graphql_schema = schema._schema
    taken = 0
    for value in [*_VALUES, _ABSENT]:
        variables = {} if value is _ABSENT else {"v": value}
        ours = plain_variables(graphql_schema, plan, variables)
        theirs = get_variable_values(graphql_schema, operation.variable_definitions, variables)
        if ours is not None:
            taken += 1
            assert not isinstance(theirs, list), (value, theirs)
            assert ours == theirs.coerced and type(ours.get("v")) is type(theirs.coerced.get("v"))
    assert taken >= 3  # the plain values of the type are taken, not all left to graphql-core


def test_variables_with_defaults_or_other_types_are_left_to_graphql_core() -> None:
    for definitions in ('$v: ID = "per_1"', "$v: Boolean", "$v: [ID!]", "$v: ID!, $w: Float"):
        operation, fragments = _operation(f'query({definitions}) {{ person(id: "per_1") {{ id }} }}')
        plan = plan_of(operation, fragments)
        assert plan is not None and plan.variables is None
        assert plain_variables(schema._schema, plan, {"v": "per_1", "w": 1.5}) is None

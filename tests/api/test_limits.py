"""Limits that keep one client from stalling the others: request size and time, query size and shape,
representations, string lengths, per-client rate and concurrency, and clean errors for bad input."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import socket
import threading
import time
import uuid
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import pytest
import uvicorn
from api_city import graphql_scope
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from hub.api import create_app
from hub.api.limits import ClientSlots, RateLimiter
from hub.clients import add_client
from hub.errors import BusyError

# It asserts how soon answers come: run alone, not beside other tests (scripts/check).
pytestmark = pytest.mark.timed


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refuses_with_the_wait() -> None:
    clock = _Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [None, None, None]
    assert limiter.allow("a") == 0.5
    assert limiter.allow("b") is None  # buckets are per key
    clock.now = 0.5
    assert limiter.allow("a") is None
    assert limiter.allow("a") == 0.5
    assert limiter.allow("a", cost=2.5) == 1.25


def test_rate_limiter_forgets_the_least_recent_keys_beyond_its_bound() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_keys=2, clock=_Clock())
    for key in ("a", "b", "c"):
        assert limiter.allow(key) is None
    assert limiter.allow("a") is None  # forgotten, so full again
    assert limiter.allow("c") == 1.0


def test_client_slots_let_a_key_run_its_share_then_answer_busy() -> None:
    async def scenario() -> None:
        slots = ClientSlots(per_key=2, wait=0.05)
        await slots.acquire("a")
        await slots.acquire("a")
        with pytest.raises(BusyError) as refused:
            await slots.acquire("a")
        assert refused.value.retry_after == 1.0
        await slots.acquire("b")  # another key has its own share
        slots.release("a")
        await slots.acquire("a")  # a freed slot is taken at once
        for key in ("a", "a", "b"):
            slots.release(key)
        assert not slots._slots  # nothing kept for keys without operations

    asyncio.run(scenario())


# --- through HTTP ---------------------------------------------------------------------------------

SEARCH_PERSONS = "query($name: String) { searchPersons(name: $name) { score person { id } } }"
VIEWER = "{ viewer { name } }"


def make_client(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, role: str = "reader", **limits: str
) -> TestClient:
    """An HTTP client of a new app under the `HUB_API_*` limits given (e.g. MAX_BODY="100")."""
    for name, value in limits.items():
        monkeypatch.setenv(f"HUB_API_{name}", value)
    return TestClient(
        create_app(engine),
        headers={"Authorization": f"Bearer {new_token(engine, role)}"},
        raise_server_exceptions=False,
    )


def new_token(engine: Engine, role: str = "reader") -> str:
    with Session(engine) as session, session.begin():
        return add_client(session, f"test-{uuid.uuid4().hex[:8]}", role)


def error_code(response: Any) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def test_entities_refuses_more_representations_than_the_limit(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Person { id } } }"
    refs = [{"__typename": "Person", "id": f"per_{i}"} for i in range(4)]
    with make_client(engine, monkeypatch, MAX_REPRESENTATIONS="3") as client:
        body = client.post("/graphql", json={"query": query, "variables": {"r": refs}}).json()
        assert body["errors"][0]["extensions"]["code"] == "TOO_LARGE"
        assert "HUB_API_MAX_REPRESENTATIONS" in body["errors"][0]["message"]
        ok = client.post("/graphql", json={"query": query, "variables": {"r": refs[:3]}}).json()
    assert "errors" not in ok and ok["data"]["_entities"] == [None, None, None]


@pytest.mark.parametrize(
    "representation",
    [
        {"id": "per_1"},
        {"__typename": "Nope", "id": "per_1"},
        {"__typename": "Query", "id": "per_1"},
        {"__typename": "Person", "id": 42},
        {"__typename": "Person"},
        {"__typename": "Person", "id": "per_1", "other": "x"},
        ["Person", "per_1"],
    ],
)
def test_entities_answers_bad_input_for_a_malformed_representation(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    representation: Any,
) -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Person { id } } }"
    with make_client(engine, monkeypatch) as client:
        body = client.post("/graphql", json={"query": query, "variables": {"r": [representation]}}).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert "representations[0]" in body["errors"][0]["message"]
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text


def test_a_body_over_the_limit_is_refused_with_413(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with make_client(engine, monkeypatch, MAX_BODY="1000") as client:
        big = client.post("/graphql", json={"query": VIEWER, "variables": {"x": "a" * 2000}})
        assert big.status_code == 413 and error_code(big) == "TOO_LARGE"
        assert "HUB_API_MAX_BODY" in big.json()["errors"][0]["message"]
        assert client.post("/graphql", json={"query": VIEWER}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "\xff\xfe"}',
        b"null",
        b"42",
        b'[{"query": "{ viewer { name } }"}]',
        b"[" * 5000 + b"]" * 5000,
    ],
    ids=["invalid-utf8", "null", "number", "list", "deeply-nested"],
)
def test_a_body_that_is_not_one_json_object_answers_400(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    with make_client(engine, monkeypatch) as client:
        response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "BAD_INPUT"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"query": "{ viewer { name } } # \\ud800"}',
        b'{"query": "query($n: String) { searchPersons(name: $n) { score } }",'
        b' "variables": {"n": "\\udc00"}}',
    ],
    ids=["in-query", "in-variables"],
)
def test_lone_surrogates_answer_bad_input(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    with make_client(engine, monkeypatch) as client:
        response = client.post("/graphql", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "BAD_INPUT"
    assert "unexpected error" not in caplog.text


def test_a_query_text_over_the_limit_is_refused(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    query = "{ viewer { name } }" + " " * 70_000
    with make_client(engine, monkeypatch) as client:
        response = client.post("/graphql", json={"query": query})
        assert response.status_code == 413 and error_code(response) == "TOO_LARGE"
        assert "HUB_API_MAX_QUERY" in response.json()["errors"][0]["message"]
    with make_client(engine, monkeypatch, MAX_QUERY="100") as client:
        got = client.get("/graphql", params={"query": "{ viewer { name } }" + " " * 100})
        assert got.status_code == 413 and error_code(got) == "TOO_LARGE"
        assert client.get("/graphql", params={"query": "{ viewer { name } }"}).status_code == 200


def test_long_documents_are_not_kept_in_the_cache(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A query under the text limit but long is answered and forgotten: cached documents stay small."""
    from hub.api import extensions

    query = '{ viewer { name } } query Other { searchPersons(name: "x") { score } }' + "#" * 30_000
    with make_client(engine, monkeypatch) as client:
        client.post("/graphql", json={"query": query, "operationName": None})
    assert all(len(key[0]) <= 8 * 1024 for key in extensions._CHECKED)
    assert extensions._cached_bytes <= 32 * 1024 * 1024


def test_fragments_that_expand_exponentially_are_refused_before_validation(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    depth = 18  # about 200 tokens; validating it the usual way takes seconds, and doubles per level
    fragments = "".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth))
    query = f"{{ viewer {{ ...F0 }} }} {fragments} fragment F{depth} on Viewer {{ name }}"
    with make_client(engine, monkeypatch) as client:
        started = time.perf_counter()
        body = client.post("/graphql", json={"query": query}).json()
        elapsed = time.perf_counter() - started
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "HUB_API_MAX_EXPANDED" in body["errors"][0]["message"]
    assert elapsed < 0.5


@pytest.mark.parametrize("as_variable", [True, False], ids=["variable", "literal"])
def test_a_long_search_argument_answers_bad_input_naming_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, as_variable: bool
) -> None:
    name = "王" * (100_000 if as_variable else 1_000)  # a literal that long would be over HUB_API_MAX_QUERY
    with make_client(engine, monkeypatch) as client:
        started = time.perf_counter()
        if as_variable:
            body = client.post("/graphql", json={"query": SEARCH_PERSONS, "variables": {"name": name}}).json()
        else:
            query = f'{{ searchPersons(name: "{name}") {{ score }} }}'
            body = client.post("/graphql", json={"query": query}).json()
        elapsed = time.perf_counter() - started
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_INPUT"
    assert ("$name" if as_variable else "argument `name` of `searchPersons`") in error["message"]
    assert "at most 200" in error["message"]
    assert elapsed < 1.0


def test_a_long_company_name_search_answers_bad_input(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query($n: String) { searchLegalEntities(name: $n) { score } }"
    with make_client(engine, monkeypatch) as client:
        body = client.post("/graphql", json={"query": query, "variables": {"n": "有限公司" * 1000}}).json()
        fine = client.post("/graphql", json={"query": query, "variables": {"n": "常熟市虞山有限公司"}}).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "errors" not in fine
    assert "unexpected error" not in caplog.text


def test_other_long_strings_answer_bad_input(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    query = "query($note: String!) { viewer { name } n: searchAddresses(text: $note) { score } }"
    with make_client(engine, monkeypatch, MAX_STRING="50") as client:
        body = client.post("/graphql", json={"query": query, "variables": {"note": "x" * 51}}).json()
        nested = client.post(
            "/graphql",
            json={"query": VIEWER, "variables": {"deep": {"a": [[[[[[[[{"b": "x" * 51}]]]]]]]]}}},
        ).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_INPUT"
    assert "$note" in body["errors"][0]["message"]
    assert nested["errors"][0]["extensions"]["code"] == "BAD_INPUT"


@pytest.mark.parametrize(
    "after",
    [
        "o:" + "9" * 100,
        "o:1" * 2500,
        "x" * 10_000,
    ],
    ids=["huge-offset", "10kb", "not-base64"],  # the first two are base64-encoded below
)
def test_a_bad_cursor_answers_bad_input(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, after: str
) -> None:
    queries = [
        "query($after: String) { reviewItems(after: $after) { totalCount } }",
        "query($after: String) { auditEvents(after: $after) { totalCount } }",
    ]
    with make_client(engine, monkeypatch, role="admin", MAX_STRING="20000") as client:
        for query in queries:
            cursor = after.replace("o:", "i:") if "audit" in query else after
            if cursor[:2] in ("o:", "i:"):
                cursor = base64.urlsafe_b64encode(cursor.encode()).decode()
            variables = {"after": cursor}
            response = client.post("/graphql", json={"query": query, "variables": variables})
            codes = [e["extensions"]["code"] for e in response.json()["errors"]]
            assert codes == ["BAD_INPUT"], query
            assert len(response.json()["errors"][0]["message"]) < 300
    assert "unexpected error" not in caplog.text


def test_a_client_over_its_rate_gets_429_with_retry_after(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with make_client(engine, monkeypatch, RATE="1", BURST="2") as client:
        answers = [client.post("/graphql", json={"query": VIEWER}) for _ in range(3)]
        other = TestClient(client.app, headers={"Authorization": f"Bearer {new_token(engine)}"})
        assert other.post("/graphql", json={"query": VIEWER}).status_code == 200
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert error_code(answers[2]) == "RATE_LIMITED"
    assert answers[2].headers["Retry-After"] == "1"
    assert answers[2].json()["errors"][0]["extensions"]["retryAfter"] == 1


def test_a_client_cannot_hold_more_than_its_share_of_the_slots(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that reads its answers slowly keeps its operations running; past its share the next
    one answers 429 BUSY, while another client is served at once."""
    monkeypatch.setenv("HUB_API_CLIENT_CONCURRENCY", "1")
    monkeypatch.setenv("HUB_API_QUEUE_WAIT", "0.2")
    app = create_app(engine)
    greedy, modest = new_token(engine), new_token(engine)

    async def call(token: str, gate: asyncio.Event | None = None) -> tuple[int, bytes]:
        body = orjson.dumps({"query": VIEWER})
        scope = graphql_scope(token, body)
        sent: list[MutableMapping[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if gate is not None and message["type"] == "http.response.body":
                await gate.wait()  # the client reads its answer slowly
            sent.append(message)

        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def scenario() -> None:
        gate = asyncio.Event()
        slow = asyncio.create_task(call(greedy, gate))
        await asyncio.sleep(0.3)
        status, body = await call(greedy)
        assert status == 429 and orjson.loads(body)["errors"][0]["extensions"]["code"] == "BUSY"
        assert (await asyncio.wait_for(call(modest), 1.0))[0] == 200
        gate.set()
        assert (await slow)[0] == 200
        assert (await call(greedy))[0] == 200

    asyncio.run(scenario())


@contextlib.contextmanager
def served(engine: Engine) -> Iterator[int]:
    """The app under a real uvicorn server on a free port of 127.0.0.1; the port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_slow_bodies_on_every_slot_hold_up_nobody(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients that never finish their bodies (more than there are slots) are cut off after
    HUB_API_BODY_TIMEOUT with 408; meanwhile /health and a normal query answer at once."""
    monkeypatch.setenv("HUB_API_BODY_TIMEOUT", "2")
    token = new_token(engine)
    with served(engine) as port:
        stalled = []
        for _ in range(20):
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {token}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"query": '
            )
            stalled.append(connection)
        time.sleep(0.3)
        headers = {"Authorization": f"Bearer {new_token(engine)}", "Content-Type": "application/json"}
        started = time.perf_counter()
        web = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        web.request("GET", "/health")
        assert web.getresponse().read() and time.perf_counter() - started < 1.0
        web.request("POST", "/graphql", orjson.dumps({"query": VIEWER}), headers)
        answer = web.getresponse()
        assert answer.status == 200 and b"viewer" in answer.read()
        assert time.perf_counter() - started < 1.0
        web.close()
        for connection in stalled:
            connection.settimeout(5)
            assert connection.recv(100).startswith(b"HTTP/1.1 408")
            connection.close()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"query": "{ personByIdNumber(idNumber: \\"320581196\\\\u0000103270415\\") { id } }"}',
        b'{"query": "query($n: String!) { personByIdNumber(idNumber: $n) { id } }",'
        b' "variables": {"n": "320581196\\u0000103270415"}}',
        b'{"query": "query($n: String) { searchPersons(name: $n) { score } }",'
        b' "variables": {"n": "\\u0000"}}',
    ],
    ids=["in-query", "in-variables", "in-a-search"],
)
def test_a_nul_character_answers_bad_input_before_any_statement(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    """PostgreSQL refuses NUL in text: let through, it failed mid-statement as INTERNAL, with the
    value in the logged error."""
    with make_client(engine, monkeypatch, role="admin") as client:
        response = client.post("/graphql", content=payload, headers={"Content-Type": "application/json"})
    assert error_code(response) == "BAD_INPUT", response.text
    assert "NUL" in response.json()["errors"][0]["message"]
    assert "unexpected error" not in caplog.text


def test_a_content_length_that_is_no_ascii_number_is_left_to_the_body() -> None:
    """HTTP headers arrive as Latin-1, where "²" is a digit to `str.isdigit` and not to int(): such
    a header was a 500; the body is read and measured as it comes instead."""
    import asyncio

    from hub.api.limits import read_body

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b'{"query": "{ viewer { name } }"}', "more_body": False}

    assert asyncio.run(read_body(receive, "²", 1000, 1.0)) == b'{"query": "{ viewer { name } }"}'

"""Stewards editing at the same moment, against a real server: every edit answers at once (OK, or
CONFLICT when two touch the same entity), readers are never held up, and the data and the audit chain
hold afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from api_city import City
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import verify
from hub.clients import add_client
from hub.domain import EntityStatus, Kind
from hub.store.models import Entity, Statement

# It asserts how soon answers come: run alone, not beside other tests (scripts/check).
pytestmark = pytest.mark.timed

VERSION = "query($id: ID!) { person(id: $id) { id version } }"
MERGE = """mutation($into: ID!, $iv: Int!, $other: ID!, $ov: Int!) {
  mergeEntities(into: $into, intoVersion: $iv, other: $other, otherVersion: $ov) {
    eventId entity { id ... on Person { version sourceRecords { key } } } } }"""
OVERRIDE = """mutation($id: ID!, $v: Int!, $value: String) {
  overrideValue(id: $id, version: $v, field: "name", value: $value) {
    eventId entity { id ... on Person { name version } } } }"""
READ = "query($id: ID!) { person(id: $id) { id name addresses { address { id text } } } }"


@dataclass
class Server:
    url: str
    stewards: list[str]
    reader: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(city: City) -> Iterator[Server]:
    """`hub serve` in a process of its own, as in production (the test's clients share no GIL with it)."""
    with Session(city.engine) as session, session.begin():
        # Four stewards at work, as in an office: each within its share of the server's slots.
        stewards = [add_client(session, f"steward-{uuid.uuid4().hex[:6]}", "steward") for _ in range(4)]
        reader = add_client(session, f"reader-{uuid.uuid4().hex[:6]}", "reader")
    port = _free_port()
    env = {**os.environ, "HUB_DATABASE_URL": city.engine.url.render_as_string(hide_password=False)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):  # up to a minute on a busy machine
            assert process.poll() is None, "hub serve exited"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield Server(url, stewards, reader)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a server that no longer stops is a failure of its own
            process.kill()
            raise


def _call(
    http: httpx.Client, server: Server, token: str, query: str, timeout: float = 5.0, **variables: Any
) -> dict[str, Any]:
    response = http.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _active_people(city: City, count: int) -> list[tuple[str, int]]:
    with Session(city.engine) as session:
        rows = session.execute(
            select(Entity.id, Entity.version)
            .where(Entity.kind == Kind.PERSON, Entity.status == EntityStatus.ACTIVE)
            .order_by(Entity.id)
            .limit(count)
        ).all()
    return [(entity_id, version) for entity_id, version in rows]


def test_simultaneous_steward_edits_answer_at_once_and_readers_are_not_held_up(
    city: City, server: Server
) -> None:
    people = _active_people(city, 32)
    pairs = [(people[2 * i], people[2 * i + 1]) for i in range(10)]  # 10 merges of disjoint pairs
    alone = people[20:30]  # 10 overrides of other persons
    shared = people[30]  # 2 overrides of the same person at the same version
    edits: list[tuple[str, dict[str, Any]]] = [
        (MERGE, {"into": a, "iv": av, "other": b, "ov": bv}) for (a, av), (b, bv) in pairs
    ]
    edits += [(OVERRIDE, {"id": e, "v": v, "value": f"测试{n}"}) for n, (e, v) in enumerate(alone)]
    edits += [(OVERRIDE, {"id": shared[0], "v": shared[1], "value": name}) for name in ("甲一", "乙二")]

    results: list[tuple[float, dict[str, Any] | Exception]] = [(0.0, {})] * len(edits)
    start = threading.Barrier(len(edits) + 2)  # the edits, the reader and this thread

    def edit(n: int) -> None:
        query, variables = edits[n]
        # Each steward's client is made beforehand: making one costs tens of ms of this process's time.
        with httpx.Client() as http:
            start.wait()
            began = time.perf_counter()
            try:
                body: dict[str, Any] | Exception = _call(
                    http, server, server.stewards[n % 4], query, **variables
                )
            except Exception as exc:  # a timeout: recorded, asserted below
                body = exc
            results[n] = (time.perf_counter() - began, body)

    reader_waits: list[float] = []
    reader_failures: list[str] = []
    reading = threading.Event()

    def read() -> None:
        with httpx.Client() as http:
            _call(http, server, server.reader, READ, id=people[-1][0])  # connected and warm
            start.wait()
            while not reading.is_set():
                began = time.perf_counter()
                try:
                    http.get(f"{server.url}/health", timeout=5)
                    body = _call(http, server, server.reader, READ, id=people[-1][0])
                except Exception as exc:  # a timeout or a refused connection: the server did not answer
                    reader_failures.append(repr(exc))
                    return
                reader_waits.append(time.perf_counter() - began)
                if "errors" in body:
                    reader_failures.append(str(body["errors"]))

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=edit, args=(n,)) for n in range(len(edits))]
    reader.start()
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(timeout=30)
    reading.set()
    reader.join(timeout=30)

    codes = []
    for (_query, variables), (seconds, body) in zip(edits, results, strict=True):
        assert not isinstance(body, Exception), f"{variables}: no answer ({body!r})"
        assert seconds < 2.0, f"{variables}: answered after {seconds:.2f} s"
        errors = body.get("errors") or []
        codes.append(errors[0]["extensions"]["code"] if errors else "OK")
    assert codes[:20] == ["OK"] * 20, codes
    assert sorted(codes[20:]) == ["CONFLICT", "OK"], codes
    assert not reader_failures, reader_failures
    assert reader_waits and max(reader_waits) < 1.0, f"a reader waited {max(reader_waits):.2f} s"

    with Session(city.engine) as session:
        for (a, _), (b, _) in pairs:
            absorbed = session.get(Entity, b)
            assert absorbed is not None and absorbed.merged_into_id == a
        names = session.scalars(
            select(Statement.value).where(Statement.entity_id == shared[0], Statement.retracted_at.is_(None))
        ).all()
        assert len(names) == 1 and names[0] in {"甲一", "乙二"}
        check = verify(session)
    assert check.ok, check.reason

"""`submitRecords`: one record at a time against a resolved city, over HTTP, as a department submits.

    python bench/submit.py                           # 1M persons, 200 submissions
    python bench/submit.py --persons 100000 --requests 100

The city is the one bench/api.py serves (bench/out/city-N-SEED-resolved.db, made on first use); each
run submits to a copy of it, migrated to the current schema, served by the hub's whole web app under
uvicorn in a thread of this process. A new `writer` client of source `tax` submits one person at a
time: alternately a person the household registry holds (its name, ID number and phone, under a tax
key of its own: it should join that person) and a person no source knows (a new name and phone).

The first submission reads every person into the process's warm resolver and is timed on its own;
the next ones use it. After a steward's merge of two addresses (another kind: the persons' resolver
should stay warm) one submission is timed on its own. After a steward's edit of a person (an
override through GraphQL) the next submission catches the resolver up from the change feed, timed on
its own too. After a person stored by another writer (as another process's `hub ingest` would) the
next submission reads the persons again, timed on its own; a steward's edit sent a quarter of a read
into that submission is timed as well (it should not wait for the read). Target: median <= 50 ms at
1M persons.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import migrated_copy, resolved_sqlite
from console import served
from ingest import argument_parser, city

TARGET_MS = 50.0
SUBMIT = """mutation($records: [PersonRecordInput!]!) {
  submitRecords(source: "tax", records: {persons: $records}) { key outcome entityId unchanged reason } }"""
OVERRIDE = """mutation($id: ID!, $v: Int!) {
  overrideValue(id: $id, version: $v, field: "name", value: "改名测试") { eventId } }"""
VERSION = """query($id: ID!) { person(id: $id) { version } }"""
MERGE = """mutation($into: ID!, $iv: Int!, $other: ID!, $ov: Int!) {
  mergeEntities(into: $into, intoVersion: $iv, other: $other, otherVersion: $ov) { eventId } }"""
SURNAMES = ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "宇文", "长孙"]
GIVEN = ["子轩", "雨桐", "浩然", "诗涵", "梓萱", "俊熙", "若曦", "明轩", "欣怡", "天佑", "嘉懿", "思远"]


def people(url: str, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` household-registry persons with an ID number, with the entity each belongs to."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        rows = connection.execute(
            "SELECT v.payload, m.entity_id FROM source_record r JOIN source s ON s.id = r.source_id"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            " WHERE s.name = 'household_registry' AND r.kind = 'person' AND r.id % 97 = ?"
            " LIMIT ?",
            (seed % 97, n * 4),
        ).fetchall()
    rng = random.Random(seed)
    chosen = rng.sample(rows, min(n, len(rows)))
    out = []
    for payload, entity in chosen:
        person = json.loads(payload)
        if person.get("id_number"):
            out.append({"name": person["name"], "id_number": person["id_number"], "entity": entity})
    return out


def newcomer(rng: random.Random, i: int) -> dict[str, str]:
    return {
        "key": f"bench-new-{i}",
        "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
        "phone": f"19{rng.randrange(10**8, 10**9)}",
    }


def post(http: Any, query: str, **variables: Any) -> dict[str, Any]:
    body: dict[str, Any] = http.post("/graphql", json={"query": query, "variables": variables}).json()
    if "errors" in body:
        raise SystemExit(f"the hub refused: {body['errors']}")
    return body["data"]


def timed(http: Any, record: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One submission of one record: its time in ms and the answer."""
    started = time.perf_counter()
    answer = post(http, SUBMIT, records=[record])["submitRecords"][0]
    return (time.perf_counter() - started) * 1000, answer


def addresses(url: str) -> list[tuple[str, int]]:
    """Two active address entities with their versions, for a steward's merge."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        rows = connection.execute(
            "SELECT id, version FROM entity WHERE kind = 'address' AND status = 'active' ORDER BY id LIMIT 2"
        ).fetchall()
    return [(str(entity), int(version)) for entity, version in rows]


def run(
    base: str,
    url: str,
    writer: str,
    steward: str,
    known: list[dict[str, Any]],
    merged: list[tuple[str, int]],
    requests: int,
    seed: int,
) -> str:
    """Submit and time; the lines to print."""
    import httpx2

    rng = random.Random(seed)
    http = httpx2.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {writer}"})
    edits = httpx2.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {steward}"})
    with http, edits:
        first_ms, _ = timed(http, newcomer(rng, -1))
        times: list[float] = []
        outcomes: Counter[str] = Counter()
        joined_right = duplicates = 0
        for i in range(requests):
            person = known[(i // 2) % len(known)] if i % 2 == 0 and known else None
            if person is not None:
                record = {"key": f"bench-tax-{i}", "name": person["name"], "idNumber": person["id_number"]}
                duplicates += 1
            else:
                record = newcomer(rng, i)
            elapsed, answer = timed(http, record)
            times.append(elapsed)
            outcomes[answer["outcome"]] += 1
            joined_right += person is not None and answer["entityId"] == person["entity"]
        # A steward merges two addresses: no person changed, so the persons' resolver stays warm.
        (into, into_version), (other_address, other_version) = merged
        post(edits, MERGE, into=into, iv=into_version, other=other_address, ov=other_version)
        other_kind_ms, _ = timed(http, newcomer(rng, 10**6 + 2))
        # A steward corrects a person: no record and no weight changed, the resolver is caught up.
        override(edits, known[0]["entity"])
        edited_ms, _ = timed(http, newcomer(rng, 10**6 + 3))
        # Another writer stores a person: the next submission reads the persons again. A steward's
        # edit, sent a quarter of a read into it, shows whether other writers wait for it.
        stored_elsewhere(url, rng)
        after: dict[str, float] = {}
        first_after = newcomer(rng, 10**6)
        with httpx2.Client(base_url=base, timeout=600, headers=dict(http.headers)) as other:
            submitting = threading.Thread(target=lambda: after.update(ms=timed(other, first_after)[0]))
            submitting.start()
            time.sleep(first_ms / 4000)
            edit_ms, edit_code = override(edits, known[1]["entity"])
            submitting.join()
        again_ms, _ = timed(http, newcomer(rng, 10**6 + 1))
    median = statistics.median(times)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return (
        f"  first (reads every person):  {first_ms:8.0f} ms\n"
        f"  next {len(times)} (warm):         median {median:6.1f} ms  p95 {p95:6.1f} ms"
        f"  max {max(times):6.1f} ms  (target: median <= {TARGET_MS:.0f} ms)\n"
        f"  outcomes: {dict(outcomes)}; {joined_right} of {duplicates} known people joined theirs\n"
        f"  after a merge of addresses:  {other_kind_ms:8.1f} ms\n"
        f"  after a steward's edit:      {edited_ms:8.1f} ms\n"
        f"  after a record stored elsewhere: {after['ms']:8.0f} ms, then {again_ms:.1f} ms\n"
        f"  a steward's edit sent {first_ms / 4:.0f} ms into that submission: {edit_code} in {edit_ms:.0f} ms"
    )


def stored_elsewhere(url: str, rng: random.Random) -> None:
    """A person stored by another writer of the database, as another process's `hub ingest` would."""
    from sqlalchemy.orm import Session

    from hub.domain import Kind
    from hub.ingest import ingest_records
    from hub.store.database import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            ingest_records(
                session,
                "grid_collection",
                Kind.PERSON,
                [{"key": f"bench-grid-{rng.random()}", "name": "欧阳明"}],
            )
    finally:
        engine.dispose()


def override(http: Any, entity: str) -> tuple[float, str]:
    """A steward's override of a person's name: its time in ms and its outcome (OK, or the error code)."""
    started = time.perf_counter()
    version = post(http, VERSION, id=entity)["person"]["version"]
    body = http.post("/graphql", json={"query": OVERRIDE, "variables": {"id": entity, "v": version}}).json()
    elapsed = (time.perf_counter() - started) * 1000
    if "errors" in body:
        return elapsed, str(body["errors"][0].get("extensions", {}).get("code", "ERROR"))
    return elapsed, "OK"


def main() -> None:
    parser = argument_parser(__doc__)
    parser.set_defaults(persons="1000000")
    parser.add_argument("--requests", type=int, default=200, help="submissions after the first")
    args = parser.parse_args()
    os.environ.update({"HUB_API_RATE": "0", "HUB_API_CLIENT_CONCURRENCY": "0"})
    from sqlalchemy.orm import Session

    from hub.clients import add_client
    from hub.store.database import make_engine

    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed, args.profile)
        resolved = resolved_sqlite(directory, persons, args.seed)
        with migrated_copy(resolved, "submit.db") as url:
            engine = make_engine(url)
            with Session(engine) as session, session.begin():
                stamp = uuid.uuid4().hex[:6]
                writer = add_client(session, f"bench-writer-{stamp}", "writer", ["source:tax"])
                steward = add_client(session, f"bench-steward-{stamp}", "steward")
            engine.dispose()
            known = people(url, args.requests, args.seed)
            with served(url) as base:
                lines = run(base, url, writer, steward, known, addresses(url), args.requests, args.seed)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"submitRecords, {persons:,} persons, SQLite, one record per request, one at a time\n"
                f"{lines}\n"
                f"  peak RSS of this process (server and client): {peak:,.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""The console's pages: latency (p50, p95, max) of each page, one steward or auditor clicking, on SQLite.

    python bench/console.py --prepare-only              # build the 1M city once (about 15 minutes)
    python bench/console.py                             # 1M persons, 50 requests per page
    python bench/console.py --persons 20000 --requests 30
    python bench/console.py --persons 20000 --pages person,search --sql

The city is the one bench/api.py serves: generated and ingested once (bench/ingest.py and
bench/resolve.py cache both under bench/out/), then resolved and linked with `hub resolve --all` and
cached as bench/out/city-N-SEED-resolved.db (delete it after resolution changed). `--prepare-only`
makes that cache and stops: a 1M city took 15 minutes on two cores (generating 1 min, ingesting 11,
resolving and linking 3) while other work ran. SQLite only: the shared `--postgres` option is unused.

Each run serves a copy of it, migrated to the current schema, in this process: the hub's whole web
app (`hub.console.create_app`) under uvicorn in a thread, on a free port of 127.0.0.1, without rate
limits. A new steward client (with `pii:read`) and a new auditor sign in through the sign-in form,
as a person does, and keep their session cookies. Inputs are sampled from the database with a fixed
seed: open review items, active persons, addresses and legal entities, and names, address texts and
credit codes as the sources wrote them (for the searches). Each page is requested three times to warm
up, then `--requests` times, one at a time, each time with the next input.

Each line gives the requests, the HTTP statuses seen, p50, p95 and max in ms; the p95 of the CPU time
this process spent per request (server and client: what the page costs, whatever else competes for
the cores); and the SQL statements per request with the time spent running them and fetching their
rows (median per request). A page far above its SQL time spends it in Python (GraphQL, rendering); one
with many statements runs a query per row. A page that answers only 404 is "not built" (someone is
still building it). The biggest entities (the address with the most residents, the legal entity with
the most people linked, the person with the most records) are measured on their own, since p95 over
random ids hides them. The target is p95 <= 200 ms for every page; the last line names the pages over
it. `--sql` prints each slow page's costliest statements.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import entity_ids, migrated_copy, payload_values, resolved_sqlite, sample, scalars
from ingest import argument_parser, city

TARGET_MS = 200.0
WARMUP = 3
SEED = 1


@dataclass(frozen=True)
class Target:
    """A page to time: its name, who asks for it, and its path for the n-th input of `inputs`."""

    name: str
    role: str
    path: str  # "{}" is the input, quoted for a path or a query string
    inputs: str | None = None


PAGES = [
    Target("home", "steward", "/console/"),
    Target("queue", "steward", "/console/queue"),
    Target("queue person, band 0.5-0.7", "steward", "/console/queue?kind=PERSON&band=EVEN"),
    Target("review pair", "steward", "/console/review/{}", "review"),
    Target("person", "steward", "/console/person/{}", "person"),
    Target("address", "steward", "/console/address/{}", "address"),
    Target("legal entity", "steward", "/console/legal-entity/{}", "legal"),
    Target("person as of last run", "steward", "/console/person/{}?as_of={as_of}", "person"),
    Target("search name", "steward", "/console/search?q={}", "name"),
    Target("search address text", "steward", "/console/search?q={}", "address_text"),
    Target("search credit code", "steward", "/console/search?q={}", "uscc"),
    Target("audit", "auditor", "/console/audit"),
    Target("access log", "auditor", "/console/access-log"),
    Target("quarantine", "steward", "/console/quarantine"),
    Target("quality", "steward", "/console/quality"),
]
BIGGEST = [
    Target("biggest address", "steward", "/console/address/{}", "biggest_address"),
    Target("biggest legal entity", "steward", "/console/legal-entity/{}", "biggest_legal"),
    Target("biggest person", "steward", "/console/person/{}", "biggest_person"),
    Target("biggest person as of", "steward", "/console/person/{}?as_of={as_of}", "biggest_person"),
]


def options() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.set_defaults(persons="1000000")
    parser.add_argument("--requests", type=int, default=50, help="requests per page, after the warm-up")
    parser.add_argument("--pages", help="comma-separated words: only the pages whose name holds one")
    parser.add_argument("--sql", action="store_true", help="print the costliest statements of slow pages")
    parser.add_argument("--prepare-only", action="store_true", help="build the cached city and stop")
    return parser.parse_args()


# ---- the inputs -------------------------------------------------------------------------------------


def sample_inputs(connection: Any) -> dict[str, list[str]]:
    """The pages' inputs, read from the database; the same every run (fixed seed)."""
    rng = random.Random(SEED)
    finished = scalars(connection, "SELECT max(finished_at) FROM resolution_run")[0]
    last_run = datetime.fromisoformat(str(finished))
    return {
        "review": [
            str(i)
            for i in sample(rng, scalars(connection, "SELECT id FROM review_item WHERE status != 'decided'"))
        ],
        "person": entity_ids(connection, "person", rng),
        "address": entity_ids(connection, "address", rng),
        "legal": entity_ids(connection, "legal_entity", rng),
        "name": payload_values(connection, "person", "name", rng),
        "address_text": payload_values(connection, "address", "address", rng),
        "uscc": payload_values(connection, "legal_entity", "uscc", rng),
        # A second after the last resolution: the entity as it stood when the city was resolved.
        "as_of": [(last_run.replace(tzinfo=last_run.tzinfo or UTC) + timedelta(seconds=1)).isoformat()],
        "biggest_address": scalars(
            connection,
            "SELECT object_id FROM link WHERE relation IN ('lives_at', 'household_registered_at')"
            " AND valid_to IS NULL GROUP BY object_id ORDER BY count(*) DESC LIMIT 1",
        ),
        "biggest_legal": scalars(
            connection,
            "SELECT object_id FROM link WHERE relation IN ('employed_by', 'legal_representative')"
            " AND valid_to IS NULL GROUP BY object_id ORDER BY count(*) DESC LIMIT 1",
        ),
        "biggest_person": scalars(
            connection,
            "SELECT m.entity_id FROM membership m JOIN entity e ON e.id = m.entity_id"
            " WHERE e.kind = 'person' AND m.valid_to IS NULL"
            " GROUP BY m.entity_id ORDER BY count(*) DESC LIMIT 1",
        ),
    }


def sizes(connection: Any, inputs: dict[str, list[str]]) -> dict[str, str]:
    """What makes each biggest entity big, for its line."""

    def count(sql: str, key: str) -> int:
        values = inputs[key]
        return int(scalars(connection, sql, id=values[0])[0]) if values else 0

    return {
        "biggest_address": f"{count(_LINKED.format('object_id', _HOMES), 'biggest_address'):,} residents",
        "biggest_legal": f"{count(_LINKED.format('object_id', _WORK), 'biggest_legal'):,} people",
        "biggest_person": f"{count(_MEMBERS, 'biggest_person'):,} records",
    }


_HOMES = "'lives_at', 'household_registered_at'"
_WORK = "'employed_by', 'legal_representative'"
_LINKED = "SELECT count(*) FROM link WHERE {} = :id AND relation IN ({}) AND valid_to IS NULL"
_MEMBERS = "SELECT count(*) FROM membership WHERE entity_id = :id AND valid_to IS NULL"


# ---- the server and its statements ------------------------------------------------------------------


@dataclass
class Statements:
    """Every SQL statement the server runs while `taking` is set (one request at a time), with the time
    spent running it and fetching its rows."""

    taking: bool = False
    count: int = 0
    seconds: float = 0.0
    costs: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, statement: str, seconds: float, *, ran: bool) -> None:
        if self.taking:
            shape = re.sub(r"\s+", " ", statement).strip()
            with self._lock:
                self.count += ran
                self.seconds += seconds
                self.costs[shape] += seconds
                self.calls[shape] += ran

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self.seconds = 0.0

    def forget(self) -> None:
        with self._lock:
            self.costs.clear()
            self.calls.clear()


STATEMENTS = Statements()


class _TimedCursor(sqlite3.Cursor):
    """A cursor that tells `STATEMENTS` what it runs. The hub reads through SQLAlchemy and, where rows
    are many, through the driver's own cursors: timing the driver's cursor sees both."""

    statement = ""

    def _timed(self, call: Callable[[], Any], *, ran: bool) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            STATEMENTS.add(self.statement, time.perf_counter() - started, ran=ran)

    def execute(self, sql: str, parameters: Any = (), /) -> _TimedCursor:
        self.statement = sql
        return self._timed(lambda: super(_TimedCursor, self).execute(sql, parameters), ran=True)

    def executemany(self, sql: str, parameters: Any, /) -> _TimedCursor:
        self.statement = sql
        return self._timed(lambda: super(_TimedCursor, self).executemany(sql, parameters), ran=True)

    def fetchone(self) -> Any:
        return self._timed(super().fetchone, ran=False)

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        return self._timed(lambda: super(_TimedCursor, self).fetchmany(size or self.arraysize), ran=False)

    def fetchall(self) -> list[Any]:
        return self._timed(super().fetchall, ran=False)

    def __next__(self) -> Any:
        return self._timed(super().__next__, ran=False)


class _TimedConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _TimedCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)


@contextmanager
def served(url: str) -> Iterator[str]:
    """The hub's web app on `url` under uvicorn in a thread of this process; its base URL."""
    import uvicorn

    from hub.console import create_app
    from hub.store.database import make_engine

    engine = make_engine(url, connect_args={"factory": _TimedConnection})
    config = uvicorn.Config(
        create_app(engine), host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the console's server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def signed_in(base: str, token: str) -> Any:
    """An HTTP client holding the console session of the client whose token is `token`."""
    import httpx2

    http = httpx2.Client(base_url=base, timeout=60)
    response = http.post("/console/sign-in", data={"token": token, "next": "/console/"})
    if response.status_code != 303 or "sign-in" in response.headers.get("location", ""):
        raise SystemExit(f"sign-in refused: HTTP {response.status_code}")
    return http


# ---- measuring --------------------------------------------------------------------------------------


@dataclass
class Timing:
    times_ms: list[float]
    statuses: Counter[int]
    statements: list[int]
    sql_ms: list[float]
    cpu_ms: list[float]

    def p95(self, values: list[float] | None = None) -> float:
        values = self.times_ms if values is None else values
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=20, method="inclusive")[18]

    def not_built(self) -> bool:
        return set(self.statuses) == {404}


def measure(http: Any, path: Callable[[int], str], requests: int, statements: Statements) -> Timing:
    timing = Timing([], Counter(), [], [], [])
    for i in range(WARMUP + requests):
        statements.reset()
        statements.taking = i >= WARMUP
        started, cpu = time.perf_counter(), time.process_time()
        response = http.get(path(i))
        elapsed = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - cpu) * 1000
        statements.taking = False
        if i >= WARMUP:
            timing.times_ms.append(elapsed)
            timing.statuses[response.status_code] += 1
            timing.statements.append(statements.count)
            timing.sql_ms.append(statements.seconds * 1000)
            timing.cpu_ms.append(cpu_ms)
    return timing


def path_of(target: Target, inputs: dict[str, list[str]]) -> Callable[[int], str] | None:
    """The target's path for the n-th request, or None when the database has no input for it."""
    values = inputs[target.inputs] if target.inputs else [""]
    if not values:
        return None
    as_of = quote(inputs["as_of"][0], safe="")
    return lambda n: target.path.format(quote(values[n % len(values)], safe=""), as_of=as_of)


def line(name: str, timing: Timing, note: str = "") -> str:
    shown = ",".join(f"{s}" if n == len(timing.times_ms) else f"{s}x{n}" for s, n in timing.statuses.items())
    if timing.not_built():
        return f"{name:<28}{len(timing.times_ms):>9} {'404':>10}   not built"
    return (
        f"{name:<28}{len(timing.times_ms):>9} {shown:>10}{statistics.median(timing.times_ms):>9.1f}"
        f"{timing.p95():>9.1f}{max(timing.times_ms):>9.1f}{timing.p95(timing.cpu_ms):>9.1f}"
        f"{statistics.median(timing.statements):>8.0f}{statistics.median(timing.sql_ms):>9.1f}  {note}"
    ).rstrip()


def bench(url: str, persons: int, args: argparse.Namespace) -> None:
    """Sample the inputs, make the clients, serve `url`, time every page; print a line per page."""
    from sqlalchemy.orm import Session

    from hub.clients import add_client
    from hub.store.database import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        inputs = sample_inputs(connection)
        notes = sizes(connection, inputs)
    with Session(engine) as session, session.begin():
        stamp = uuid.uuid4().hex[:6]
        tokens = {
            "steward": add_client(session, f"bench-steward-{stamp}", "steward", ["pii:read"]),
            "auditor": add_client(session, f"bench-auditor-{stamp}", "auditor"),
        }
    engine.dispose()
    wanted = [w.strip() for w in (args.pages or "").split(",") if w.strip()]
    targets = [t for t in PAGES + BIGGEST if not wanted or any(w in t.name for w in wanted)]
    statements = STATEMENTS
    sampled = ("review", "person", "address", "legal", "name", "address_text", "uscc")
    counts = ", ".join(f"{len(inputs[k])} {k}" for k in sampled)
    print(
        f"console pages, {persons:,} persons, SQLite, served in process; {args.requests} requests per page"
        f" after {WARMUP} warm-up, one at a time; inputs: {counts}",
        flush=True,
    )
    print(
        f"{'page':<28}{'requests':>9} {'statuses':>10}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'CPU p95':>9}"
        f"{'SQL/req':>8}{'SQL ms':>9}"
    )
    slow, missing = [], []
    with served(url) as base:
        sessions = {role: signed_in(base, token) for role, token in tokens.items()}
        for target in targets:
            path = path_of(target, inputs)
            if path is None:
                print(f"{target.name:<28} no input in the database: skipped", flush=True)
                continue
            statements.forget()
            timing = measure(sessions[target.role], path, args.requests, statements)
            note = notes.get(target.inputs or "", "")
            print(line(target.name, timing, note), flush=True)
            if timing.not_built():
                missing.append(target.name)
            elif timing.p95() > TARGET_MS:
                slow.append(f"{target.name} ({timing.p95():.0f} ms)")
                if args.sql:
                    costliest(statements, len(timing.times_ms))
        for http in sessions.values():
            http.close()
    print(f"over {TARGET_MS:.0f} ms p95: {', '.join(slow) or 'none'}", flush=True)
    if missing:
        print(f"not built yet: {', '.join(missing)}", flush=True)


def costliest(statements: Statements, requests: int, shown: int = 3) -> None:
    for shape, seconds in sorted(statements.costs.items(), key=lambda c: -c[1])[:shown]:
        calls = statements.calls[shape] / requests
        print(f"    {seconds / requests * 1000:8.1f} ms/req in {calls:5.1f} calls: {shape[:240]}", flush=True)


def main() -> None:
    args = options()
    os.environ.update({"HUB_API_RATE": "0", "HUB_API_CLIENT_CONCURRENCY": "0"})  # one client, many pages
    for persons in (int(p) for p in args.persons.split(",")):
        started = time.perf_counter()
        directory = city(persons, args.seed, args.profile)
        resolved = resolved_sqlite(directory, persons, args.seed)
        if args.prepare_only:
            print(f"{resolved} ready in {time.perf_counter() - started:.0f} s", flush=True)
            continue
        with migrated_copy(resolved, "console.db") as url:
            bench(url, persons, args)


if __name__ == "__main__":
    main()

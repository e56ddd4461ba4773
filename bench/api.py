"""GraphQL over HTTP: latency (p50, p99) and requests per second per query, served as in production.

    python bench/api.py                               # 100k persons, SQLite (+ PostgreSQL if configured)
    python bench/api.py --persons 1000000 --postgres ""   # 1M persons, SQLite only
    python bench/api.py --persons 100000,1000000 --seconds 20 --postgres postgresql+psycopg://u@host/db

For each city size and database: the city is generated, ingested and resolved once with `hub resolve
--all` (which also builds the entity links). For SQLite the resolved database is cached as
bench/out/city-N-SEED-resolved.db (delete it after resolution changed) and a copy, migrated to the
current schema, is served; PostgreSQL gets a fresh database, dropped at the end. `hub serve --workers
2` serves it with the production settings (two uvicorn worker processes, no access log) behind a
reader token made with `hub clients add`.

Inputs are sampled from the database with a fixed seed, 200 for each query: active entity ids;
addresses where someone lives who works for or represents a legal entity (so that the three hops
address → residents → legal entities → addresses find something); source record keys; person names,
company names and address texts as the sources spelled them (for the searches).

A second process drives the server over keep-alive HTTP/1.1 connections of its own, sharing neither
an event loop nor a GIL with the server. The client is a lean one, so that the load generator takes as
little as it can of the two cores it shares with the server (see `Connection`). For each query, at 1
and at 16 requests in flight: 20 warm-up requests, then requests for `--seconds` (or until the inputs
have cycled `--requests` times). Each line gives the requests, the errors (HTTP status other than 200,
or GraphQL errors; the first message is printed once), the median and 99th percentile latency in ms
and the requests per second, with the targets: threeHop p99 <= 50 ms alone and >= 300 req/s at 16 in
flight; searchPersons p99 <= 100 ms alone.

Then bench/bare.py (the same 3-hop SQL behind a bare Starlette endpoint, no API) is served the same way
beside the hub and driven with the same threeHop requests; then the two are driven in turn at 16 in
flight, five rounds (`--rounds`), and the last line gives the median of the rounds' shares: the hub's
requests per second as a share of the bare endpoint's (goal >= 0.5). Each round measures both at the
same speed of the machine, which moves from one minute to the next here, so the share does not depend
on it. A round's own figure also depends on how its 16 new connections fall on the two worker
processes of the server it drives (now and then all on one, which then serves them alone on one
core): hence the median of several rounds. Each round also gives both servers' CPU time per
request (their processes' from /proc, warm-up included), and the last line the median ratio of the
two: the same comparison, free of how the connections fell.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

CACHE = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import argument_parser, city, postgres_database  # noqa: E402
from resolve import ingested, ingested_sqlite  # noqa: E402

SAMPLE = 200
SAMPLE_SEED = 1
WARMUP = 20
CONCURRENCY = (1, 16)
SHARE_ROUNDS = 5
HEALTH_TIMEOUT = 60.0
HUB = [sys.executable, "-m", "hub"]

QUERIES = {
    "person": "query($id: ID!) { person(id: $id) { id name idNumber birthDate gender phone } }",
    "address": "query($id: ID!) { address(id: $id) { id text } }",
    "legalEntity": "query($id: ID!) { legalEntity(id: $id) { id name uscc } }",
    "sourceRecord": "query($s: String!, $k: EntityKind!, $key: String!)"
    " { sourceRecord(source: $s, kind: $k, key: $key) { entityId } }",
    "threeHop": "query($id: ID!) { address(id: $id) { id text residents { relation person { id name"
    " legalEntities { role legalEntity { id name addresses { relation address { id text } } } } } } } }",
    "searchPersons": "query($n: String!) { searchPersons(name: $n, first: 10) { score person { id name } } }",
    "searchAddresses": "query($t: String!)"
    " { searchAddresses(text: $t, first: 10) { score address { id text } } }",
    "searchLegalEntities": "query($n: String!)"
    " { searchLegalEntities(name: $n, first: 10) { score legalEntity { id name } } }",
}

# (query, concurrency) -> (figure, bound, whether the figure must be at most the bound)
TARGETS = {
    ("threeHop", 1): ("p99_ms", 50.0, True),
    ("threeHop", 16): ("per_second", 300.0, False),
    ("searchPersons", 1): ("p99_ms", 100.0, True),
}


def options() -> argparse.Namespace:
    """The shared city options (see bench/ingest.py) and how long to drive each query."""
    parser = argument_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="time measured per query and load")
    parser.add_argument(
        "--requests", type=int, default=100, help="stop earlier once the inputs have cycled this many times"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=SHARE_ROUNDS,
        help="rounds of the hub against the bare endpoint, the share their median (more on a noisy machine)",
    )
    return parser.parse_args()


# ---- the databases ----------------------------------------------------------------------------------


def hub_env(url: str) -> dict[str, str]:
    return {**os.environ, "HUB_DATABASE_URL": url}


def migrate(url: str) -> None:
    """`hub db upgrade`: a cached database may be older than the hub, which then refuses to serve it."""
    subprocess.run([*HUB, "db", "upgrade"], env=hub_env(url), check=True, stdout=sys.stderr)


def resolve_all(url: str) -> None:
    """Resolve every kind the way an operator does, in a child process: entities, then entity links."""
    migrate(url)
    started = time.perf_counter()
    subprocess.run([*HUB, "resolve", "--all", "-q"], env=hub_env(url), check=True, stdout=sys.stderr)
    print(f"`hub resolve --all` took {time.perf_counter() - started:.0f} s", file=sys.stderr)


def resolved_sqlite(directory: Path, persons: int, seed: int) -> Path:
    """The cached resolved SQLite database, made from the ingested one that bench/resolve.py caches."""
    resolved = CACHE / f"{directory.name}-resolved.db"
    if resolved.exists():
        return resolved
    cached = ingested_sqlite(directory, persons, seed)
    part = Path(f"{resolved}.part")
    for leftover in (part, Path(f"{part}-wal"), Path(f"{part}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(cached, part)
    resolve_all(f"sqlite:///{part}")
    checkpoint(part)
    part.rename(resolved)
    return resolved


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so that the file alone can be renamed and copied."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    Path(f"{path}-wal").unlink(missing_ok=True)
    Path(f"{path}-shm").unlink(missing_ok=True)


def reader_token(url: str) -> str:
    """A new API client with the reader role that may see personal data; its token (last line of stdout)."""
    return client_token(url, f"bench-{os.getpid()}", "reader", "pii:read")


def client_token(url: str, name: str, role: str, *scopes: str) -> str:
    """A new API client `name` with `role` (and `scopes`, else the default ones); its token."""
    result = subprocess.run(
        [*HUB, "clients", "add", name, "--role", role, *(a for s in scopes for a in ("--scope", s))],
        env=hub_env(url),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise SystemExit(f"`hub clients add` failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1].strip()


# ---- sampling the inputs ----------------------------------------------------------------------------


def sample_inputs(url: str) -> dict[str, list[dict[str, str]]]:
    """The variables of every query, read from the database; the same every run (fixed seed)."""
    from hub.store.database import make_engine

    engine = make_engine(url)
    rng = random.Random(SAMPLE_SEED)
    try:
        with engine.connect() as connection:
            return {
                "person": [{"id": i} for i in entity_ids(connection, "person", rng)],
                "address": [{"id": i} for i in entity_ids(connection, "address", rng)],
                "legalEntity": [{"id": i} for i in entity_ids(connection, "legal_entity", rng)],
                "sourceRecord": source_records(connection, rng),
                "threeHop": [{"id": i} for i in three_hop_addresses(connection, rng)],
                "searchPersons": [{"n": v} for v in payload_values(connection, "person", "name", rng)],
                "searchAddresses": [{"t": v} for v in payload_values(connection, "address", "address", rng)],
                "searchLegalEntities": [
                    {"n": v} for v in payload_values(connection, "legal_entity", "name", rng)
                ],
            }
    finally:
        engine.dispose()


def sample(rng: random.Random, values: Iterable[Any], size: int = SAMPLE) -> list[Any]:
    """A random sample that depends only on the seed and the values, not on the order the database chose."""
    population = sorted(values)
    return rng.sample(population, min(size, len(population)))


def scalars(connection: Any, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    return [value for (value,) in connection.execute(text(sql), params)]


def entity_ids(connection: Any, kind: str, rng: random.Random) -> list[str]:
    return sample(
        rng, scalars(connection, "SELECT id FROM entity WHERE kind = :kind AND status = 'active'", kind=kind)
    )


def three_hop_addresses(connection: Any, rng: random.Random) -> list[str]:
    """Homes of persons who work for or represent a legal entity: every hop of threeHop has rows."""
    sql = """
        SELECT DISTINCT home.object_id FROM link home
        WHERE home.relation = 'lives_at' AND home.valid_to IS NULL AND EXISTS (
            SELECT 1 FROM link work
            WHERE work.subject_id = home.subject_id AND work.valid_to IS NULL
              AND work.relation IN ('employed_by', 'legal_representative'))
    """
    return sample(rng, scalars(connection, sql))


def source_records(connection: Any, rng: random.Random) -> list[dict[str, str]]:
    """Sampled (source, kind, key) of source records; ids first, so that a big city's keys stay unread."""
    from sqlalchemy import bindparam, text

    ids = sample(rng, scalars(connection, "SELECT id FROM source_record"))
    query = text(
        "SELECT s.name, r.kind, r.key FROM source_record r JOIN source s ON s.id = r.source_id"
        " WHERE r.id IN :ids ORDER BY r.id"
    ).bindparams(bindparam("ids", expanding=True))
    return [
        {"s": source, "k": kind.upper(), "key": key}
        for source, kind, key in connection.execute(query, {"ids": ids})
    ]


def payload_values(connection: Any, kind: str, name: str, rng: random.Random) -> list[str]:
    """Field `name` of sampled records' current payloads, as the source wrote it (empty values skipped)."""
    from sqlalchemy import select

    from hub.store.models import RecordVersion, SourceRecord

    records = scalars(connection, "SELECT id FROM source_record WHERE kind = :kind", kind=kind)
    ids = sample(rng, records, 2 * SAMPLE)  # twice as many: some values are empty
    payloads = connection.execute(
        select(RecordVersion.payload)
        .join(
            SourceRecord,
            (SourceRecord.id == RecordVersion.record_id) & (SourceRecord.version == RecordVersion.version),
        )
        .where(SourceRecord.id.in_(ids))
        .order_by(SourceRecord.id)
    ).scalars()
    values = [p.get(name) for p in payloads]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()][:SAMPLE]


# ---- the server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def served(url: str, log: Path) -> Iterator[str]:
    """`hub serve` with the production settings on a free port; its base URL once /health answers 200."""
    port = free_port()
    # One token drives every request here: no per-client rate or share (the environment may set them).
    env = {"HUB_API_RATE": "0", "HUB_API_CLIENT_CONCURRENCY": "0", **hub_env(url)}
    command = [*HUB, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running(command, env, port, log) as base:
        yield base


@contextlib.contextmanager
def served_bare(url: str, log: Path) -> Iterator[str]:
    """bench/bare.py's endpoint (the same 3-hop SQL without the API) under uvicorn with two workers, as
    `hub serve` runs; its base URL once /health answers 200."""
    port = free_port()
    here = Path(__file__).resolve().parent
    command = [
        *(sys.executable, "-m", "uvicorn", "bare:app", "--app-dir", str(here), "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", "2", "--no-access-log", "--log-level", "warning"),
    ]
    with running(command, hub_env(url), port, log) as base:
        yield base


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """A server `command` listening on `port`, its output in `log`: its base URL once healthy."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers can be stopped with it
        )
    base = f"http://127.0.0.1:{port}"
    _SERVERS[base] = server.pid
    try:
        wait_healthy(server, base, log)
        yield base
    finally:
        _SERVERS.pop(base, None)
        stop(server)


# base URL → the process id of the server `running` started there, for `cpu_seconds`
_SERVERS: dict[str, int] = {}


def cpu_seconds(base: str) -> float:
    """The CPU time the server at `base` has used so far: its process and every one under it (the
    uvicorn workers), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [_SERVERS[base]]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        pending += [int(child) for child in children]
    return total


@contextlib.contextmanager
def migrated_copy(resolved: Path, name: str) -> Iterator[str]:
    """A copy of the cached resolved city in a temporary folder, migrated to the current schema and
    made the hub's database (`HUB_DATABASE_URL`): its URL, for as long as the block runs."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / name
        shutil.copyfile(resolved, work)
        url = f"sqlite:///{work}"
        migrate(url)
        os.environ["HUB_DATABASE_URL"] = url
        yield url


def wait_healthy(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Poll GET /health until 200; fail early if the server exits, with the end of its log."""
    import httpx2

    deadline = time.monotonic() + HEALTH_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"`hub serve` exited with {server.returncode}:\n{log_tail(log)}")
        try:
            response = httpx2.get(f"{base}/health", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx2.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise SystemExit(f"/health did not answer 200 within {HEALTH_TIMEOUT:.0f} s ({last}):\n{log_tail(log)}")


def log_tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop(server: subprocess.Popen[bytes]) -> None:
    """Terminate the server (uvicorn stops its workers), kill its process group if it does not stop."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # any worker left behind


# ---- the driver (child process) ---------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies (seconds) and errors of the measured requests."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def add(self, seconds: float, error: str | None) -> None:
        self.latencies.append(seconds)
        if error is not None:
            self.errors += 1
            self.first_error = self.first_error or error


def drive(spec_path: Path) -> None:
    """The child: every query at every concurrency; one JSON line of figures each, as soon as known."""
    spec = json.loads(spec_path.read_text())
    asyncio.run(drive_all(spec))


async def drive_all(spec: dict[str, Any]) -> None:
    for name, variables in spec["inputs"].items():
        bodies = [orjson.dumps({"query": QUERIES[name], "variables": v}) for v in variables]
        for concurrency in spec.get("concurrency", CONCURRENCY):
            figures = await measure(spec, bodies, concurrency)
            print(json.dumps({"query": name, "concurrency": concurrency, **figures}), flush=True)


async def measure(spec: dict[str, Any], bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    """Warm up, then send requests with `concurrency` in flight until time is up or the inputs cycled.

    The warm-up stops after `seconds` too: a server that hangs must not hold the run for 20 timeouts.
    """
    import numpy as np

    connections = [await Connection.open(spec["base"], spec["token"]) for _ in range(concurrency)]
    try:
        warmup = itertools.islice(itertools.cycle(bodies), WARMUP)
        await send_all(connections, warmup, time.perf_counter() + spec["seconds"], Tally())
        tally = Tally()
        started = time.perf_counter()
        requests = itertools.islice(itertools.cycle(bodies), len(bodies) * spec["cycles"])
        await send_all(connections, requests, started + spec["seconds"], tally)
        wall = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    p50, p99 = np.percentile(tally.latencies, [50, 99]) * 1000 if tally.latencies else (0.0, 0.0)
    return {
        "requests": len(tally.latencies),
        "errors": tally.errors,
        "first_error": tally.first_error,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "per_second": len(tally.latencies) / wall,
    }


async def send_all(
    connections: list[Connection], bodies: Iterator[bytes], deadline: float, tally: Tally
) -> None:
    """One task per connection pulls from one shared iterator of prepared bodies (one event loop)."""

    async def worker(connection: Connection) -> None:
        for body in bodies:
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            error = await connection.post(body)
            tally.add(time.perf_counter() - started, error)

    await asyncio.gather(*(worker(c) for c in connections))


class Connection:
    """One keep-alive HTTP/1.1 connection posting GraphQL requests: a load generator that takes as
    little as it can of the cores it shares with the server being measured. (With httpx as the client,
    the same server on the same 100k city served the 3-hop query at 421 req/s at 16 in flight, against
    516 with this one.) It reads each response whole (Content-Length or chunked) and checks the status
    and the GraphQL errors."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, base: str, token: str) -> Connection:
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        return cls(reader, writer, head)

    def close(self) -> None:
        self.writer.close()

    async def post(self, body: bytes) -> str | None:
        """Send one request; return why it failed, or None."""
        try:
            status, content = await self.exchange(body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            return f"{type(exc).__name__} (no response) {exc}".strip()
        if status != 200:
            return f"HTTP {status}: {content[:300].decode(errors='replace')}"
        try:
            errors = orjson.loads(content).get("errors")
        except (orjson.JSONDecodeError, AttributeError):
            return f"not a JSON object: {content[:300].decode(errors='replace')}"
        return str(errors[0].get("message", errors[0]))[:300] if errors else None

    async def exchange(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; the response's status and body (OSError, IncompleteReadError or ValueError
        when no whole response came)."""
        self.writer.write(b"%s%d\r\n\r\n%s" % (self.head, len(body), body))
        status_line = await self.reader.readuntil(b"\r\n")
        length, chunked = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            content = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            content = await self.reader.readexactly(length)
        return int(status_line.split()[1]), content


def driven(spec: dict[str, Any], directory: Path) -> Iterator[dict[str, Any]]:
    """Run the driver in a child process; its figures as they come. It never outlives the run."""
    spec_path = directory / "drive.json"
    spec_path.write_text(json.dumps(spec))
    with subprocess.Popen(
        [sys.executable, __file__, "--child", str(spec_path)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                yield json.loads(line)
        except BaseException:  # also GeneratorExit, when the caller stops early
            child.kill()
            raise
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, child.args)


# ---- the report -------------------------------------------------------------------------------------


def header() -> str:
    return (
        f"{'database':<11}{'persons':>9} {'query':<20}{'conc':>5}{'requests':>10}{'errors':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}  target"
    )


def line(database: str, persons: int, r: dict[str, Any]) -> str:
    text = (
        f"{database:<11}{persons:>9} {r['query']:<20}{r['concurrency']:>5}"
        f"{r['requests']:>10,}{r['errors']:>8,}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['per_second']:>9,.0f}"
    )
    return text + target(r)


def target(r: dict[str, Any]) -> str:
    """The goal of this query at this concurrency, and whether it is met (errors never meet it)."""
    goal = TARGETS.get((r["query"], r["concurrency"]))
    if goal is None:
        return ""
    figure, bound, at_most = goal
    value = r[figure]
    met = r["errors"] == 0 and (value <= bound if at_most else value >= bound)
    wanted = f"p99 <= {bound:.0f} ms" if figure == "p99_ms" else f">= {bound:.0f} req/s"
    return f"  {wanted}: {'met' if met else 'MISSED'}"


def bench(database: str, persons: int, url: str, args: argparse.Namespace, directory: Path) -> None:
    """Sample the inputs, make a token, serve `url`, drive it; print a line per query and concurrency."""
    migrate(url)
    inputs = sample_inputs(url)
    for name, variables in inputs.items():
        if not variables:
            print(f"{database:<11}{persons:>9} {name:<20} no inputs in the database: skipped", flush=True)
    spec = {
        "token": reader_token(url),
        "seconds": args.seconds,
        "cycles": args.requests,
        "rounds": args.rounds,
        "inputs": {name: variables for name, variables in inputs.items() if variables},
    }
    shown: set[str] = set()
    log = directory / "server.log"
    try:
        with served(url, log) as base:
            for r in driven({**spec, "base": base}, directory):
                print(line(database, persons, r), flush=True)
                if r["first_error"] and r["query"] not in shown:
                    shown.add(r["query"])
                    print(f"{'':<21}first error of {r['query']}: {r['first_error']}", flush=True)
            if "threeHop" in spec["inputs"]:
                with served_bare(url, directory / "bare.log") as bare_base:
                    share(database, persons, spec, base, bare_base, directory)
    finally:
        keep_log(log, database, persons)


def share(database: str, persons: int, spec: dict[str, Any], hub: str, bare: str, directory: Path) -> None:
    """The bare endpoint's threeHop at both concurrencies, then the hub's and the bare endpoint's at 16
    in flight in turn, `rounds` times (`--rounds`): each round's share, and their median against the goal. The
    two servers are up together, so that each pair is measured at the same speed of the machine."""
    three_hop = {**spec, "inputs": {"threeHop": spec["inputs"]["threeHop"]}}
    for r in driven({**three_hop, "base": bare}, directory):
        print(line(f"{database}*", persons, {**r, "query": "threeHop, bare"}), flush=True)
    shares, cpu_shares = [], []
    rounds = int(spec.get("rounds", SHARE_ROUNDS))
    for round_ in range(1, rounds + 1):
        at_16 = {**three_hop, "concurrency": [16]}
        (ours, our_cpu), (theirs, their_cpu) = (
            per_second({**at_16, "base": b}, directory) for b in (hub, bare)
        )
        shares.append(ours / theirs if theirs else 0.0)
        cpu_shares.append(their_cpu / our_cpu if our_cpu else 0.0)
        print(
            f"{'':<21}threeHop at 16 in flight, round {round_}: the hub {ours:,.0f} req/s, the bare endpoint"
            f" {theirs:,.0f}: {shares[-1]:.2f} (server CPU per request {our_cpu:.2f} ms against"
            f" {their_cpu:.2f}: {cpu_shares[-1]:.2f})",
            flush=True,
        )
    median = statistics.median(shares)
    print(
        f"{'':<21}threeHop at 16 in flight: the hub serves {median:.2f} of the bare endpoint's requests per"
        f" second (median of {rounds} rounds; goal >= 0.5: {'met' if median >= 0.5 else 'MISSED'});"
        " * = bench/bare.py, the same SQL without the API",
        flush=True,
    )
    print(
        f"{'':<21}by the servers' CPU per request, which does not depend on how a round's connections fall"
        f" on the worker processes: {statistics.median(cpu_shares):.2f} (median)",
        flush=True,
    )


def per_second(spec: dict[str, Any], directory: Path) -> tuple[float, float]:
    """Requests per second of the one query and concurrency `spec` names, and the server's CPU
    milliseconds per request meanwhile (its warm-up requests counted)."""
    before = cpu_seconds(spec["base"])
    (figures,) = driven(spec, directory)
    used = cpu_seconds(spec["base"]) - before
    return float(figures["per_second"]), 1000 * used / max(1, figures["requests"] + WARMUP)


def keep_log(log: Path, database: str, persons: int) -> None:
    """The server logs the tracebacks of unexpected errors (clients only see that one happened): keep them."""
    if log.exists() and log.stat().st_size:
        kept = CACHE / f"api-server-{database}-{persons}.log"
        shutil.copyfile(log, kept)
        print(f"{'':<21}the server wrote to its log: {kept}", flush=True)


def main() -> None:
    args = options()
    if args.child:
        drive(args.child)
        return
    print(header(), flush=True)
    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed, args.profile)
        resolved = resolved_sqlite(directory, persons, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "bench.db"
            shutil.copyfile(resolved, work)
            bench("sqlite", persons, f"sqlite:///{work}", args, Path(tmp))
        if args.postgres:
            url, drop = postgres_database(args.postgres)
            try:
                ingested(directory, url)
                resolve_all(url)
                with tempfile.TemporaryDirectory() as tmp:
                    bench("postgresql", persons, url, args, Path(tmp))
            finally:
                if callable(drop):
                    drop()


if __name__ == "__main__":
    main()

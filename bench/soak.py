"""Soak: mixed reads and steward edits at 16 in flight for 10 minutes, PostgreSQL, two server processes.

    python bench/soak.py                                  # 5,000 persons, 600 s, HUB_TEST_POSTGRES_URL
    python bench/soak.py --seconds 30 --persons 2000 --postgres postgresql+psycopg://u@host/db
    python bench/soak.py --server-env HUB_SOME_LIMIT=1000 # an environment variable for the server

Setup, as bench/api.py does it (its pieces are imported): the generated city (cached under bench/out/)
is ingested into a fresh PostgreSQL database, resolved with `hub resolve --all`, and served by `hub
serve --workers 2`; the database is dropped at the end. Four clients are made with `hub clients add`:
a reader, a reader with `pii:read`, and two stewards.

For `--seconds`, `--in-flight` workers each keep one request in flight over keep-alive connections
of their own. Each worker draws what to do next: a read (person by id, the 3-hop address → residents →
legal entities → addresses query, person search by name, address search, a source record by key; as
either reader), or, so that about `--steward-share` of the requests are a steward's, one of three
steward tasks of three requests each, as one of the two stewards:

- review: read a page of the open review queue, claim one item of it, decide it (UNSURE, which
  leaves it in the queue; now and then NOT_MATCH while the queue is long);
- override: read a person's version, override its phone at that version, undo that edit;
- merge: read two persons' versions, merge them at those versions, undo the merge.

An edit states the versions it read, so when two tasks touch the same entity (or review item) one of
them may be refused with CONFLICT: that is the answer a steward gets, counted as a conflict and not
an error, and so is NOT_FOUND for an edit. Errors are everything else: an HTTP status other than 200,
any other GraphQL error code (BUSY too: an edit that waited its limit on another's lock), no whole
response, and no response within `--timeout` seconds (the connection is then dropped, so a hanging
server shows as errors of the operations it hangs in, and the run still ends on time). An edit whose
undo is refused stays in the database; the count of those is printed.

Every 10 s the resident memory of the server (the `hub serve` process and its worker processes,
VmRSS) is sampled; the series is printed with the requests answered in each interval, and a verdict:
"memory flat" if the mean of the last minute is within 10 % (or 30 MB) of the mean of the second
minute. Then per operation: requests, errors, conflicts, p50, p99 and max latency in ms, and the
messages of errors and conflicts with their counts; `hub audit verify` on the database afterwards;
and the last lines of the server's log (kept as bench/out/soak-server-N.log).

Traffic goes to 127.0.0.1 only. The run stops by itself: after `--seconds`, or `--requests`
requests, whichever comes first; requests in flight then get at most their timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import (
    CACHE,
    HUB,
    QUERIES,
    Connection,
    client_token,
    hub_env,
    log_tail,
    resolve_all,
    sample,
    sample_inputs,
    scalars,
    served,
)
from ingest import argument_parser, city, postgres_database
from resolve import ingested

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_PERSONS = 5000
SAMPLE_INTERVAL = 10.0  # seconds between memory samples
EDIT_POOL = 600  # persons the steward tasks edit: few enough that tasks sometimes meet
EDIT_SEED = 2
TASK_REQUESTS = 3  # requests of each steward task
LONG_QUEUE = 50  # NOT_MATCH only while the open queue holds more items than this
NOT_MATCH_SHARE = 0.1
FLAT_SHARE, FLAT_MB = 0.10, 30.0
KEEP_ALIVE_IDLE = 4.0  # uvicorn closes a keep-alive connection idle for 5 s: open a new one before
LEGITIMATE = {"CONFLICT"}
LEGITIMATE_FOR_EDITS = {"CONFLICT", "NOT_FOUND"}

READS = ("person", "threeHop", "searchPersons", "searchAddresses", "sourceRecord")
REVIEW_PAGE = "query { reviewItems(state: OPEN, first: 20) { totalCount edges { node { id } } } }"
CLAIM = "mutation($id: ID!) { claimReviewItem(id: $id) { id state assignee } }"
DECIDE = (
    "mutation($id: ID!, $d: ReviewDecision!, $note: String)"
    " { decideReviewItem(id: $id, decision: $d, note: $note) { id state decision } }"
)
VERSION = "query($id: ID!) { person(id: $id) { id version } }"
VERSIONS = "query($a: ID!, $b: ID!) { a: person(id: $a) { id version } b: person(id: $b) { id version } }"
OVERRIDE = (
    'mutation($id: ID!, $v: Int!, $value: String) { overrideValue(id: $id, version: $v, field: "phone",'
    ' value: $value, note: "soak") { eventId entity { id ... on Person { version phone } } } }'
)
MERGE = (
    "mutation($a: ID!, $av: Int!, $b: ID!, $bv: Int!) { mergeEntities(into: $a, intoVersion: $av,"
    ' other: $b, otherVersion: $bv, note: "soak") { eventId entity { id ... on Person { version name } } } }'
)
UNDO = 'mutation($e: ID!) { undo(eventId: $e, note: "soak") { eventId entity { id } } }'

# the operations of the table, in the order printed
OPERATIONS = (
    *READS,
    "reviewItems",
    "claimReviewItem",
    "decideReviewItem",
    "personVersion",
    "overrideValue",
    "undo override",
    "personVersions",
    "mergeEntities",
    "undo merge",
)


def options() -> argparse.Namespace:
    """The shared city options (see bench/ingest.py), PostgreSQL by default, and the soak's own."""
    parser = argument_parser(__doc__)
    parser.set_defaults(
        persons=str(DEFAULT_PERSONS), postgres=os.environ.get("HUB_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    )
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to keep the load on")
    parser.add_argument("--in-flight", type=int, default=16, help="requests kept in flight")
    parser.add_argument(
        "--steward-share", type=float, default=0.15, help="share of the requests that are a steward's"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a request may take")
    parser.add_argument("--requests", type=int, default=2_000_000, help="stop after this many requests")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (repeat for more)",
    )
    args = parser.parse_args()
    if not args.postgres:
        parser.error("the soak runs on PostgreSQL: give --postgres URL")
    return args


# ---- the tally --------------------------------------------------------------------------------------


@dataclass
class Operation:
    """Latencies (s) of one operation's requests, and its errors and conflicts by message."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # a message as it came, by its shape


@dataclass
class Tally:
    """Everything the workers measured, with the answers per sampling interval for the series."""

    started: float
    operations: dict[str, Operation] = field(default_factory=lambda: {op: Operation() for op in OPERATIONS})
    requests: int = 0
    elapsed: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server used during the load
    client_cpu: float = 0.0  # and this process, the load generator
    interval: Counter[str] = field(default_factory=Counter)  # answers since the last memory sample
    left_undone: Counter[str] = field(default_factory=Counter)  # edits whose undo did not happen

    def add(self, operation: str, seconds: float, outcome: str, message: str | None) -> None:
        op = self.operations[operation]
        op.latencies.append(seconds)
        self.interval["requests"] += 1
        if outcome == "ok" or message is None:
            return
        self.interval[outcome] += 1
        shape = shape_of(message)
        (op.errors if outcome == "error" else op.conflicts)[shape] += 1
        op.examples.setdefault(shape, message)


def shape_of(message: str) -> str:
    """A message with its ids and numbers blanked, so that one kind of answer counts once."""
    message = re.sub(r"\b(per|adr|leg?)_[0-9a-z]+", "<id>", message)
    message = re.sub(r"'[^']*'", "'…'", message)
    return re.sub(r"\d+(\.\d+)?", "N", message)[:240]


# ---- the requests -----------------------------------------------------------------------------------


class Client:
    """One worker's keep-alive connections (one per token), each request bounded by the timeout."""

    def __init__(self, base: str, tokens: dict[str, str], timeout: float, tally: Tally) -> None:
        self.base, self.tokens, self.timeout, self.tally = base, tokens, timeout, tally
        self.connections: dict[str, Connection] = {}
        self.used: dict[str, float] = {}  # when each connection last had its answer

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()

    async def call(
        self, operation: str, who: str, query: str, variables: dict[str, Any], edit: bool = False
    ) -> dict[str, Any] | None:
        """Send one request as client `who`; its data if it succeeded, else None (counted either way)."""
        self.tally.requests += 1
        body = orjson.dumps({"query": query, "variables": variables})
        started = time.perf_counter()
        outcome, message, data = await self._answer(who, body, edit)
        self.tally.add(operation, time.perf_counter() - started, outcome, message)
        return data

    async def _answer(self, who: str, body: bytes, edit: bool) -> tuple[str, str | None, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                connection = self.connections.get(who)
                if connection is not None and time.monotonic() - self.used[who] > KEEP_ALIVE_IDLE:
                    self._drop(who)  # the server may be closing it just now
                    connection = None
                if connection is None:
                    connection = await Connection.open(self.base, self.tokens[who])
                    self.connections[who] = connection
                status, content = await connection.exchange(body)
                self.used[who] = time.monotonic()
        except TimeoutError:
            self._drop(who)  # its answer may still come: the connection cannot be used again
            return "error", f"timeout: no answer within {self.timeout:.0f} s", None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            self._drop(who)
            return "error", f"{type(exc).__name__} (no response) {exc}".strip(), None
        if status != 200:
            return "error", f"HTTP {status}: {content[:300].decode(errors='replace')}", None
        try:
            answer = orjson.loads(content)
            errors = answer.get("errors")
        except (orjson.JSONDecodeError, AttributeError):
            return "error", f"not a JSON object: {content[:300].decode(errors='replace')}", None
        if not errors:
            return "ok", None, answer.get("data")
        codes = {str((e.get("extensions") or {}).get("code")) for e in errors}
        message = f"{'/'.join(sorted(codes))}: {errors[0].get('message', errors[0])}"[:300]
        legitimate = LEGITIMATE_FOR_EDITS if edit else LEGITIMATE
        return ("conflict" if codes <= legitimate else "error"), message, None

    def _drop(self, who: str) -> None:
        connection = self.connections.pop(who, None)
        if connection is not None:
            connection.close()


# ---- the work ---------------------------------------------------------------------------------------


@dataclass
class Work:
    """What the workers draw from: the sampled inputs and the persons the stewards edit."""

    reads: dict[str, list[dict[str, Any]]]
    edit_persons: list[str]
    steward_share: float


async def read(client: Client, work: Work, rng: random.Random) -> None:
    name = rng.choice([r for r in READS if work.reads.get(r)])
    who = rng.choice(("reader", "pii"))
    await client.call(name, who, QUERIES[name], rng.choice(work.reads[name]))


async def review(client: Client, work: Work, rng: random.Random, steward: str) -> None:
    """Read the open queue, claim one of its items, decide it."""
    page = await client.call("reviewItems", steward, REVIEW_PAGE, {})
    if not page or not page["reviewItems"]["edges"]:
        return
    item = rng.choice(page["reviewItems"]["edges"])["node"]["id"]
    if await client.call("claimReviewItem", steward, CLAIM, {"id": item}, edit=True) is None:
        return
    long_queue = page["reviewItems"]["totalCount"] > LONG_QUEUE
    decision = "NOT_MATCH" if long_queue and rng.random() < NOT_MATCH_SHARE else "UNSURE"
    variables = {"id": item, "d": decision, "note": "soak"}
    await client.call("decideReviewItem", steward, DECIDE, variables, edit=True)


async def override(client: Client, work: Work, rng: random.Random, steward: str) -> None:
    """Read a person's version, override its phone at that version, undo that edit."""
    seen = await client.call("personVersion", steward, VERSION, {"id": rng.choice(work.edit_persons)})
    if not seen or not seen["person"]:
        return
    person = seen["person"]
    value = f"139{rng.randrange(10**8):08d}"
    variables = {"id": person["id"], "v": person["version"], "value": value}
    done = await client.call("overrideValue", steward, OVERRIDE, variables, edit=True)
    if done is None:
        return
    event = done["overrideValue"]["eventId"]
    if await client.call("undo override", steward, UNDO, {"e": event}, edit=True) is None:
        client.tally.left_undone["overrideValue"] += 1


async def merge(client: Client, work: Work, rng: random.Random, steward: str) -> None:
    """Read two persons' versions, merge the second into the first at those versions, undo the merge."""
    a, b = rng.sample(work.edit_persons, 2)
    seen = await client.call("personVersions", steward, VERSIONS, {"a": a, "b": b})
    if not seen or not seen["a"] or not seen["b"] or seen["a"]["id"] == seen["b"]["id"]:
        return  # one was merged into the other and not undone: nothing to merge
    variables = {"a": seen["a"]["id"], "av": seen["a"]["version"], "b": seen["b"]["id"]}
    done = await client.call("mergeEntities", steward, MERGE, {**variables, "bv": seen["b"]["version"]}, True)
    if done is None:
        return
    event = done["mergeEntities"]["eventId"]
    if await client.call("undo merge", steward, UNDO, {"e": event}, edit=True) is None:
        client.tally.left_undone["mergeEntities"] += 1


TASKS: tuple[Callable[[Client, Work, random.Random, str], Awaitable[None]], ...] = (review, override, merge)


async def worker(client: Client, work: Work, rng: random.Random, deadline: float, limit: int) -> None:
    """Draw a read or a steward task until time is up or the run has sent `limit` requests."""
    share = work.steward_share
    task_chance = share / (TASK_REQUESTS - share * (TASK_REQUESTS - 1))  # tasks are 3 requests each
    try:
        while time.monotonic() < deadline and client.tally.requests < limit:
            if rng.random() < task_chance:
                await rng.choice(TASKS)(client, work, rng, rng.choice(("steward1", "steward2")))
            else:
                await read(client, work, rng)
    finally:
        client.close()


# ---- the server's memory ----------------------------------------------------------------------------


def server_pids() -> list[int]:
    """The `hub serve` process this process started and every process under it."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    roots = []
    for pid, parent in parents.items():
        if parent == os.getpid():
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in command:
                roots.append(pid)
    tree, frontier = list(roots), list(roots)
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (utime and stime of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    at: float  # seconds since the load began
    rss_mb: float
    processes: int
    answers: Counter[str]


async def sample_memory(tally: Tally, samples: list[Sample], stop: asyncio.Event) -> None:
    """Every 10 s: the server's resident memory and what was answered since the last sample."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_INTERVAL)
            return
        except TimeoutError:
            pass
        pids = server_pids()
        samples.append(Sample(time.monotonic() - tally.started, rss_mb(pids), len(pids), tally.interval))
        tally.interval = Counter()
        s = samples[-1]
        print(
            f"  {s.at:5.0f} s  {s.rss_mb:7.1f} MB ({s.processes} processes)  {s.answers['requests']:>6,}"
            f" requests  {s.answers['error']:>4} errors  {s.answers['conflict']:>4} conflicts",
            flush=True,
        )


def memory_verdict(samples: list[Sample], seconds: float) -> str:
    """'memory flat' if the last minute's mean is within 10 % (or 30 MB) of the second minute's."""
    second = [s.rss_mb for s in samples if 60 <= s.at < 120 + 1]
    last = [s.rss_mb for s in samples if s.at > seconds - 60]
    if seconds < 180 or not second or not last:
        return "no verdict: the run is shorter than 3 minutes"
    m2, m_last = sum(second) / len(second), sum(last) / len(last)
    bound = max(FLAT_SHARE * m2, FLAT_MB)
    verdict = "memory flat" if abs(m_last - m2) <= bound else "MEMORY NOT FLAT"
    return f"{verdict}: minute 2 mean {m2:.1f} MB, last minute mean {m_last:.1f} MB (bound ±{bound:.0f} MB)"


# ---- the run ----------------------------------------------------------------------------------------


async def soak(
    base: str, tokens: dict[str, str], work: Work, args: argparse.Namespace
) -> tuple[Tally, list[Sample]]:
    """Keep `--in-flight` requests going for `--seconds`; sample the server's memory meanwhile."""
    tally = Tally(started=time.monotonic())
    deadline = tally.started + args.seconds
    samples: list[Sample] = [Sample(0.0, rss_mb(pids := server_pids()), len(pids), Counter())]
    server_cpu, client_cpu = cpu_seconds(pids), time.process_time()
    print(f"  {0:5.0f} s  {samples[0].rss_mb:7.1f} MB ({samples[0].processes} processes)", flush=True)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(tally, samples, stop))
    clients = [Client(base, tokens, args.timeout, tally) for _ in range(args.in_flight)]
    workers = [
        asyncio.create_task(worker(c, work, random.Random(args.seed * 1000 + i), deadline, args.requests))
        for i, c in enumerate(clients)
    ]
    try:
        # A worker's last task may start just before the deadline: three requests of `timeout` at most.
        done, late = await asyncio.wait(workers, timeout=args.seconds + TASK_REQUESTS * args.timeout + 30)
        for task in late:
            task.cancel()
        if late:
            print(f"{len(late)} workers did not stop in time and were cancelled", flush=True)
        for task in done:
            if task.exception() is not None:
                print(f"a worker failed: {task.exception()!r}", flush=True)
    finally:
        tally.elapsed = time.monotonic() - tally.started
        tally.server_cpu = cpu_seconds(server_pids()) - server_cpu
        tally.client_cpu = time.process_time() - client_cpu
        stop.set()
        await sampler
        for c in clients:
            c.close()
    return tally, samples


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max in ms (nearest rank)."""
    if not latencies:
        return 0.0, 0.0, 0.0
    ordered = sorted(latencies)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return rank(0.50), rank(0.99), ordered[-1] * 1000


def report(tally: Tally, samples: list[Sample], seconds: float) -> None:
    elapsed = max(tally.elapsed, 1e-9)
    total = sum(len(op.latencies) for op in tally.operations.values())
    errors = sum(sum(op.errors.values()) for op in tally.operations.values())
    conflicts = sum(sum(op.conflicts.values()) for op in tally.operations.values())
    print(
        f"\n{total:,} requests in {elapsed:.0f} s ({total / elapsed:,.0f}/s): {errors:,} errors,"
        f" {conflicts:,} conflicts"
    )
    server, client = tally.server_cpu, tally.client_cpu
    print(
        f"CPU during the load: the server {server:,.0f} s ({server / elapsed:.0%} of a core),"
        f" this load generator {client:,.0f} s ({client / elapsed:.0%} of a core)"
    )
    columns = ("requests", 10), ("errors", 8), ("conflicts", 10), ("p50 ms", 9), ("p99 ms", 9), ("max ms", 10)
    print(f"\n{'operation':<18}" + "".join(f"{title:>{width}}" for title, width in columns))
    for name, op in tally.operations.items():
        p50, p99, top = percentiles(op.latencies)
        print(
            f"{name:<18}{len(op.latencies):>10,}{sum(op.errors.values()):>8,}{sum(op.conflicts.values()):>10,}"
            f"{p50:>9.1f}{p99:>9.1f}{top:>10.1f}"
        )
    for label, pick in (("errors", lambda op: op.errors), ("conflicts", lambda op: op.conflicts)):
        lines = [
            f"  {name}: {count:,} × {op.examples[shape]}"
            for name, op in tally.operations.items()
            for shape, count in pick(op).most_common(5)
        ]
        if lines:
            print(f"\n{label} by operation and message (up to 5 kinds each, one example of each):")
            print("\n".join(lines))
    if tally.left_undone:
        kept = ", ".join(f"{n} {op}" for op, n in tally.left_undone.items())
        print(f"\nedits left in the database because their undo failed: {kept}")
    print(f"\nserver memory (RSS of `hub serve` and its workers), every {SAMPLE_INTERVAL:.0f} s:")
    print("  " + " ".join(f"{s.rss_mb:.0f}" for s in samples) + " MB")
    print(memory_verdict(samples, seconds), flush=True)


def audit_verify(url: str) -> None:
    """`hub audit verify` on the soaked database: does the hash chain of its audit trail hold?"""
    print("\n$ hub audit verify", flush=True)
    try:
        result = subprocess.run(
            [*HUB, "audit", "verify"], env=hub_env(url), capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        print("did not finish within 600 s")
        return
    print((result.stdout + result.stderr).strip() or "(no output)")
    print(f"exit status {result.returncode}", flush=True)


def edit_persons(url: str) -> list[str]:
    """A fixed sample of active persons for the steward tasks."""
    from hub.store.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sql = "SELECT id FROM entity WHERE kind = 'person' AND status = 'active'"
            return sample(random.Random(EDIT_SEED), scalars(connection, sql), EDIT_POOL)
    finally:
        engine.dispose()


def main() -> None:
    args = options()
    if args.child:
        raise SystemExit("bench/soak.py has no child process")
    for assignment in args.server_env:
        name, equals, value = assignment.partition("=")
        if not name.startswith("HUB_") or not equals:
            raise SystemExit(f"--server-env {assignment!r}: expected HUB_NAME=VALUE")
        os.environ[name] = value  # `served` passes this process's environment on
    persons = int(args.persons)
    begun = time.perf_counter()
    print(
        f"soak {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores: {persons:,} persons,"
        f" PostgreSQL, `hub serve --workers 2`, {args.in_flight} in flight for {args.seconds:.0f} s,"
        f" steward share {args.steward_share:.0%}, timeout {args.timeout:.0f} s"
        + (f", server env {' '.join(args.server_env)}" if args.server_env else "")
        + f"; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    directory = city(persons, args.seed, args.profile)
    url, drop = postgres_database(args.postgres)
    try:
        ingested(directory, url)
        print(f"ingested in {time.perf_counter() - begun:.0f} s (from the start)", flush=True)
        resolve_all(url)
        inputs = sample_inputs(url)
        work = Work({r: inputs[r] for r in READS}, edit_persons(url), args.steward_share)
        tokens = {
            "reader": client_token(url, "soak-reader", "reader"),
            "pii": client_token(url, "soak-pii", "reader", "pii:read"),
            "steward1": client_token(url, "soak-steward-1", "steward"),
            "steward2": client_token(url, "soak-steward-2", "steward"),
        }
        print(f"setup took {time.perf_counter() - begun:.0f} s; the load begins", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "server.log"
            try:
                with served(url, log) as base:
                    tally, samples = asyncio.run(soak(base, tokens, work, args))
                    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)", flush=True)
            finally:
                if log.exists():
                    kept = CACHE / f"soak-server-{persons}.log"
                    shutil.copyfile(log, kept)
            report(tally, samples, args.seconds)
            audit_verify(url)
            lines = log.read_text(errors="replace").splitlines()
            print(f"\nthe server's log: {len(lines):,} lines, kept as bench/out/{kept.name}; its last lines:")
            print(log_tail(log, 25) or "(empty)", flush=True)
    finally:
        if callable(drop):
            drop()


if __name__ == "__main__":
    main()

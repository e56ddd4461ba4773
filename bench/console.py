"""The console's pages: latency (p50, p95, max) of each page, one steward or auditor clicking, on SQLite.

    python bench/console.py                       # 1M persons
    python bench/console.py --persons 20000 --requests 30

The city is made once with `hub demo --persons N --no-serve` (generated, ingested, resolved, linked)
and cached as bench/out/console-N.db (delete it after resolution changed; a 1M city takes about ten
minutes). `hub serve` serves it in a process of its own as in production; this process signs in as a
steward (with `pii:read`) and as an auditor through the sign-in form, then requests each page with
inputs sampled from the database with a fixed seed (different review items, persons, addresses, legal
entities, search texts), after three warm-up requests, one at a time. Each line gives the requests,
the HTTP statuses seen, p50, p95 and max in ms; the target is p95 <= 200 ms for every page. The
address with the most residents is measured on its own: sampling hides the biggest entities.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx

CACHE = Path(__file__).resolve().parent / "out"
HUB = str(Path(sys.executable).with_name("hub"))
TARGET_MS = 200.0


def city(persons: int) -> Path:
    """The resolved city of `persons`, made on first use."""
    path = CACHE / f"console-{persons}.db"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{path}"}
        out = CACHE / f"console-{persons}-city"
        subprocess.run(
            [HUB, "demo", "--persons", str(persons), "--no-serve", "--out", str(out)], env=env, check=True
        )
    return path


def client(env: dict[str, str], name: str, role: str, *scopes: str) -> str:
    command = [HUB, "clients", "add", name, "--role", role]
    for scope in scopes:
        command += ["--scope", scope]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def samples(path: Path, count: int, seed: int) -> dict[str, list[str]]:
    """Inputs for the pages, drawn from the database with a fixed seed."""
    rng = random.Random(seed)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def some(sql: str) -> list[str]:
        rows = [str(r[0]) for r in db.execute(sql) if r[0]]
        return rng.sample(rows, min(count, len(rows)))

    per_kind = "SELECT id FROM entity WHERE kind = '{}' AND status = 'active' AND id LIKE '%3' LIMIT 5000"
    found = {
        "review": some("SELECT id FROM review_item WHERE status != 'decided' LIMIT 5000"),
        "person": some(per_kind.format("person")),
        "address": some(per_kind.format("address")),
        "legal": some(per_kind.format("legal_entity")),
        "name": some(
            "SELECT json_extract(payload, '$.name') FROM record_version rv"
            " JOIN source_record r ON r.id = rv.record_id WHERE r.kind = 'person' LIMIT 5000"
        ),
        "address_text": some(
            "SELECT json_extract(payload, '$.address') FROM record_version rv"
            " JOIN source_record r ON r.id = rv.record_id WHERE r.kind = 'address' LIMIT 5000"
        ),
        "uscc": some(
            "SELECT json_extract(payload, '$.uscc') FROM record_version rv"
            " JOIN source_record r ON r.id = rv.record_id WHERE r.kind = 'legal_entity' LIMIT 5000"
        ),
        # An instant after the last run: the entities as they stood then.
        "as_of": [
            str(db.execute("SELECT max(finished_at) FROM resolution_run").fetchone()[0]).replace(" ", "T")[
                :19
            ]
            + "+00:00"
        ],
        "busiest": [
            str(
                db.execute(
                    "SELECT object_id FROM link WHERE relation = 'lives_at' AND valid_to IS NULL"
                    " GROUP BY object_id ORDER BY count(*) DESC LIMIT 1"
                ).fetchone()[0]
            )
        ],
    }
    db.close()
    return found


def measure(http: httpx.Client, urls: Callable[[int], str], requests: int) -> tuple[list[float], set[int]]:
    times, statuses = [], set()
    for i in range(requests + 3):
        started = time.perf_counter()
        response = http.get(urls(i))
        elapsed = (time.perf_counter() - started) * 1000
        statuses.add(response.status_code)
        if i >= 3:
            times.append(elapsed)
    return times, statuses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    path = city(args.persons)
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{path}"}
    stamp = time.strftime("%H%M%S")
    steward = client(env, f"bench-steward-{stamp}", "steward", "pii:read")
    auditor = client(env, f"bench-auditor-{stamp}", "auditor")
    inputs = samples(path, args.requests, args.seed)
    port = free_port()
    server = subprocess.Popen([HUB, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        sessions = {}
        for role, token in (("steward", steward), ("auditor", auditor)):
            http = httpx.Client(base_url=base, timeout=30)
            http.post("/console/sign-in", data={"token": token, "next": "/console/"})
            sessions[role] = http

        def each(key: str, template: str) -> Callable[[int], str]:
            values = inputs[key] or [""]
            return lambda i: template.format(
                httpx.URL("", params={"v": values[i % len(values)]}).query.decode()[2:]
            )

        person = each("person", "/console/person/{}")
        pages: list[tuple[str, str, Callable[[int], str]]] = [
            ("home", "steward", lambda i: "/console/"),
            ("queue", "steward", lambda i: "/console/queue"),
            ("queue, person, band 0.5-0.7", "steward", lambda i: "/console/queue?kind=PERSON&band=EVEN"),
            ("pair", "steward", each("review", "/console/review/{}")),
            ("person", "steward", each("person", "/console/person/{}")),
            ("address", "steward", each("address", "/console/address/{}")),
            ("legal entity", "steward", each("legal", "/console/legal-entity/{}")),
            (
                "person as of the last run",
                "steward",
                lambda i: f"{person(i)}?as_of={inputs['as_of'][0].replace('+', '%2B')}",
            ),
            ("busiest address", "steward", each("busiest", "/console/address/{}")),
            ("search by name", "steward", each("name", "/console/search?q={}")),
            ("search by address", "steward", each("address_text", "/console/search?q={}")),
            ("search by credit code", "steward", each("uscc", "/console/search?q={}")),
            ("quarantine", "steward", lambda i: "/console/quarantine"),
            ("quality", "steward", lambda i: "/console/quality"),
            ("audit trail", "auditor", lambda i: "/console/audit"),
            ("access log", "auditor", lambda i: "/console/access-log"),
        ]
        print(
            f"console pages, {args.persons:,} persons, SQLite, {args.requests} requests each, one at a time"
        )
        print(f"{'page':<30} {'requests':>8} {'statuses':>12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        slow = []
        for name, role, urls in pages:
            times, statuses = measure(sessions[role], urls, args.requests)
            p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
            shown = ",".join(str(s) for s in sorted(statuses))
            p50 = statistics.median(times)
            print(f"{name:<30} {len(times):>8} {shown:>12} {p50:>8.1f} {p95:>8.1f} {max(times):>8.1f}")
            if p95 > TARGET_MS:
                slow.append(name)
        print(f"over {TARGET_MS:.0f} ms p95: {', '.join(slow) or 'none'}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

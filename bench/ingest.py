"""Ingestion throughput and peak memory: a generated city into SQLite and PostgreSQL.

    python bench/ingest.py                       # 100k persons, SQLite (+ PostgreSQL if configured)
    python bench/ingest.py --persons 25000,100000 --postgres postgresql+psycopg://postgres@127.0.0.1/test

Each (size, database) runs in a fresh child process on a fresh database: a first load of the city's
files as `hub load` ingests a manifest, then the same files again (every record unchanged, as with a
daily full export). The peak RSS printed is that of
ingestion alone: the writing process, and its normalizing processes together (`HUB_INGEST_WORKERS`);
similar peaks for different sizes show that memory does not grow with the file. PostgreSQL runs when
--postgres or HUB_TEST_POSTGRES_URL gives a server URL.

`--profile field-notes` ingests the frozen city written as docs/field-notes.md describes the
departments' exports (more varied names and addresses, so the normalizers' caches help less): the
target, >= 20,000 records/s into SQLite at 100k persons, is set on it. Each line also gives the
machine's speed at that time, the seconds of a one-core loop (`speed_loop`) run just before the
load, since the machine is shared and its speed varies from hour to hour.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

CACHE = Path(__file__).resolve().parent / "out"


TARGET_PER_SECOND = 20_000  # records/s into SQLite, first load, frozen profile, 100k persons


def speed_loop() -> float:
    """Seconds one core takes for a fixed loop: the machine's speed now (lower is faster)."""
    started = time.perf_counter()
    sum(range(60_000_000))
    return time.perf_counter() - started


def city(persons: int, seed: int, profile: str = "classic") -> Path:
    """Generate (once, cached) the city of `persons` persons, written in `profile`'s noise."""
    from hub.generate import generate_city

    suffix = "" if profile == "classic" else f"-{profile}"
    directory = CACHE / f"city-{persons}-{seed}{suffix}"
    if not (directory / "manifest.json").exists():
        started = time.perf_counter()
        generate_city(persons, seed, directory, profile=profile)
        print(f"generated {persons} persons in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return directory


def child(directory: Path, url: str) -> None:
    """Ingest every file of the city at `directory` into `url` as `hub load` does; print one JSON line
    of figures."""
    from hub.ingest import ingest_files
    from hub.ingest.manifest import read_manifest
    from hub.store.database import make_engine
    from hub.store.migrations import upgrade

    files = read_manifest(directory / "manifest.json")
    engine = make_engine(url)
    upgrade(engine)
    result: dict[str, float] = {}
    for load in ("first", "again"):
        started = time.perf_counter()
        summaries = ingest_files(engine, files)
        result[f"{load}_seconds"] = time.perf_counter() - started
        result["records"] = sum(s.read for s in summaries)
        if load == "again":
            assert all(s.new == s.changed == 0 for s in summaries), summaries
    result["writer_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["workers_mb"] = sum(_peak_kb(p.pid) for p in multiprocessing.active_children() if p.pid) / 1024
    print(json.dumps(result))


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_child(directory: Path, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(directory), "--url", url],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def postgres_database(server_url: str) -> tuple[str, object]:
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def arguments(description: str | None) -> argparse.Namespace:
    """The options the city benchmarks share: sizes, seed, PostgreSQL, and the child's own."""
    return argument_parser(description).parse_args()


def argument_parser(description: str | None) -> argparse.ArgumentParser:
    """The shared options of `arguments()`, for a benchmark that adds options of its own."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", default="100000", help="comma-separated city sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile",
        choices=("classic", "field-notes"),
        default="classic",
        help="how the sources write their records: the generator's classic noise, or the frozen profile"
        " written from docs/field-notes.md",
    )
    parser.add_argument("--postgres", default=os.environ.get("HUB_TEST_POSTGRES_URL"))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = arguments(__doc__)
    if args.child:
        child(args.child, args.url)
        return
    print(
        f"{'database':<11}{'persons':>9}{'records':>10}{'seconds':>9}{'records/s':>11}"
        f"{'again s':>9}{'again/s':>10}{'writer MB':>11}{'workers MB':>12}{'loop s':>8}"
    )
    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed, args.profile)
        targets: list[tuple[str, str, object]] = []
        with tempfile.TemporaryDirectory() as tmp:
            targets.append(("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", None))
            if args.postgres:
                url, drop = postgres_database(args.postgres)
                targets.append(("postgresql", url, drop))
            for name, url, drop in targets:
                loop = speed_loop()
                try:
                    r = run_child(directory, url)
                finally:
                    if callable(drop):
                        drop()
                first, again = r["first_seconds"], r["again_seconds"]
                print(
                    f"{name:<11}{persons:>9}{int(r['records']):>10}{first:>9.1f}"
                    f"{r['records'] / first:>11,.0f}{again:>9.1f}{r['records'] / again:>10,.0f}"
                    f"{r['writer_mb']:>11.0f}{r['workers_mb']:>12.0f}{loop:>8.2f}",
                    flush=True,
                )
                if name == "sqlite" and args.profile == "field-notes":
                    rate = r["records"] / first
                    verdict = "met" if rate >= TARGET_PER_SECOND else "MISSED"
                    print(f"  target >= {TARGET_PER_SECOND:,} records/s (first load, SQLite): {verdict}")


if __name__ == "__main__":
    main()

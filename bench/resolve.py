"""Batch resolution: seconds per stage, candidate pairs, peak memory and quality against the truth.

    python bench/resolve.py                    # 100k persons, SQLite (+ PostgreSQL if configured)
    python bench/resolve.py --persons 100000,1000000 --postgres ""

For each city size and database: the city is generated (cached under bench/out/) and ingested into a
fresh database once (cached for SQLite), then a fresh child process resolves every kind as `hub
resolve` does (kinds side by side in `HUB_RESOLVE_WORKERS` processes, stored one after another). It
prints each kind's stages: load (read stored features), block, compare, train (EM), score, cluster,
persist (entities, memberships, judgements, review items); then the wall-clock time of all kinds and
the peak resident memory of the child and its workers together, sampled every 0.1 s. F1 is
pairwise, against the generator's truth.csv. Then 1,000 random person records are left out of a
Resolver holding all the others and resolved one at a time: the median and 95th percentile per record.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

CACHE = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import arguments, city, postgres_database  # noqa: E402

if TYPE_CHECKING:
    from sqlalchemy import Engine

STAGES = ("load", "block", "compare", "train", "score", "cluster", "persist")


def ingested(directory: Path, url: str) -> None:
    from hub.ingest import ingest_files
    from hub.ingest.manifest import read_manifest
    from hub.store.database import make_engine
    from hub.store.migrations import upgrade

    engine = make_engine(url)
    upgrade(engine)
    ingest_files(engine, read_manifest(directory / "manifest.json"))  # as `hub load` does
    engine.dispose()


class PeakMemory:
    """The highest total resident memory of this process and its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            total = _rss_mb(me)
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    if int(fields[1]) == me:
                        total += _rss_mb(int(entry.name))
            self.peak_mb = max(self.peak_mb, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def ingested_sqlite(directory: Path, persons: int, seed: int) -> Path:
    """The city ingested into SQLite, cached under bench/out/ (made on first use)."""
    cached = CACHE / f"{directory.name}.db"
    if not cached.exists():
        started = time.perf_counter()
        ingested(directory, f"sqlite:///{cached}.part")
        Path(f"{cached}.part").rename(cached)
        print(f"ingested {persons} persons in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return cached


def child(directory: Path, url: str) -> None:
    from sqlalchemy.orm import Session

    from hub.config import get_settings
    from hub.domain import Kind
    from hub.resolve.batch import resolve_kinds
    from hub.resolve.evaluate import link_scores, pairwise
    from hub.resolve.links import rebuild_links
    from hub.resolve.truth import (
        current_clusters,
        current_links,
        read_relations,
        read_truth,
        true_ids_of_entities,
    )
    from hub.store.database import make_engine

    engine = make_engine(url)
    memory = PeakMemory()
    started = time.perf_counter()
    summaries = list(
        resolve_kinds(
            engine, [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON], workers=get_settings().resolve_workers
        )
    )
    kinds_wall = time.perf_counter() - started
    linked = rebuild_links(engine)  # as `hub resolve` does after the kinds
    wall = time.perf_counter() - started
    peak_mb = memory.stop()
    truth = read_truth(directory / "truth.csv")  # after: the truth's 3M keys are not resolution's memory
    out = []
    clusters: dict[tuple[str, str, str], str] = {}
    for summary in summaries:
        with Session(engine) as session:
            predicted = current_clusters(session, summary.kind)
        clusters.update(predicted)
        scores = pairwise(predicted, {k: v for k, v in truth.items() if k[1] == summary.kind.value})
        out.append(
            {
                "kind": summary.kind.value,
                "records": summary.records,
                "pairs": summary.stats["candidate_pairs"],
                "stages": summary.stats["seconds"],
                "seconds": sum(summary.stats["seconds"].values()),
                "precision": scores.precision,
                "recall": scores.recall,
                "f1": scores.f1,
            }
        )
    with Session(engine) as session:
        link_f1 = link_scores(
            current_links(session),
            true_ids_of_entities(clusters, truth),
            read_relations(directory / "relations.csv"),
        )
    links = {
        "seconds": wall - kinds_wall,
        "unresolved": linked.unresolved,
        "scores": {r: [v.precision, v.recall, v.f1] for r, v in link_f1.items()},
    }
    print(
        json.dumps(
            {
                "kinds": out,
                "kinds_wall": kinds_wall,
                "wall": wall,
                "links": links,
                "peak_mb": peak_mb,
                "one": one_at_a_time(engine),
            }
        )
    )


def one_at_a_time(engine: Engine, sample: int = 1000) -> dict[str, float]:
    """Hold all persons but a random sample in a Resolver, then resolve the sample one record at a time."""
    import numpy as np
    from sqlalchemy.orm import Session

    from hub.domain import Kind
    from hub.resolve.realtime import build_resolver

    with Session(engine) as session:
        ids = [
            r
            for (r,) in session.connection().exec_driver_sql(
                "SELECT id FROM source_record WHERE kind = 'person'"
            )
        ]
        chosen = set(np.random.default_rng(1).choice(ids, size=min(sample, len(ids)), replace=False).tolist())
        started = time.perf_counter()
        resolver, loaded, _run = build_resolver(session, Kind.PERSON, leave_out=chosen)
        all_ids, table = loaded.record_ids, loaded.table
        build = time.perf_counter() - started
    rows = [
        {name: column.values[i] for name, column in table.columns.items()}
        for i, record_id in enumerate(all_ids)
        if record_id in chosen
    ]
    times = []
    for row in rows:
        started = time.perf_counter()
        resolver.add(row)
        times.append(time.perf_counter() - started)
    return {
        "stored": len(all_ids) - len(rows),
        "build_s": build,
        "median_ms": float(np.median(times) * 1000),
        "p95_ms": float(np.percentile(times, 95) * 1000),
    }


def main() -> None:
    args = arguments(__doc__)
    if args.child:
        child(args.child, args.url)
        return
    header = f"{'database':<11}{'persons':>9} {'kind':<13}{'records':>10}{'pairs':>11}"
    header += "".join(f"{s:>9}" for s in STAGES) + f"{'total s':>9}{'P':>8}{'R':>8}{'F1':>8}"
    print(header)
    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed, args.profile)
        targets: list[tuple[str, str, object]] = []
        with tempfile.TemporaryDirectory() as tmp:
            cached = ingested_sqlite(directory, persons, args.seed)
            work = Path(tmp) / "bench.db"
            shutil.copyfile(cached, work)
            targets.append(("sqlite", f"sqlite:///{work}", None))
            if args.postgres:
                url, drop = postgres_database(args.postgres)
                ingested(directory, url)
                targets.append(("postgresql", url, drop))
            for name, url, drop in targets:
                try:
                    result = subprocess.run(
                        [sys.executable, __file__, "--child", str(directory), "--url", url],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                finally:
                    if callable(drop):
                        drop()
                r = json.loads(result.stdout.strip().splitlines()[-1])
                one = r["one"]
                print(
                    f"{name:<11}{persons:>9} one person record against {one['stored']:,} stored: median"
                    f" {one['median_ms']:.2f} ms, p95 {one['p95_ms']:.2f} ms"
                    f" (resolver built in {one['build_s']:.0f} s)",
                    flush=True,
                )
                for k in r["kinds"]:
                    line = f"{name:<11}{persons:>9} {k['kind']:<13}{k['records']:>10,}{k['pairs']:>11,}"
                    line += "".join(f"{k['stages'].get(s, 0):>9.1f}" for s in STAGES)
                    line += f"{k['seconds']:>9.1f}{k['precision']:>8.4f}{k['recall']:>8.4f}{k['f1']:>8.4f}"
                    print(line, flush=True)
                links = r["links"]
                for relation, (p, rc, f1) in links["scores"].items():
                    print(
                        f"{name:<11}{persons:>9} link {relation:<25}{p:>8.4f}{rc:>8.4f}{f1:>8.4f}", flush=True
                    )
                print(
                    f"{name:<11}{persons:>9} every kind: {r['kinds_wall']:.1f} s, then the links"
                    f" {links['seconds']:.1f} s: {r['wall']:.1f} s wall clock, peak memory"
                    f" {r['peak_mb']:,.0f} MB (all processes together)",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""Batch resolution: seconds per stage, candidate pairs, peak memory and quality against the truth.

    python bench/resolve.py                    # 100k persons, SQLite (+ PostgreSQL if configured)
    python bench/resolve.py --persons 100000,1000000 --postgres ""

For each city size and database: the city is generated (cached under bench/out/) and ingested into a
fresh database once (cached for SQLite), then a fresh child process resolves every kind, so the peak
RSS printed is that of resolution alone. Stages: load (read stored features), block, compare, train
(EM), score, cluster, persist (entities, memberships, judgements, review items). F1 is pairwise,
against the generator's truth.csv. Then 1,000 random person records are left out of a Resolver holding
all the others and resolved one at a time: the median and 95th percentile per record.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "out"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import arguments, city, postgres_database  # noqa: E402

STAGES = ("load", "block", "compare", "train", "score", "cluster", "persist")


def ingested(directory: Path, url: str) -> None:
    from hub.ingest import ingest_file
    from hub.store.database import make_engine
    from hub.store.migrations import upgrade
    from hub.store.models import Kind

    manifest = json.loads((directory / "manifest.json").read_text())
    engine = make_engine(url)
    upgrade(engine)
    for f in manifest["files"]:
        ingest_file(engine, directory / f["path"], f["source"], Kind(f["kind"]), encoding=f["encoding"])
    engine.dispose()


def child(directory: Path, url: str) -> None:
    from sqlalchemy.orm import Session

    from hub.resolve.evaluate import pairwise
    from hub.resolve.service import resolve_kind
    from hub.resolve.truth import current_clusters, read_truth
    from hub.store.database import make_engine
    from hub.store.models import Kind

    engine = make_engine(url)
    truth = read_truth(directory / "truth.csv")
    out = []
    for kind in (Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON):
        started = time.perf_counter()
        with Session(engine) as session:
            summary = resolve_kind(session, kind)
            session.commit()
        seconds = time.perf_counter() - started
        with Session(engine) as session:
            predicted = current_clusters(session, kind.value)
        scores = pairwise(predicted, {k: v for k, v in truth.items() if k[1] == kind.value})
        out.append(
            {
                "kind": kind.value,
                "records": summary.records,
                "pairs": summary.stats["candidate_pairs"],
                "stages": summary.stats["seconds"],
                "seconds": seconds,
                "precision": scores.precision,
                "recall": scores.recall,
                "f1": scores.f1,
            }
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kinds": out, "peak_mb": peak_mb, "one": one_at_a_time(engine)}))


def one_at_a_time(engine: object, sample: int = 1000) -> dict[str, float]:
    """Hold all persons but a random sample in a Resolver, then resolve the sample one record at a time."""
    import numpy as np
    from sqlalchemy.orm import Session

    from hub.resolve.realtime import build_resolver
    from hub.store.models import Kind

    with Session(engine) as session:  # type: ignore[call-overload]
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
    header += "".join(f"{s:>9}" for s in STAGES) + f"{'total s':>9}{'P':>8}{'R':>8}{'F1':>8}{'peak MB':>9}"
    print(header)
    for persons in (int(p) for p in args.persons.split(",")):
        directory = city(persons, args.seed)
        targets: list[tuple[str, str, object]] = []
        with tempfile.TemporaryDirectory() as tmp:
            cached = CACHE / f"city-{persons}-{args.seed}.db"
            if not cached.exists():
                started = time.perf_counter()
                ingested(directory, f"sqlite:///{cached}.part")
                Path(f"{cached}.part").rename(cached)
                print(f"ingested {persons} persons in {time.perf_counter() - started:.0f} s", file=sys.stderr)
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
                    print(line + f"{r['peak_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()

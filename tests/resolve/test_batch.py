"""`hub resolve` over all kinds with worker processes: the same entities as one kind after another, and
every reference the runs wrote whole (SQLite stores them without its row-by-row checks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.generate import generate_city
from hub.ingest import ingest_file
from hub.resolve.batch import resolve_kinds

KINDS = [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(800, 5, out)
    return out


def partition(engine: Engine, kind: Kind) -> set[frozenset[int]]:
    with Session(engine) as session:
        rows = session.connection().exec_driver_sql(
            "SELECT m.record_id, m.entity_id FROM membership m JOIN source_record r ON r.id = m.record_id"
            f" WHERE m.valid_to IS NULL AND r.kind = '{kind.value}'"
        )
        groups: dict[str, set[int]] = {}
        for record, entity in rows:
            groups.setdefault(entity, set()).add(record)
    return {frozenset(g) for g in groups.values()}


# Each reference a resolution run writes, as a query for the rows whose parent is missing.
DANGLING = {
    "membership → entity": "SELECT count(*) FROM membership m LEFT JOIN entity e ON e.id = m.entity_id"
    " WHERE e.id IS NULL",
    "membership → record": "SELECT count(*) FROM membership m LEFT JOIN source_record r ON r.id = m.record_id"
    " WHERE r.id IS NULL",
    "entity → survivor": "SELECT count(*) FROM entity e LEFT JOIN entity s ON s.id = e.merged_into_id"
    " WHERE e.merged_into_id IS NOT NULL AND s.id IS NULL",
    "judgement → records": "SELECT count(*) FROM judgement j"
    " LEFT JOIN source_record a ON a.id = j.record_a_id LEFT JOIN source_record b ON b.id = j.record_b_id"
    " WHERE a.id IS NULL OR b.id IS NULL",
    "judgement → run": "SELECT count(*) FROM judgement j LEFT JOIN resolution_run r ON r.id = j.run_id"
    " WHERE j.run_id IS NOT NULL AND r.id IS NULL",
    "review item → judgement": "SELECT count(*) FROM review_item i"
    " LEFT JOIN judgement j ON j.id = i.judgement_id WHERE j.id IS NULL",
}


def dangling(engine: Engine) -> dict[str, int]:
    """The references to no row, per kind of reference (and on SQLite, per its own check of every table)."""
    with engine.connect() as connection:
        out = {name: int(connection.exec_driver_sql(sql).scalar_one()) for name, sql in DANGLING.items()}
        if engine.dialect.name == "sqlite":
            checked = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            out["PRAGMA foreign_key_check"] = len(checked)
    return out


def test_kinds_resolved_in_worker_processes_match_a_run_in_one_process(engine: Engine, city: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    for f in manifest["files"]:
        ingest_file(engine, city / f["path"], f["source"], Kind(f["kind"]), encoding=f["encoding"], workers=0)
    parallel = list(resolve_kinds(engine, KINDS, workers=2, parallel_from=0))
    assert sorted(s.kind.value for s in parallel) == sorted(k.value for k in KINDS)
    assert all(s.retired > 0 for s in parallel if s.kind != Kind.LEGAL_ENTITY)  # records were joined
    after_parallel = {kind: partition(engine, kind) for kind in KINDS}
    assert (found := dangling(engine)) == dict.fromkeys(found, 0)
    again = {s.kind: s for s in resolve_kinds(engine, KINDS, workers=0)}
    for kind in KINDS:
        assert partition(engine, kind) == after_parallel[kind]
        assert again[kind].moved_records == 0 and again[kind].created == 0
    assert (found := dangling(engine)) == dict.fromkeys(found, 0)
    with engine.connect() as connection:  # the checks are back on for the next user of the pool
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


_WORKER_SCRIPT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from hub.resolve.batch import _hold

def work(path):
    with open(path, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(120)

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    held = (context.Lock(), os.getpid())
    with ProcessPoolExecutor(1, mp_context=context, initializer=_hold, initargs=held) as pool:
        pool.submit(work, sys.argv[1]).result()
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return any(line.startswith("State:") and "Z" in line for line in status)  # a zombie is gone
    except FileNotFoundError:
        return True


def test_a_resolving_worker_ends_with_the_resolve_that_started_it(tmp_path: Path) -> None:
    """`kill -9` of `hub resolve` must not leave its workers to commit a run beside the next one."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script, marker = tmp_path / "resolve_like.py", tmp_path / "worker.pid"
    script.write_text(_WORKER_SCRIPT, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "the worker never started"
            time.sleep(0.1)
        worker = int(marker.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(worker):
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()

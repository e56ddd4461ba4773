"""`hub resolve` over all kinds with worker processes: the same entities as one kind after another."""

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


def test_kinds_resolved_in_worker_processes_match_a_run_in_one_process(engine: Engine, city: Path) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    for f in manifest["files"]:
        ingest_file(engine, city / f["path"], f["source"], Kind(f["kind"]), encoding=f["encoding"], workers=0)
    parallel = list(resolve_kinds(engine, KINDS, workers=2, parallel_from=0))
    assert sorted(s.kind.value for s in parallel) == sorted(k.value for k in KINDS)
    assert all(s.retired > 0 for s in parallel if s.kind != Kind.LEGAL_ENTITY)  # records were joined
    after_parallel = {kind: partition(engine, kind) for kind in KINDS}
    again = {s.kind: s for s in resolve_kinds(engine, KINDS, workers=0)}
    for kind in KINDS:
        assert partition(engine, kind) == after_parallel[kind]
        assert again[kind].moved_records == 0 and again[kind].created == 0

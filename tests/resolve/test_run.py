"""A resolution as one call: the plan per kind (batch, one by one, nothing) and what the run reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.domain import Kind
from hub.generate import generate_city
from hub.ingest import ingest_file
from hub.resolve.persist import RunSummary
from hub.resolve.run import IncrementalRun, plan_resolution, resolve_ingest_run, run_resolution

KINDS = [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(300, 3, out)
    return out


def test_a_first_run_is_a_batch_run_then_new_records_are_resolved_one_by_one(
    engine: Engine, city: Path, tmp_path: Path
) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    for f in manifest["files"]:
        ingest_file(engine, city / f["path"], f["source"], Kind(f["kind"]), encoding=f["encoding"], workers=0)

    plan = plan_resolution(engine, KINDS)
    assert plan.batch == tuple(KINDS) and not plan.incremental and not plan.up_to_date
    heard: list[RunSummary | IncrementalRun] = []
    first = run_resolution(engine, plan, workers=0, on_kind=heard.append)
    assert sorted(s.kind.value for s in first.batch) == sorted(k.value for k in KINDS)
    assert list(first.batch) == heard and not first.incremental
    assert first.links.links > 0

    again = plan_resolution(engine, KINDS)
    assert again.up_to_date == tuple(KINDS) and not again.batch and not again.incremental
    assert plan_resolution(engine, [Kind.PERSON], everything=True).batch == (Kind.PERSON,)

    newcomer = tmp_path / "newcomer.jsonl"
    newcomer.write_text(json.dumps({"key": "newcomer-1", "name": "欧阳娜"}) + "\n", encoding="utf-8")
    ingest_file(engine, newcomer, "tax", Kind.PERSON, workers=0)
    plan = plan_resolution(engine, KINDS)
    assert plan.up_to_date == (Kind.ADDRESS, Kind.LEGAL_ENTITY)
    assert list(plan.incremental) == [Kind.PERSON] and len(plan.incremental[Kind.PERSON]) == 1
    done = run_resolution(engine, plan, workers=0)
    assert not done.batch and done.settled_seconds is None
    (one,) = done.incremental
    assert one.kind == Kind.PERSON and one.result.records == 1


def test_an_ingest_run_is_resolved_against_the_stored_entities(
    engine: Engine, city: Path, tmp_path: Path
) -> None:
    manifest = json.loads((city / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["kind"] == "person":
            ingest_file(engine, city / f["path"], f["source"], Kind.PERSON, encoding=f["encoding"], workers=0)
    run_resolution(engine, plan_resolution(engine, [Kind.PERSON]), workers=0)
    newcomer = tmp_path / "newcomer.jsonl"
    rows = [{"key": f"newcomer-{i}", "name": name} for i, name in enumerate(("欧阳娜", "司马伟"))]
    newcomer.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary = ingest_file(engine, newcomer, "tax", Kind.PERSON, workers=0)
    result = resolve_ingest_run(engine, summary.run_id, Kind.PERSON)
    assert result.records == 2
    assert plan_resolution(engine, [Kind.PERSON]).up_to_date == (Kind.PERSON,)

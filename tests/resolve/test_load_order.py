"""The same records give the same entities, weights and links in whatever order they were loaded.

A department's export comes sorted one way tonight and another way next month, and offices' files
arrive in any order; record ids follow arrival. An auditor who loads the same files again must find
the same entities, and a steward the same waterfalls.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from emptied import truncate_all
from resolved_city import resolved_city
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.export import crosswalk_rows
from hub.generate import generate_city
from hub.ingest import ingest_file
from hub.normalize.identifiers import resident_id_check_char
from hub.resolve.run import plan_resolution, run_resolution
from hub.store.database import make_engine
from hub.store.models import Link, ResolutionRun

KINDS = [Kind.ADDRESS, Kind.LEGAL_ENTITY, Kind.PERSON]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(2000, 1, out, profile="field-notes")
    return out


def _reversed_copy(city: Path, out: Path) -> list[dict[str, Any]]:
    """The city's files with their rows in reverse order, listed in reverse order."""
    files = json.loads((city / "manifest.json").read_text())["files"]
    for f in files:
        source, target = city / f["path"], out / f["path"]
        if source.suffix == ".csv":
            with source.open(encoding=f["encoding"], newline="") as handle:
                header, *rows = list(csv.reader(handle))
            with target.open("w", encoding=f["encoding"], newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(reversed(rows))
        else:
            lines = source.read_text(encoding=f["encoding"]).splitlines()
            target.write_text("\n".join(reversed(lines)) + "\n", encoding=f["encoding"])
    return list(reversed(files))


Record = tuple[str, str, str]  # source, kind, key


def _outcome(
    engine: Engine,
) -> tuple[set[frozenset[Record]], set[tuple[str, Record, Record]], dict[Any, Any]]:
    """The entities as sets of (source, kind, key), the links between them (each entity named by its
    first member), and each kind's trained weights."""
    members: dict[str, set[Record]] = {}
    for source, kind, key, entity in crosswalk_rows(engine):
        members.setdefault(entity, set()).add((source, kind, key))
    name = {entity: min(records) for entity, records in members.items()}
    with Session(engine) as session:
        links = {
            (relation.value, name[subject], name[obj])
            for relation, subject, obj in session.execute(
                select(Link.relation, Link.subject_id, Link.object_id).where(Link.valid_to.is_(None))
            )
        }
        weights = {
            run.kind: run.settings["parameters"]
            for run in session.scalars(select(ResolutionRun).where(ResolutionRun.finished_at.is_not(None)))
        }
    return {frozenset(records) for records in members.values()}, links, weights


def _load_and_resolve(engine: Engine, directory: Path, files: list[dict[str, Any]]) -> None:
    for f in files:
        ingest_file(
            engine, directory / f["path"], f["source"], Kind(f["kind"]), encoding=f["encoding"], workers=0
        )
    run_resolution(engine, plan_resolution(engine, KINDS), workers=0)


def _emptied(request: pytest.FixtureRequest, database_url: str) -> None:
    """Empty the test's database again: a fresh copy of the migrated file, or every table truncated."""
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    else:
        engine = make_engine(database_url)
        truncate_all(engine)
        engine.dispose()


def test_records_loaded_in_another_order_resolve_to_the_same_entities_weights_and_links(
    request: pytest.FixtureRequest, database_url: str, city: Path, tmp_path: Path
) -> None:
    outcomes = []
    for directory, files in (
        (city, json.loads((city / "manifest.json").read_text())["files"]),
        (tmp_path, _reversed_copy(city, tmp_path)),  # the files in reverse, each one's rows reversed
    ):
        _emptied(request, database_url)
        engine = make_engine(database_url)
        _load_and_resolve(engine, directory, files)
        outcomes.append(_outcome(engine))
        engine.dispose()
    (entities, links, weights), (entities_again, links_again, weights_again) = outcomes
    assert len(entities) > 3000 and len(links) > 3000
    assert weights_again == weights
    assert entities_again == entities
    assert links_again == links


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nights_new_records_resolve_one_by_one_alike_in_any_row_order(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """Three new grid records of one person's name, phone and flat: one without an ID number, two with
    different valid ones. The one without joins whichever of the two is resolved first, and the two
    never join each other; so the night's result must not hang on how the file was sorted. New records
    are resolved one by one in the order of their source and key."""
    same = {"name": "欧阳明月", "phone": "13912345678", "address": "泉辛新村99幢1单元702室"}
    rows = [
        {"key": "g-1", **same},
        {"key": "g-2", **same, "id_number": _resident_id("32058119800101123")},
        {"key": "g-3", **same, "id_number": _resident_id("32058119850505234")},
    ]
    outcomes = []
    for name, order in (("sorted", rows), ("resorted", [rows[0], rows[2], rows[1]])):
        (tmp_path / name).mkdir()
        engine = resolved_city(request, tmp_path / name, persons=150, backend=backend)
        path = tmp_path / name / "grid.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in order), encoding="utf-8")
        ingest_file(engine, path, "grid_collection", Kind.PERSON, workers=0)
        plan = plan_resolution(engine, [Kind.PERSON])
        assert list(plan.incremental) == [Kind.PERSON]  # one by one, not a batch run
        run_resolution(engine, plan, workers=0)
        outcomes.append(_grid_entities(engine))
        engine.dispose()
    assert outcomes[0] == [["g-1", "g-2"], ["g-3"]]
    assert outcomes[1] == outcomes[0]


def _grid_entities(engine: Engine) -> list[list[str]]:
    """The test's grid records (keys `g-…`) grouped by entity."""
    entities: dict[str, list[str]] = {}
    for _source, _kind, key, entity in crosswalk_rows(engine, Kind.PERSON):
        if key.startswith("g-"):
            entities.setdefault(entity, []).append(key)
    return sorted(sorted(keys) for keys in entities.values())


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)

"""Incremental resolution: records resolved one at a time reach the clusters a batch run reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from samples import PERSON, people

from hub.domain import Kind
from hub.generate import generate_city
from hub.ingest.readers import open_source
from hub.normalize.fields import flatten
from hub.normalize.records import normalize_record
from hub.resolve.columns import RecordTable
from hub.resolve.engine import resolve
from hub.resolve.incremental import Resolver
from hub.resolve.kinds import SETTINGS
from hub.resolve.settings import MatchSettings


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(3000, 11, out)
    return out


def rows_of(city: Path, kind: Kind) -> list[dict[str, Any]]:
    import json

    manifest = json.loads((city / "manifest.json").read_text())
    rows = []
    for f in manifest["files"]:
        if f["kind"] != kind:
            continue
        with open_source(city / f["path"], f["encoding"]) as reader:
            rows += [
                flatten(kind, normalize_record(kind, r.value).features) for r in reader if r.error is None
            ]
    return rows


def batch_and_incremental(
    settings: MatchSettings, rows: list[dict[str, Any]], start: int
) -> tuple[list[frozenset[int]], Resolver]:
    """The batch partition of all rows, and a Resolver fed the rows after `start` one at a time."""
    full = RecordTable.from_rows(range(len(rows)), rows, settings.fields())
    batch = resolve(full, settings)
    first = RecordTable.from_rows(range(start), rows[:start], settings.fields())
    resolver = Resolver(
        settings, batch.parameters, first, resolve(first, settings, parameters=batch.parameters).labels
    )
    for row in rows[start:]:
        resolver.add(row)
    return sorted((frozenset(c) for c in batch.clusters()), key=min), resolver


@pytest.mark.parametrize("kind", list(Kind))
def test_one_at_a_time_reaches_the_batch_clusters_on_a_generated_city(city: Path, kind: Kind) -> None:
    rows = rows_of(city, kind)
    batch, resolver = batch_and_incremental(SETTINGS[kind], rows, len(rows) // 3)
    assert len(batch) < len(rows)  # there was something to join
    assert resolver.partition() == batch


def test_from_nothing_every_record_arriving_alone() -> None:
    table = people()
    rows = [{name: table.column(name).values[i] for name in table.columns} for i in range(len(table))]
    batch, resolver = batch_and_incremental(PERSON, rows, 0)
    assert resolver.partition() == batch


def test_a_record_that_matches_two_entities_joins_them_and_reports_it() -> None:
    rows = [
        {name: people().column(name).values[i] for name in people().columns} for i in range(len(people()))
    ]
    trained = resolve(people(), PERSON).parameters
    # Two records of one person that share too little to be joined (one has no ID, the other no phone
    # and another birth date), then a full record that matches both.
    wang = rows[0]
    start = RecordTable.from_rows(
        range(2),
        [{**wang, "id": None}, {**wang, "phone": None, "birth": "1980-01-02"}],
        PERSON.fields(),
    )
    resolver = Resolver(PERSON, trained, start, np.array([0, 1], dtype=np.int64))
    assert resolver.partition() == [frozenset({0}), frozenset({1})]
    added = resolver.add(wang)
    assert added.merged == [1]  # entity 1 is gone into entity 0
    assert added.entity == 0
    assert resolver.partition() == [frozenset({0, 1, 2})]
    assert {candidate for candidate, _, how in added.pairs if how in ("model", "rule")} == {0, 1}


def test_only_the_records_blocks_are_looked_at() -> None:
    table = people()
    labels = resolve(table, PERSON).labels
    resolver = Resolver(PERSON, resolve(table, PERSON).parameters, table, labels)
    added = resolver.add({"name": "完全陌生", "birth": "2001-01-01", "phone": "000", "id": "Z"})
    assert added.pairs == [] and added.entity == len(table)


def test_stewards_cannot_links_hold_in_incremental_resolution() -> None:
    table = people()
    params = resolve(table, PERSON).parameters
    rows = [{name: table.column(name).values[i] for name in table.columns} for i in range(len(table))]
    first = RecordTable.from_rows(range(1), rows[:1], PERSON.fields())
    resolver = Resolver(PERSON, params, first, np.array([0]), cannot_link=[(0, 1)])
    added = resolver.add(rows[1])  # everything agrees with record 0, but a steward said no
    assert added.entity == 1
    assert resolver.partition() == [frozenset({0}), frozenset({1})]

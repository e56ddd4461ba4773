"""Reading what a resolution run needs: the current records of a kind, stewards' decisions, past runs.

Records come through the driver's own cursor in batches, their stored match fields parsed by Arrow into
columns, so that a million persons load in seconds and without a dict per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from hub.domain import DERIVED_SOURCE, Decision, Kind
from hub.errors import NotFoundError
from hub.normalize.fields import flatten
from hub.resolve.columns import Column, IntArray, JsonColumnsBuilder, RecordTable, string_column
from hub.resolve.groups import name_groups
from hub.resolve.model import Parameters
from hub.resolve.settings import MatchSettings
from hub.store.models import STEWARD_JUDGEMENTS, Judgement, ResolutionRun
from hub.store.sql import driver_cursor, is_sqlite, json_object

__all__ = [
    "LoadedRecords",
    "last_parameters",
    "latest_run",
    "load_records",
    "steward_pairs",
]


@dataclass(slots=True)
class LoadedRecords:
    """The current records of one kind: ids in order, and their match fields as a table."""

    record_ids: list[int]
    table: RecordTable
    entity: Column  # each record's current entity (code -1: none), codes in order of earliest record

    @property
    def entity_codes(self) -> IntArray:
        return self.entity.codes

    @property
    def entity_names(self) -> list[str]:
        return self.entity.distinct

    def current(self) -> dict[int, str]:
        """Record id → current entity id."""
        names = self.entity_names
        return {
            r: names[c] for r, c in zip(self.record_ids, self.entity_codes.tolist(), strict=True) if c >= 0
        }


_LOAD_BATCH = 50_000


def load_records(
    session: Session,
    kind: Kind,
    settings: MatchSettings,
    *,
    extra: pa.Table | None = None,
    only: Sequence[int] | None = None,
    derived: bool | None = None,
) -> LoadedRecords:
    """Every current record of `kind` with the fields `settings` reads, from its latest version.

    `extra`: match fields (string columns) of rows that are no stored records (address references),
    put in the table after the records, with ids -1, -2, ...; `record_ids` and `entity` cover the
    records only.
    The settings' `prepare` steps run over the whole table, the extra rows included.
    `only`: just these records (ids known to be of `kind`), for settings without `prepare` steps.
    `derived`: True for the records of the hub's own source alone (`DERIVED_SOURCE`), False for the
    offices' records alone, None for all.
    """
    # The driver's own cursor, in batches: SQLAlchemy's per-row result objects cost more than the query.
    # Match fields come as the JSON's bytes, which Arrow parses into columns (`JsonColumnsBuilder`):
    # neither a Python string nor a dict per record.
    connection = session.connection()
    match = "CAST(v.match AS BLOB)" if is_sqlite(connection) else "convert_to(v.match::text, 'UTF8')"
    record_ids: list[int] = []
    entities: list[pa.Array] = []
    builder = JsonColumnsBuilder(settings.fields())
    dumps = orjson.dumps
    wanted = (
        f" WHERE r.kind = '{kind.value}'"
        + (f" AND r.id IN ({', '.join(str(int(r)) for r in only)})" if only is not None else "")
        + (
            f" AND r.source_id {'=' if derived else '<>'}"
            f" COALESCE((SELECT id FROM source WHERE name = '{DERIVED_SOURCE}'), -1)"
            if derived is not None
            else ""
        )
    )
    # On PostgreSQL a server-side cursor: the rows come batch by batch instead of all at once into the
    # client's memory (a gigabyte for a million persons).
    with driver_cursor(connection, stream="hub_load_records") as cursor:
        cursor.execute(
            f"SELECT r.id, m.entity_id, {match}, CASE WHEN v.match IS NULL THEN v.features END"
            " FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " LEFT JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            f"{wanted} ORDER BY r.id"
        )
        while batch := cursor.fetchmany(_LOAD_BATCH):
            record_ids.extend([row[0] for row in batch])
            entities.append(pa.array([row[1] for row in batch], pa.string()))
            # Stored at ingest since migration 0002; older versions derive them from their features.
            builder.add_json(
                [
                    match if match is not None else dumps(flatten(kind, json_object(features)))
                    for _, _, match, features in batch
                ]
            )
    extras = 0 if extra is None else extra.num_rows
    if extra is not None and extras:
        builder.add_table(extra)
    loaded = LoadedRecords(
        record_ids,
        RecordTable(
            [*record_ids, *range(-1, -extras - 1, -1)],
            builder.columns(),
            _ranks(connection, wanted, record_ids, extras, every=only is None),
        ),
        string_column(pa.chunked_array(entities, pa.string())),
    )
    # Arrow's allocator keeps the pages it freed for reuse: 400 MB after a million persons' load.
    del builder, entities
    pa.default_memory_pool().release_unused()
    if "village_groups" in settings.prepare:
        name_groups(loaded.table)
    return loaded


def _ranks(
    connection: Connection, wanted: str, record_ids: list[int], extras: int, *, every: bool
) -> IntArray:
    """Each record's place in the order of (source name, key), which is who it is, not when it came; the
    extra rows after the records, in their order.

    Both databases order the keys by their bytes (SQLite's binary collation, PostgreSQL's "C"), so a
    record ranks the same on either. On SQLite, for `every` record of a kind, the sources are read
    first (CROSS JOIN keeps the order written) and each one's keys straight off the unique (source,
    kind, key) index, with no sort; a few records named by id are looked up by id and sorted.
    `record_ids` are ascending (as `load_records` reads them); a record stored between the two reads
    ranks after the rest, in id order.
    """
    sqlite = is_sqlite(connection)
    join, collate = ("CROSS JOIN" if every and sqlite else "JOIN"), ("" if sqlite else ' COLLATE "C"')
    with driver_cursor(connection) as cursor:
        cursor.execute(
            f"SELECT r.id FROM source s {join} source_record r ON r.source_id = s.id"
            f"{wanted} ORDER BY s.name{collate}, r.key{collate}"
        )
        ordered = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
    ids = np.asarray(record_ids, dtype=np.int64)
    n = ids.size
    rank = np.full(n + extras, -1, dtype=np.int64)
    if n:
        at = np.minimum(np.searchsorted(ids, ordered), n - 1)
        at = at[ids[at] == ordered]
        rank[at] = np.arange(at.size, dtype=np.int64)
        unseen = np.flatnonzero(rank[:n] < 0)
        rank[unseen] = at.size + np.arange(unseen.size, dtype=np.int64)
    rank[n:] = np.arange(n, n + extras, dtype=np.int64)
    return rank


def steward_pairs(
    session: Session, kind: Kind, index: Mapping[int, int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Stewards' live positive and negative decisions on `kind`, as pairs of indices in `index` (record
    id → index; decisions on records it lacks are left out). The stewards' condition is written as
    the partial index `ix_judgement_steward`'s, which a bound parameter would not match."""
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    rows = session.execute(
        select(Judgement.record_a_id, Judgement.record_b_id, Judgement.decision).where(
            Judgement.kind == kind, STEWARD_JUDGEMENTS, Judgement.deleted_at.is_(None)
        )
    )
    for a, b, decision in rows:
        if a in index and b in index:
            pair = (index[a], index[b])
            if decision == Decision.POSITIVE:
                must.append(pair)
            elif decision == Decision.NEGATIVE:
                cannot.append(pair)
    return must, cannot


def latest_run(session: Session, kind: Kind) -> ResolutionRun:
    """The latest finished resolution run of `kind`; NotFoundError before the first."""
    run = session.scalars(
        select(ResolutionRun)
        .where(ResolutionRun.kind == kind, ResolutionRun.finished_at.is_not(None))
        .order_by(ResolutionRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        raise NotFoundError(f"no resolution run for {kind.value} yet: run `hub resolve` first")
    return run


def last_parameters(session: Session, kind: Kind, settings: MatchSettings) -> tuple[int, Parameters] | None:
    """The weights of the latest run of `kind` that used these same settings."""
    runs = session.scalars(
        select(ResolutionRun)
        .where(ResolutionRun.kind == kind, ResolutionRun.finished_at.is_not(None))
        .order_by(ResolutionRun.id.desc())
        .limit(20)
    )
    for run in runs:
        stored = run.settings
        if MatchSettings.from_json(stored["match"]) == settings:
            return run.id, Parameters.from_json(stored["parameters"])
    return None

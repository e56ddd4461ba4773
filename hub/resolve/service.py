"""Batch resolution against the database: load features, resolve, store entities and their evidence.

`resolve_kind` runs the pure engine over every current record of one kind and stores:

- the run, with the settings and trained parameters it used (so it can be reproduced);
- a judgement per join and per uncertain pair, with each comparison's level and weight; the judgements
  of earlier machine runs are retired (kept, with `deleted_at`), stewards' never. A join is a match
  that merged two clusters: each cluster of n records is explained by its n - 1 joins, and a matched
  pair inside a cluster already joined is not stored again (`hub explain` computes it on demand);
- review items for the uncertain pairs, most uncertain first;
- memberships and entities with stable ids: a cluster keeps the id of the entity most of its records
  belonged to; an entity left without records is retired as merged into the one that took most of
  them; a record that changes entity gets a new membership and the old one is closed, not deleted.

Stewards' positive and negative judgements go into the engine as must-link and cannot-link pairs, so
every run respects them. The caller owns the transaction (services flush).
"""

from __future__ import annotations

import gc
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit import record_event
from hub.domain import ActorType, Decision, EntityStatus, Kind, ReviewStatus, new_entity_id
from hub.errors import NotFoundError
from hub.normalize.fields import flatten
from hub.resolve.columns import (
    Column,
    IntArray,
    JsonColumnsBuilder,
    RecordTable,
    sorted_unique,
    string_column,
)
from hub.resolve.engine import Resolution, resolve
from hub.resolve.kinds import SETTINGS
from hub.resolve.model import Parameters
from hub.resolve.settings import MatchSettings
from hub.store.bulk import BulkWriter
from hub.store.models import Judgement, ResolutionRun, ReviewItem, utcnow
from hub.store.sql import driver_cursor, is_sqlite, json_object, temporary_table

__all__ = [
    "Computed",
    "LoadedRecords",
    "RunSummary",
    "assign_entities",
    "compute_kind",
    "insert_judgements",
    "latest_run",
    "load_records",
    "open_review_items",
    "resolve_kind",
    "steward_pairs",
    "store_kind",
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


@dataclass(slots=True)
class RunSummary:
    kind: Kind
    run_id: int
    records: int
    entities: int
    created: int
    retired: int
    moved_records: int
    judgements: int
    review_items: int
    stats: dict[str, Any] = field(default_factory=dict)


_LOAD_BATCH = 50_000


def load_records(session: Session, kind: Kind, settings: MatchSettings) -> LoadedRecords:
    """Every current record of `kind` with the fields `settings` reads, from its latest version."""
    # The driver's own cursor, in batches: SQLAlchemy's per-row result objects cost more than the query.
    # Match fields come as the JSON's bytes, which Arrow parses into columns (`JsonColumnsBuilder`):
    # neither a Python string nor a dict per record.
    connection = session.connection()
    match = "CAST(v.match AS BLOB)" if is_sqlite(connection) else "convert_to(v.match::text, 'UTF8')"
    record_ids: list[int] = []
    entities: list[pa.Array] = []
    builder = JsonColumnsBuilder(settings.fields())
    dumps = orjson.dumps
    # On PostgreSQL a server-side cursor: the rows come batch by batch instead of all at once into the
    # client's memory (a gigabyte for a million persons).
    with driver_cursor(connection, stream="hub_load_records") as cursor:
        cursor.execute(
            f"SELECT r.id, m.entity_id, {match}, CASE WHEN v.match IS NULL THEN v.features END"
            " FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " LEFT JOIN membership m ON m.record_id = r.id AND m.valid_to IS NULL"
            f" WHERE r.kind = '{kind.value}' ORDER BY r.id"
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
    loaded = LoadedRecords(
        record_ids,
        RecordTable(list(record_ids), builder.columns()),
        string_column(pa.chunked_array(entities, pa.string())),
    )
    # Arrow's allocator keeps the pages it freed for reuse: 400 MB after a million persons' load.
    del builder, entities
    pa.default_memory_pool().release_unused()
    return loaded


def steward_pairs(
    session: Session, kind: Kind, index: dict[int, int]
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Stewards' live positive and negative decisions on `kind`, as pairs of indices in `index`."""
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    rows = session.execute(
        select(Judgement.record_a_id, Judgement.record_b_id, Judgement.decision).where(
            Judgement.kind == kind,
            Judgement.actor_type == ActorType.STEWARD,
            Judgement.deleted_at.is_(None),
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


def _last_parameters(session: Session, kind: Kind, settings: MatchSettings) -> tuple[int, Parameters] | None:
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


def _first(row: tuple[str, Any]) -> str:
    return row[0]


@dataclass(slots=True)
class Computed:
    """The reading half of a run, ready to store: the records, stewards' decisions and the resolution.

    Picklable and without the record table, so a worker process can compute it for the writer.
    """

    kind: Kind
    settings: MatchSettings
    loaded: LoadedRecords
    must: list[tuple[int, int]]
    cannot: list[tuple[int, int]]
    result: Resolution
    load_seconds: float
    started_at: datetime  # before loading: what the run saw was stored by then


def resolve_kind(
    session: Session,
    kind: Kind,
    *,
    settings: MatchSettings | None = None,
    actor: str = "system",
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Resolve every current record of `kind` and store the result (flushes; the caller commits)."""
    computed = compute_kind(session, kind, settings=settings, progress=progress)
    return store_kind(session, computed, actor=actor)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a run makes millions of objects and no cycles, and the
    collector's passes over them cost a third of loading a million persons."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compute_kind(
    session: Session,
    kind: Kind,
    *,
    settings: MatchSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Computed:
    """Load and resolve every current record of `kind`; reads only."""
    settings = settings or SETTINGS[kind]
    with _without_gc():
        started_at = utcnow()
        started = time.perf_counter()
        loaded = load_records(session, kind, settings)
        load_seconds = time.perf_counter() - started
        if progress:
            progress("load")
        index = {record_id: i for i, record_id in enumerate(loaded.record_ids)}
        must, cannot = steward_pairs(session, kind, index)
        reused = None
        if len(loaded.record_ids) < settings.train_min_records:
            reused = _last_parameters(session, kind, settings)
        result = resolve(
            loaded.table,
            settings,
            must_link=must,
            cannot_link=cannot,
            parameters=reused[1] if reused else None,
            progress=progress,
        )
        if reused:
            result.stats["parameters_from_run"] = reused[0]
        loaded.table = RecordTable([], {})  # storing needs only ids and entities
        return Computed(kind, settings, loaded, must, cannot, result, load_seconds, started_at)


def store_kind(session: Session, computed: Computed, *, actor: str = "system") -> RunSummary:
    """Store what `compute_kind` decided: the run, judgements, review items, entities (flushes)."""
    kind, settings, loaded, result = computed.kind, computed.settings, computed.loaded, computed.result
    with _without_gc():
        persist_started = time.perf_counter()
        run = ResolutionRun(
            kind=kind,
            settings={"match": settings.to_json(), "parameters": result.parameters.to_json()},
            actor=actor,
            started_at=computed.started_at,
        )
        session.add(run)
        session.flush()
        summary = _persist(session, kind, run, settings, loaded, result, computed.must, computed.cannot)
        stats = dict(result.stats)
        stats["seconds"] = {
            "load": round(computed.load_seconds, 3),
            **stats["seconds"],
            "persist": round(time.perf_counter() - persist_started, 3),
        }
        stats.update(
            created=summary.created,
            retired=summary.retired,
            moved_records=summary.moved_records,
            persist_seconds=summary.stats["persist_seconds"],
        )
        run.stats = stats
        run.finished_at = utcnow()
        session.flush()
        summary.stats = stats
        record_event(
            session,
            actor,
            "resolution.run",
            [f"run:{run.id}"],
            after={
                "kind": kind.value,
                "records": summary.records,
                "entities": summary.entities,
                "created": summary.created,
                "retired": summary.retired,
                "moved_records": summary.moved_records,
                "judgements": summary.judgements,
                "review_items": summary.review_items,
            },
        )
        return summary


def _persist(
    session: Session,
    kind: Kind,
    run: ResolutionRun,
    settings: MatchSettings,
    loaded: LoadedRecords,
    result: Resolution,
    must: list[tuple[int, int]],
    cannot: list[tuple[int, int]],
) -> RunSummary:
    bulk = BulkWriter(session.connection())
    now = utcnow()
    stamp = bulk.timestamp(now)
    record_ids = loaded.record_ids
    started = time.perf_counter()
    judgements, reviews = _store_judgements(
        session, bulk, kind, run, settings, loaded, result, must, cannot, stamp
    )
    between = time.perf_counter()
    created, retired, moved, entities = _store_memberships(session, bulk, kind, loaded, result, stamp)
    summary = RunSummary(
        kind, run.id, len(record_ids), entities, created, retired, moved, judgements, reviews
    )
    summary.stats["persist_seconds"] = {
        "judgements": round(between - started, 3),
        "memberships": round(time.perf_counter() - between, 3),
    }
    return summary


def _store_judgements(
    session: Session,
    bulk: BulkWriter,
    kind: Kind,
    run: ResolutionRun,
    settings: MatchSettings,
    loaded: LoadedRecords,
    result: Resolution,
    must: list[tuple[int, int]],
    cannot: list[tuple[int, int]],
    stamp: Any,
) -> tuple[int, int]:
    record_ids = loaded.record_ids
    session.execute(
        update(Judgement)
        .where(
            Judgement.kind == kind,
            Judgement.actor_type.in_([ActorType.MODEL, ActorType.RULE]),
            Judgement.deleted_at.is_(None),
        )
        .values(deleted_at=utcnow())
    )
    rows = np.flatnonzero(result.merged | result.review)
    # In order of the first record: the judgement indexes then grow at their end, not all over.
    rows = rows[np.argsort(result.left[rows], kind="stable")]
    if must or cannot:
        decided = {(min(a, b), max(a, b)) for a, b in (*must, *cannot)}
        pairs = zip(result.left[rows].tolist(), result.right[rows].tolist(), strict=True)
        rows = rows[np.fromiter((pair not in decided for pair in pairs), dtype=bool, count=rows.size)]
    ids_by_index = np.asarray(record_ids, dtype=np.int64)
    in_review = result.review[rows]
    actor_types = np.where(result.joined_by[rows] == 2, ActorType.RULE.value, ActorType.MODEL.value).tolist()
    probabilities = result.probabilities[rows]
    dumps = orjson.dumps
    explanations = [
        dumps({"levels": levels, "weights": weights, "weight": weight}).decode()
        for levels, weights, weight in zip(
            result.levels[rows].tolist(),
            np.round(result.parts[rows], 3).tolist(),
            np.round(result.weights[rows], 3).tolist(),
            strict=True,
        )
    ]
    varying = list(
        zip(
            ids_by_index[result.left[rows]].tolist(),
            ids_by_index[result.right[rows]].tolist(),
            np.where(in_review, Decision.UNSURE.value, Decision.POSITIVE.value).tolist(),
            probabilities.tolist(),
            explanations,
            actor_types,
            strict=True,
        )
    )
    review_rows = np.flatnonzero(in_review).tolist()
    ids = insert_judgements(session, bulk, kind, run.id, stamp, varying)
    # Open review items of earlier runs are superseded by this run's; decided ones stay as they are.
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.kind == kind, ReviewItem.status == ReviewStatus.OPEN)
        .values(
            status=ReviewStatus.DECIDED, note=f"superseded by resolution run {run.id}", decided_at=utcnow()
        )
    )
    open_review_items(bulk, kind, stamp, [(ids[i], float(probabilities[i])) for i in review_rows])
    return len(varying), len(review_rows)


def open_review_items(bulk: BulkWriter, kind: Kind, stamp: Any, judgements: list[tuple[int, float]]) -> None:
    """A review item for each (judgement id, match probability), the most uncertain first."""
    bulk.insert(
        "review_item",
        ("judgement_id", "kind", "priority", "status", "created_at"),
        [
            (judgement_id, kind.value, round(1.0 - abs(p - 0.5) * 2, 6), ReviewStatus.OPEN.value, stamp)
            for judgement_id, p in judgements
        ],
    )


@dataclass(slots=True)
class Grouping:
    """Records grouped into clusters, with the entity each record belongs to now, as arrays.

    `records` are record ids in ascending order; `cluster_of` numbers each record's cluster 0..k-1;
    `old_code` is each record's entity now, a code into `names` (-1: none), codes in order of each
    entity's earliest record.
    """

    records: IntArray
    cluster_of: IntArray
    old_code: IntArray
    names: list[str]

    @classmethod
    def of(cls, clusters: Sequence[Sequence[int]], current: Mapping[int, str]) -> Grouping:
        """From clusters as lists of record ids and each record's entity now."""
        sizes = np.fromiter((len(c) for c in clusters), dtype=np.int64, count=len(clusters))
        records = np.fromiter(itertools.chain.from_iterable(clusters), dtype=np.int64, count=int(sizes.sum()))
        cluster_of = np.repeat(np.arange(len(clusters), dtype=np.int64), sizes)
        order = np.argsort(records, kind="stable")
        records, cluster_of = records[order], cluster_of[order]
        index: dict[str, int] = {}
        old_code = np.fromiter(
            (
                -1 if (e := current.get(r)) is None else index.setdefault(e, len(index))
                for r in records.tolist()
            ),
            dtype=np.int64,
            count=records.size,
        )
        return cls(records, cluster_of, old_code, list(index))


@dataclass(slots=True)
class Choice:
    """What `_choose_entities` decided: each record's entity after, the new ids, the retired ones."""

    all_names: list[str]  # the old names, then the new ones
    new_code: IntArray  # each record's entity after, a code into `all_names`
    new_entities: list[str]
    retired: dict[str, str]  # retired id → its survivor
    changed: set[str]  # ids that kept their records and gained others


def _choose_entities(kind: Kind, grouping: Grouping) -> Choice:
    """Which entity id each cluster keeps, in arrays: a million clusters in well under a second.

    Clusters choose largest first (ties: the one with the earliest record); each takes the id most of
    its records had (ties: the entity of the earliest record) unless a cluster before it took that id,
    then its next, else a new id. Only clusters competing for an id are walked one by one; a cluster
    whose candidate ids no other cluster holds simply takes its first.
    """
    records, cluster_of, old_code, names = (
        grouping.records,
        grouping.cluster_of,
        grouping.old_code,
        grouping.names,
    )
    k = int(cluster_of.max()) + 1 if cluster_of.size else 0
    sizes = np.bincount(cluster_of, minlength=k)
    _, first_index = np.unique(cluster_of, return_index=True)
    first_record = records[first_index]  # records are in id order: the first is the earliest
    order = np.lexsort((first_record, -sizes))  # the order in which clusters choose
    rank = np.empty(k, dtype=np.int64)
    rank[order] = np.arange(k, dtype=np.int64)
    held = old_code >= 0
    base = len(names) + 1
    pairs, counts = np.unique(cluster_of[held] * base + old_code[held], return_counts=True)
    pair_cluster, pair_entity = pairs // base, pairs % base
    by_preference = np.lexsort((pair_entity, -counts, rank[pair_cluster]))
    pair_cluster, pair_entity = pair_cluster[by_preference], pair_entity[by_preference]

    chosen = np.full(k, -1, dtype=np.int64)
    taken = np.zeros(len(names), dtype=bool)
    contested = np.bincount(pair_entity, minlength=len(names)) > 1  # an id records of several clusters hold
    competing = np.zeros(k, dtype=bool)
    competing[pair_cluster[contested[pair_entity]]] = True
    first = np.r_[True, pair_cluster[1:] != pair_cluster[:-1]] if pair_cluster.size else np.zeros(0, bool)
    easy_cluster, easy_entity = pair_cluster[first], pair_entity[first]
    easy = ~competing[easy_cluster]
    chosen[easy_cluster[easy]] = easy_entity[easy]
    taken[easy_entity[easy]] = True
    walk = np.flatnonzero(competing[pair_cluster])  # in choosing order, each cluster's preferences in turn
    for c, e in zip(pair_cluster[walk].tolist(), pair_entity[walk].tolist(), strict=True):
        if chosen[c] < 0 and not taken[e]:
            taken[e] = True
            chosen[c] = e

    need = order[chosen[order] < 0]
    millis = time.time_ns() // 1_000_000
    new_entities = [new_entity_id(kind, millis, r) for r in first_record[need].tolist()]
    chosen[need] = len(names) + np.arange(need.size, dtype=np.int64)
    all_names = names + new_entities

    new_code = chosen[cluster_of]
    moved = new_code != old_code
    # An entity none of whose records stays with it is retired into the one that took most of them.
    gone = np.flatnonzero(moved & (old_code >= 0) & ~taken[np.maximum(old_code, 0)])
    retired: dict[str, str] = {}
    if gone.size:
        width = len(all_names) + 1
        pairs, counts = np.unique(old_code[gone] * width + new_code[gone], return_counts=True)
        old_of, new_of = pairs // width, pairs % width
        by_count = np.lexsort((new_of, -counts, old_of))
        old_of, new_of = old_of[by_count], new_of[by_count]
        head = np.r_[True, old_of[1:] != old_of[:-1]]
        retired = {
            names[o]: all_names[n] for o, n in zip(old_of[head].tolist(), new_of[head].tolist(), strict=True)
        }
    gained = sorted_unique(new_code[moved])
    changed = {all_names[c] for c in gained[gained < len(names)].tolist()}
    return Choice(all_names, new_code, new_entities, retired, changed)


_JUDGEMENT_COLUMNS = (
    "kind",
    "record_a_id",
    "record_b_id",
    "decision",
    "score",
    "explanation",
    "actor_type",
    "actor",
    "run_id",
    "created_at",
)


def insert_judgements(
    session: Session,
    bulk: BulkWriter,
    kind: Kind,
    run_id: int,
    stamp: Any,
    rows: Sequence[tuple[Any, ...]],
    *,
    actor: str | None = None,
) -> list[int]:
    """Insert judgements given as (a, b, decision, score, explanation, actor type); return their ids.

    The actor is the actor type followed by `actor` (default ":run N").

    On SQLite the varying columns go to a bare temporary table and one INSERT … SELECT adds the
    constant ones: binding four columns fewer per row saved about 40 % on a million judgements.
    """
    suffix = actor if actor is not None else f":run {run_id}"
    if not bulk.sqlite:
        return bulk.insert_returning_ids(
            "judgement",
            _JUDGEMENT_COLUMNS,
            [(kind.value, a, b, d, s, e, t, f"{t}{suffix}", run_id, stamp) for a, b, d, s, e, t in rows],
        )
    if not rows:
        return []
    connection = session.connection()
    columns = "a INTEGER, b INTEGER, decision TEXT, score REAL, explanation TEXT, actor_type TEXT"
    with temporary_table(connection, "resolve_judgement", columns):
        bulk.insert("resolve_judgement", ("a", "b", "decision", "score", "explanation", "actor_type"), rows)
        connection.exec_driver_sql(
            f"INSERT INTO judgement ({', '.join(_JUDGEMENT_COLUMNS)})"
            " SELECT ?, a, b, decision, score, explanation, actor_type, actor_type || ?, ?, ?"
            " FROM resolve_judgement ORDER BY rowid",
            (kind.value, suffix, run_id, stamp),
        )
        last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    return list(range(last - len(rows) + 1, last + 1))


def _store_memberships(
    session: Session, bulk: BulkWriter, kind: Kind, loaded: LoadedRecords, result: Resolution, stamp: Any
) -> tuple[int, int, int, int]:
    started = time.perf_counter()
    _, cluster_of = np.unique(result.labels, return_inverse=True)  # numbered by their first record
    grouping = Grouping(
        np.asarray(loaded.record_ids, dtype=np.int64),
        cluster_of.astype(np.int64),
        loaded.entity_codes,
        loaded.entity_names,
    )
    timings = {"clusters": round(time.perf_counter() - started, 3)}
    out = _assign(session, bulk, kind, grouping, stamp, timings)
    result.stats["membership_seconds"] = timings
    return out


def assign_entities(
    session: Session,
    bulk: BulkWriter,
    kind: Kind,
    clusters: list[list[int]],
    current: dict[int, str],
    stamp: Any,
) -> tuple[int, int, int, int]:
    """Give each cluster (of record ids) an entity id, stable where possible, and store the changes.

    `current` holds the present entity of every record in the clusters; an entity none of whose
    records stays with it is retired. Returns (created, retired, moved records, entities).
    """
    return _assign(session, bulk, kind, Grouping.of(clusters, current), stamp, None)


def _assign(
    session: Session,
    bulk: BulkWriter,
    kind: Kind,
    grouping: Grouping,
    stamp: Any,
    timings: dict[str, float] | None,
) -> tuple[int, int, int, int]:
    connection = session.connection()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        if timings is not None:
            timings[name] = round(now - clock, 3)
        clock = now

    choice = _choose_entities(kind, grouping)
    moved = np.flatnonzero(choice.new_code != grouping.old_code)
    all_names = choice.all_names
    moves = [
        (record, all_names[new], int(old >= 0))
        for record, new, old in zip(
            grouping.records[moved].tolist(),
            choice.new_code[moved].tolist(),
            grouping.old_code[moved].tolist(),
            strict=True,
        )
    ]
    lap("choose ids")
    bulk.insert(
        "entity",
        ("id", "kind", "status", "version", "created_at", "updated_at"),
        [(e, kind.value, EntityStatus.ACTIVE.value, 1, stamp, stamp) for e in choice.new_entities],
    )
    lap("new entities")
    # Set-based through temporary tables: one statement per step, not one per record.
    mark = bulk.mark
    with temporary_table(
        connection,
        "resolve_move",
        "record_id BIGINT PRIMARY KEY, entity_id VARCHAR(32), moved INT",
        keyed=True,
    ):
        bulk.insert("resolve_move", ("record_id", "entity_id", "moved"), moves)
        connection.exec_driver_sql(
            f"UPDATE membership SET valid_to = {mark} WHERE valid_to IS NULL"
            " AND record_id IN (SELECT record_id FROM resolve_move WHERE moved = 1)",
            (stamp,),
        )
        connection.exec_driver_sql(
            "INSERT INTO membership (record_id, entity_id, valid_from, actor)"
            f" SELECT record_id, entity_id, {mark}, 'resolution' FROM resolve_move",
            (stamp,),
        )
    lap("memberships")
    # One pass over the entities that changed: retired ones point to their survivor, every one's
    # version goes up.
    touched: list[tuple[str, str | None]] = list(choice.retired.items())
    touched += [(e, None) for e in choice.changed]
    touched.sort(key=_first)  # in key order, the update walks the entity table's pages in order: 4× faster
    with temporary_table(
        connection, "resolve_entity", "id VARCHAR(32) PRIMARY KEY, survivor VARCHAR(32)", keyed=True
    ):
        bulk.insert("resolve_entity", ("id", "survivor"), touched)
        connection.exec_driver_sql(
            "UPDATE entity SET version = entity.version + 1, updated_at = "
            f"{mark}, status = CASE WHEN t.survivor IS NULL THEN entity.status ELSE 'merged' END,"
            " merged_into_id = COALESCE(t.survivor, entity.merged_into_id)"
            " FROM resolve_entity t WHERE t.id = entity.id",
            (stamp,),
        )
    lap("entities")
    clusters = int(grouping.cluster_of.max()) + 1 if grouping.cluster_of.size else 0
    return len(choice.new_entities), len(choice.retired), len(moves), clusters

"""Storing a resolution run: the run, its judgements, review items, memberships and stable entity ids.

What is stored (the caller owns the transaction; these flush):

- the run, with the settings and trained parameters it used (so it can be reproduced);
- a judgement per join and per uncertain pair, with each comparison's level and weight; the judgements
  of earlier machine runs are retired (kept, with `deleted_at`), stewards' never. A join is a match
  that merged two clusters: each cluster of n records is explained by its n - 1 joins, and a matched
  pair inside a cluster already joined is not stored again (`hub explain` computes it on demand);
- review items for the uncertain pairs, most uncertain first;
- memberships and entities with the ids `hub.resolve.identity` chose; a record that changes entity
  gets a new membership and the old one is closed, not deleted.

Writes go below the ORM (`BulkWriter`, temporary tables): one statement per step, not one per record.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import update
from sqlalchemy.orm import Session

from hub.audit import record_event
from hub.changes import entity_changes, hold
from hub.domain import ActorType, ChangeAction, Decision, EntityStatus, Kind, ReviewStatus
from hub.resolve.engine import Resolution
from hub.resolve.identity import Choice, Grouping, choose_entities
from hub.resolve.loading import LoadedRecords
from hub.resolve.settings import MatchSettings
from hub.store.bulk import BulkWriter
from hub.store.models import Judgement, ResolutionRun, ReviewItem, utcnow
from hub.store.sql import temporary_table

__all__ = [
    "Computed",
    "RunSummary",
    "assign_entities",
    "insert_judgement_chunks",
    "insert_judgements",
    "open_review_items",
    "store_kind",
    "without_gc",
]

RESOLUTION = "resolution"  # the actor of what resolution writes
_FEW = 10_000  # entities a statement changes one by one rather than by a join (SQLite)
_JUDGEMENT_CHUNK = 50_000  # judgements built and written at a time


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


@contextmanager
def without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a run makes millions of objects and no cycles, and the
    collector's passes over them cost a third of loading a million persons."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def store_kind(session: Session, computed: Computed, *, actor: str = "system") -> RunSummary:
    """Store what `compute_kind` decided: the run, judgements, review items, entities (flushes)."""
    kind, settings, loaded, result = computed.kind, computed.settings, computed.loaded, computed.result
    with without_gc():
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
    probabilities = result.probabilities[rows]
    dumps = orjson.dumps

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        """The judgements' rows, built a chunk at a time: as one list, with each comparison's level and
        weight as Python lists on the way, a million persons' judgements held 0.7 GB."""
        for start in range(0, rows.size, _JUDGEMENT_CHUNK):
            window = slice(start, start + _JUDGEMENT_CHUNK)
            part = rows[window]
            held = result.held[part].tolist() if result.held.size else [False] * part.size
            explanations = [
                dumps(
                    {
                        "levels": levels,
                        "weights": weights,
                        "weight": weight,
                        **({"held": True} if hold else {}),
                    }
                ).decode()
                for levels, weights, weight, hold in zip(
                    result.levels[part].tolist(),
                    np.round(result.parts[part], 3).tolist(),
                    np.round(result.weights[part], 3).tolist(),
                    held,
                    strict=True,
                )
            ]
            yield list(
                zip(
                    ids_by_index[result.left[part]].tolist(),
                    ids_by_index[result.right[part]].tolist(),
                    np.where(in_review[window], Decision.UNSURE.value, Decision.POSITIVE.value).tolist(),
                    probabilities[window].tolist(),
                    explanations,
                    np.where(
                        result.joined_by[part] == 2, ActorType.RULE.value, ActorType.MODEL.value
                    ).tolist(),
                    strict=True,
                )
            )

    review_rows = np.flatnonzero(in_review).tolist()
    ids = insert_judgement_chunks(session, bulk, kind, run.id, stamp, chunks())
    # Open review items of earlier runs are superseded by this run's; decided ones stay as they are.
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.kind == kind, ReviewItem.status == ReviewStatus.OPEN)
        .values(
            status=ReviewStatus.DECIDED, note=f"superseded by resolution run {run.id}", decided_at=utcnow()
        )
    )
    open_review_items(bulk, kind, stamp, [(ids[i], float(probabilities[i])) for i in review_rows])
    return int(rows.size), len(review_rows)


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


def _first(row: tuple[str, Any]) -> str:
    return row[0]


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
) -> Sequence[int]:
    """Insert judgements given as (a, b, decision, score, explanation, actor type); return their ids.

    The actor is the actor type followed by `actor` (default ":run N").
    """
    return insert_judgement_chunks(session, bulk, kind, run_id, stamp, [rows], actor=actor)


def insert_judgement_chunks(
    session: Session,
    bulk: BulkWriter,
    kind: Kind,
    run_id: int,
    stamp: Any,
    chunks: Iterable[Sequence[tuple[Any, ...]]],
    *,
    actor: str | None = None,
) -> Sequence[int]:
    """`insert_judgements` of rows given a chunk at a time, so that they need not all be held at once;
    the ids are in the rows' order.

    On SQLite the varying columns go to a bare temporary table and one INSERT … SELECT adds the
    constant ones: binding four columns fewer per row saved about 40 % on a million judgements.
    """
    suffix = actor if actor is not None else f":run {run_id}"
    if not bulk.sqlite:
        ids: list[int] = []
        for rows in chunks:
            ids += bulk.insert_returning_ids(
                "judgement",
                _JUDGEMENT_COLUMNS,
                [(kind.value, a, b, d, s, e, t, f"{t}{suffix}", run_id, stamp) for a, b, d, s, e, t in rows],
            )
        return ids
    connection = session.connection()
    columns = "a INTEGER, b INTEGER, decision TEXT, score REAL, explanation TEXT, actor_type TEXT"
    count = 0
    with temporary_table(connection, "resolve_judgement", columns):
        for rows in chunks:
            bulk.insert(
                "resolve_judgement", ("a", "b", "decision", "score", "explanation", "actor_type"), rows
            )
            count += len(rows)
        if not count:
            return []
        connection.exec_driver_sql(
            f"INSERT INTO judgement ({', '.join(_JUDGEMENT_COLUMNS)})"
            " SELECT ?, a, b, decision, score, explanation, actor_type, actor_type || ?, ?, ?"
            " FROM resolve_judgement ORDER BY rowid",
            (kind.value, suffix, run_id, stamp),
        )
        last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    return range(last - count + 1, last + 1)


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


def _origins(grouping: Grouping, choice: Choice, moved: Any) -> tuple[dict[str, str], set[str]]:
    """For the change feed: each new entity that took records from an entity that stays (the one it
    was split from), and the entities that stay but lost records without gaining any (changed too)."""
    names, old_code = grouping.names, grouping.old_code[moved]
    new_code = choice.new_code[moved]
    split_from: dict[str, str] = {}
    taken_from = (new_code >= len(names)) & (old_code >= 0)
    for old, new in zip(old_code[taken_from].tolist(), new_code[taken_from].tolist(), strict=True):
        if names[old] not in choice.retired:
            split_from.setdefault(choice.all_names[new], names[old])
    lost = {names[c] for c in np.unique(old_code[old_code >= 0]).tolist()}
    lost -= choice.retired.keys() | choice.changed
    return split_from, lost


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

    choice = choose_entities(kind, grouping)
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
    split_from, lost = _origins(grouping, choice, moved)
    entity_changes(
        bulk,
        (
            (ChangeAction.SPLIT if e in split_from else ChangeAction.CREATED, kind, e, split_from.get(e), 1)
            for e in choice.new_entities
        ),
        RESOLUTION,
        stamp,
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
            f" SELECT record_id, entity_id, {mark}, '{RESOLUTION}' FROM resolve_move",
            (stamp,),
        )
    lap("memberships")
    # One pass over the entities that changed: retired ones point to their survivor, every one's
    # version goes up.
    touched: list[tuple[str, str | None]] = list(choice.retired.items())
    touched += [(e, None) for e in choice.changed | lost]
    touched.sort(key=_first)  # in key order, the update walks the entity table's pages in order: 4× faster
    with temporary_table(
        connection, "resolve_entity", "id VARCHAR(32) PRIMARY KEY, survivor VARCHAR(32)", keyed=True
    ):
        bulk.insert("resolve_entity", ("id", "survivor"), touched)
        if bulk.sqlite and len(touched) <= _FEW:
            # SQLite plans UPDATE ... FROM a fresh temporary table (no statistics) as a scan of the
            # entity table: 200 ms for the few entities one record touches among a million. Driven from
            # the temporary table instead, it looks each one up.
            survivor = "(SELECT t.survivor FROM resolve_entity t WHERE t.id = entity.id)"
            connection.exec_driver_sql(
                f"UPDATE entity SET version = version + 1, updated_at = {mark},"
                f" status = CASE WHEN {survivor} IS NULL THEN status ELSE 'merged' END,"
                f" merged_into_id = COALESCE({survivor}, merged_into_id)"
                " WHERE id IN (SELECT id FROM resolve_entity)",
                (stamp,),
            )
        else:
            connection.exec_driver_sql(
                "UPDATE entity SET version = entity.version + 1, updated_at = "
                f"{mark}, status = CASE WHEN t.survivor IS NULL THEN entity.status ELSE 'merged' END,"
                " merged_into_id = COALESCE(t.survivor, entity.merged_into_id)"
                " FROM resolve_entity t WHERE t.id = entity.id",
                (stamp,),
            )
        hold(connection)
        connection.exec_driver_sql(
            "INSERT INTO change_event (at, action, kind, entity_id, other_kind, other_id, version, actor)"
            f" SELECT {mark}, CASE WHEN t.survivor IS NULL THEN 'changed' ELSE 'merged' END, e.kind, e.id,"
            " CASE WHEN t.survivor IS NULL THEN NULL ELSE e.kind END, t.survivor, e.version,"
            f" '{RESOLUTION}' FROM resolve_entity t JOIN entity e ON e.id = t.id ORDER BY t.id",
            (stamp,),
        )
    lap("entities")
    clusters = int(grouping.cluster_of.max()) + 1 if grouping.cluster_of.size else 0
    return len(choice.new_entities), len(choice.retired), len(moves), clusters

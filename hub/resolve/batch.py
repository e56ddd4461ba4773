"""`hub resolve` over several kinds: kinds load and resolve side by side in worker processes, and each
stores its own result as soon as it is ready, one writer at a time.

Loading and resolving only read, so they run in parallel (SQLite's WAL lets readers work beside the
writer); storing writes, so a lock shared by the workers lets one kind store at a time, each in its
own transaction. A worker stores what it computed itself, so nothing big crosses between processes,
and it is spawned fresh for each kind and exits after it: a million persons' intermediate objects go
back to the system instead of piling up in one process. The largest kind starts first.

A kind is stored in a bulk session (`hub.store.database.bulk_session`): on SQLite without its
row-by-row foreign-key checks. Every row a run writes refers to records, entities, judgements or the
run itself, each read or written by the run, and none is ever deleted, so the checks found nothing;
at a million persons they were a fifth of storing (25 s against 20.5 s for persons). PostgreSQL
keeps checking.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.domain import DERIVED_SOURCE, Kind
from hub.ingest.pipeline import exit_with_parent
from hub.resolve.persist import RunSummary, store_kind
from hub.resolve.service import compute_kind
from hub.resolve.settings import MatchSettings
from hub.store.database import bulk_session
from hub.store.models import RecordVersion, ResolutionRun, Source, SourceRecord

__all__ = ["PARALLEL_FROM", "pending_records", "resolve_kinds"]

PARALLEL_FROM = 100_000

# Largest first, so the longest computation starts at once and the others fill in beside it.
_ORDER = (Kind.PERSON, Kind.ADDRESS, Kind.LEGAL_ENTITY)


def resolve_kinds(
    engine: Engine,
    kinds: Sequence[Kind],
    *,
    settings: MatchSettings | None = None,
    actor: str = "system",
    workers: int = 0,
    parallel_from: int = PARALLEL_FROM,
    progress: Callable[[Kind, str], None] | None = None,
) -> Iterator[RunSummary]:
    """Resolve and store each kind (committing each), yielding its summary when it is stored.

    `settings` apply to every kind (a user's settings file). Kinds go to `workers` processes when
    there are several kinds and at least `parallel_from` records; otherwise they run here, since
    starting a process costs more than resolving a small city.
    """
    ordered = sorted(kinds, key=_ORDER.index)
    if workers < 1 or len(ordered) < 2 or _records(engine) < parallel_from:
        for kind in ordered:
            with bulk_session(engine) as session:
                summary = store_kind(
                    session,
                    compute_kind(session, kind, settings=settings, progress=_stage(progress, kind)),
                    actor=actor,
                )
                session.commit()
            yield summary
        return
    url = engine.url.render_as_string(hide_password=False)
    settings_json = settings.to_json() if settings is not None else None
    context = multiprocessing.get_context("spawn")
    lock = context.Lock()
    with ProcessPoolExecutor(
        min(workers, len(ordered)),
        mp_context=context,
        max_tasks_per_child=1,
        initializer=_hold,
        initargs=(lock, os.getpid()),
    ) as pool:
        futures: dict[Future[RunSummary], Kind] = {
            pool.submit(_resolve, url, kind, settings_json, actor): kind for kind in ordered
        }
        for future in as_completed(futures):
            summary = future.result()
            if progress:
                progress(summary.kind, "stored")
            yield summary


_write_lock: Any = None


def _hold(lock: Any, parent: int) -> None:
    """In a worker: keep the lock that lets one kind store at a time, and end with the `hub resolve`
    that started it (killed, its worker would go on and commit a run nobody waits for, beside the run
    an operator starts next)."""
    global _write_lock
    _write_lock = lock
    exit_with_parent(parent)


def _resolve(url: str, kind: Kind, settings_json: dict[str, Any] | None, actor: str) -> RunSummary:
    """In a worker: load and resolve one kind on its own connection, then store it under the lock."""
    from hub.store.database import make_engine

    engine = make_engine(url)
    try:
        settings = MatchSettings.from_json(settings_json) if settings_json is not None else None
        with Session(engine) as session:
            computed = compute_kind(session, kind, settings=settings)
        with _write_lock, bulk_session(engine) as session:
            summary = store_kind(session, computed, actor=actor)
            session.commit()
        return summary
    finally:
        engine.dispose()


def pending_records(session: Session, kind: Kind) -> list[int] | None:
    """The records of `kind` whose current version no run has resolved yet, or None before the first run.

    A run resolved what was stored when it started: a batch run everything, and so did a real-time run
    that took every pending record (`hub resolve`, `hub ingest --resolve`). A submission's run names the
    records it resolved (`record_ids` in its stats): others stored before it may still be pending, as
    are records submitted while a batch run went on, which resolved nothing. The hub's own address
    records, made by the links of a run (`hub.resolve.links`), had nothing to meet when they were made:
    the next batch run resolves them, not the next real-time one.
    """
    since: datetime | None = None
    resolved: dict[int, datetime] = {}  # record → when the latest submission's run that resolved it began
    runs = session.execute(
        select(ResolutionRun.started_at, ResolutionRun.stats)
        .where(ResolutionRun.kind == kind, ResolutionRun.finished_at.is_not(None))
        .order_by(ResolutionRun.started_at.desc(), ResolutionRun.id.desc())
        .execution_options(yield_per=1000)
    )
    for started_at, stats in runs:
        named = (stats or {}).get("record_ids")
        if named is None:  # it resolved everything stored before it
            since = started_at
            break
        for record_id in named:
            resolved.setdefault(record_id, started_at)
    runs.close()
    if since is None:
        return None
    stored = session.execute(
        select(SourceRecord.id, RecordVersion.received_at)
        .join(
            RecordVersion,
            (RecordVersion.record_id == SourceRecord.id) & (RecordVersion.version == SourceRecord.version),
        )
        .join(Source, Source.id == SourceRecord.source_id)
        .where(
            SourceRecord.kind == kind,
            RecordVersion.received_at >= since,
            Source.name != DERIVED_SOURCE,
        )
        .order_by(SourceRecord.id)
    )
    return [
        record_id
        for record_id, received_at in stored
        if record_id not in resolved or resolved[record_id] < received_at
    ]


def _records(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM source_record").scalar_one())


def _stage(progress: Callable[[Kind, str], None] | None, kind: Kind) -> Callable[[str], None] | None:
    if progress is None:
        return None
    return lambda stage: progress(kind, stage)

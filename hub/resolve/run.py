"""A resolution as one call: which kinds get a batch run and which only their new records, then the links.

`hub resolve` parses its options and prints what this returns; benches and tests call it directly.
A kind never resolved gets a batch run (it trains the weights); after that, new and changed records
are resolved one by one against the stored entities with the latest weights, unless they are more
than half of the kind, which gets a batch run again. Batch kinds run side by side in worker
processes (`hub.resolve.batch`); the cross-kind links are rebuilt after every run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.config import get_settings
from hub.domain import Kind
from hub.resolve.batch import pending_records, resolve_kinds
from hub.resolve.links import LinkSummary, rebuild_links
from hub.resolve.persist import RunSummary
from hub.resolve.realtime import RealtimeSummary, resolve_records
from hub.resolve.settings import MatchSettings
from hub.store.database import settle_after_bulk
from hub.store.locks import batch_resolution
from hub.store.models import RecordVersion, SourceRecord

__all__ = [
    "REWRITTEN_BY_RESOLUTION",
    "IncrementalRun",
    "ResolutionPlan",
    "ResolutionSummary",
    "plan_resolution",
    "resolve_ingest_run",
    "run_resolution",
]

# The tables a batch run rewrites, settled (vacuumed and analyzed) after it on PostgreSQL.
REWRITTEN_BY_RESOLUTION = ("entity", "membership", "judgement", "review_item", "link", "link_evidence")


@dataclass(frozen=True, slots=True)
class ResolutionPlan:
    """What a run does per kind: a batch run, its pending records one by one, or nothing."""

    batch: tuple[Kind, ...]
    incremental: dict[Kind, list[int]]
    up_to_date: tuple[Kind, ...]


@dataclass(frozen=True, slots=True)
class IncrementalRun:
    """One kind's new and changed records, resolved one by one against its stored entities."""

    kind: Kind
    result: RealtimeSummary
    seconds: float


@dataclass(frozen=True, slots=True)
class ResolutionSummary:
    batch: tuple[RunSummary, ...]
    incremental: tuple[IncrementalRun, ...]
    seconds: float  # resolving the kinds, the links left out
    links: LinkSummary
    settled_seconds: float | None  # vacuuming the rewritten tables; None when nothing was done


def plan_resolution(engine: Engine, kinds: Sequence[Kind], *, everything: bool = False) -> ResolutionPlan:
    """Which of `kinds` get a batch run (all with `everything`) and which only their pending records."""
    batch: list[Kind] = []
    incremental: dict[Kind, list[int]] = {}
    up_to_date: list[Kind] = []
    with Session(engine) as session:
        for kind in kinds:
            pending = None if everything else pending_records(session, kind)
            total = session.scalar(select(func.count()).where(SourceRecord.kind == kind)) or 0
            if pending is None or len(pending) * 2 > total:
                batch.append(kind)
            elif pending:
                incremental[kind] = pending
            else:
                up_to_date.append(kind)
    return ResolutionPlan(tuple(batch), incremental, tuple(up_to_date))


def run_resolution(
    engine: Engine,
    plan: ResolutionPlan,
    *,
    settings: MatchSettings | None = None,
    workers: int | None = None,
    progress: Callable[[Kind, str], None] | None = None,
    on_kind: Callable[[RunSummary | IncrementalRun], None] | None = None,
) -> ResolutionSummary:
    """Carry out `plan` (committing each kind), rebuild the links, and settle the rewritten tables.

    `settings` replace the built-in ones of the batch kinds (a user's settings file: plan with
    `everything` then); a kind resolved one by one uses the settings and weights of its last run.
    `workers` defaults to `HUB_RESOLVE_WORKERS`. `progress` hears each stage, `on_kind` each kind's
    summary as soon as the kind is stored. Live writes keep off the graph meanwhile
    (`hub.store.locks.batch_resolution`): submissions are stored for the next run, steward edits BUSY.
    """
    if workers is None:
        workers = get_settings().resolve_workers
    with batch_resolution(engine) if plan.batch or plan.incremental else contextlib.nullcontext():
        return _run(engine, plan, settings, workers, progress, on_kind)


def _run(
    engine: Engine,
    plan: ResolutionPlan,
    settings: MatchSettings | None,
    workers: int,
    progress: Callable[[Kind, str], None] | None,
    on_kind: Callable[[RunSummary | IncrementalRun], None] | None,
) -> ResolutionSummary:
    started = time.perf_counter()
    batch: list[RunSummary] = []
    for summary in resolve_kinds(engine, plan.batch, settings=settings, workers=workers, progress=progress):
        batch.append(summary)
        if on_kind:
            on_kind(summary)
    incremental: list[IncrementalRun] = []
    for kind, record_ids in plan.incremental.items():
        if progress:
            progress(kind, f"{len(record_ids):,} new records")
        clock = time.perf_counter()
        with Session(engine) as session:
            result = resolve_records(session, kind, record_ids, every_pending=True)
            session.commit()
        done = IncrementalRun(kind, result, time.perf_counter() - clock)
        incremental.append(done)
        if on_kind:
            on_kind(done)
    seconds = time.perf_counter() - started
    links = rebuild_links(engine)
    settled = None
    if plan.batch:
        clock = time.perf_counter()
        if settle_after_bulk(engine, REWRITTEN_BY_RESOLUTION):
            settled = time.perf_counter() - clock
    return ResolutionSummary(tuple(batch), tuple(incremental), seconds, links, settled)


def resolve_ingest_run(engine: Engine, run_id: int, kind: Kind) -> RealtimeSummary:
    """Resolve the records one ingest run added or changed, with any others of the kind still pending,
    against the stored entities; commits. Live writes keep off the graph meanwhile, as during
    `run_resolution`."""
    with batch_resolution(engine), Session(engine) as session:
        pending = pending_records(session, kind)
        if pending is None:  # never resolved: the run's records (refused below for want of weights)
            pending = list(
                session.scalars(select(RecordVersion.record_id).where(RecordVersion.ingest_run_id == run_id))
            )
        result = resolve_records(session, kind, pending, every_pending=True)
        session.commit()
    return result

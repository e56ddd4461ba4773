"""Batch resolution of one kind against the database: load, resolve, store.

`resolve_kind` runs the pure engine (`hub.resolve.engine`) over every current record of one kind
(`hub.resolve.loading`) and stores the outcome (`hub.resolve.persist`). The two halves are separate
functions, `compute_kind` (reads only; a worker process can run it) and `store_kind` (writes), so that
`hub.resolve.batch` can resolve kinds in parallel and store them one at a time. Stewards' positive and
negative judgements go into the engine as must-link and cannot-link pairs, so every run respects them.
The caller owns the transaction (services flush).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.resolve.columns import RecordTable
from hub.resolve.engine import resolve
from hub.resolve.kinds import SETTINGS
from hub.resolve.loading import last_parameters, load_records, steward_pairs
from hub.resolve.persist import Computed, RunSummary, store_kind, without_gc
from hub.resolve.settings import MatchSettings
from hub.store.models import utcnow

__all__ = [
    "compute_kind",
    "resolve_kind",
]


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


def compute_kind(
    session: Session,
    kind: Kind,
    *,
    settings: MatchSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Computed:
    """Load and resolve every current record of `kind`; reads only."""
    settings = settings or SETTINGS[kind]
    with without_gc():
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
            reused = last_parameters(session, kind, settings)
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

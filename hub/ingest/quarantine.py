"""Reading the quarantine: the rows ingestion set aside, by source, file and reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.store.models import IngestRun, Quarantine, Source

__all__ = ["QuarantinedRow", "quarantined_row", "quarantined_rows"]


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    """A quarantined row with where it came from; `released_at` set once a fixed file replaced it."""

    id: int
    source: str
    kind: Kind
    file: str
    line: int | None
    reason: str
    raw_text: str
    created_at: datetime
    run_id: int
    released_at: datetime | None
    released_by_run_id: int | None


def _query() -> Select[Quarantine, str, str]:
    return (
        select(Quarantine, Source.name, IngestRun.file_name)
        .join(Source, Source.id == Quarantine.source_id)
        .join(IngestRun, IngestRun.id == Quarantine.ingest_run_id)
    )


def _row(quarantine: Quarantine, source: str, file: str) -> QuarantinedRow:
    q = quarantine
    return QuarantinedRow(
        q.id, source, q.kind, file, q.line, q.reason, q.raw_text, q.created_at,
        q.ingest_run_id, q.released_at, q.released_by_run_id,
    )  # fmt: skip


def quarantined_rows(
    session: Session,
    *,
    source: str | None = None,
    file: str | None = None,
    reason: str | None = None,
    released: bool = False,
    limit: int | None = None,
) -> list[QuarantinedRow]:
    """The quarantined rows, oldest first: of a source, of a file (its name), whose reason contains
    `reason`; open ones only unless `released`."""
    query = _query()
    if source is not None:
        query = query.where(Source.name == source)
    if file is not None:
        query = query.where(IngestRun.file_name == file)
    if reason is not None:
        query = query.where(Quarantine.reason.contains(reason, autoescape=True))
    if not released:
        query = query.where(Quarantine.released_at.is_(None))
    query = query.order_by(Quarantine.id)
    if limit is not None:
        query = query.limit(limit)
    return [_row(q, name, file_name) for q, name, file_name in session.execute(query)]


def quarantined_row(session: Session, row_id: int) -> QuarantinedRow | None:
    """One quarantined row, open or released, by its id."""
    found = session.execute(_query().where(Quarantine.id == row_id)).first()
    return None if found is None else _row(found[0], found[1], found[2])

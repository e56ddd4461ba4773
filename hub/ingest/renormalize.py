"""Normalize stored records again, after normalization improved: features and flags are derived data.

The raw payload is never touched; only the features, flags, match fields and search terms computed
from it are replaced, and only where they differ. Each batch is committed, so the command can be
stopped and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from hub.domain import Kind
from hub.ingest.prepare import normalize_contract_record
from hub.normalize.fields import flatten, match_fields, search_terms
from hub.store.models import SEARCH_FIELD_IDS, RecordVersion, SearchTerm, SourceRecord

__all__ = ["RenormalizeSummary", "renormalize"]


@dataclass(slots=True)
class RenormalizeSummary:
    checked: int = 0
    updated: int = 0


def renormalize(
    engine: Engine,
    kind: Kind | None = None,
    *,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> RenormalizeSummary:
    """Recompute the features, flags and match fields of every current version (of `kind`, if given)."""
    summary = RenormalizeSummary()
    last_id = 0
    with Session(engine) as session:
        while True:
            query = (
                select(RecordVersion.id, SourceRecord.kind, RecordVersion.payload, RecordVersion.features,
                       RecordVersion.flags, RecordVersion.match, RecordVersion.record_id,
                       RecordVersion.version)
                .join(SourceRecord, (SourceRecord.id == RecordVersion.record_id)
                      & (SourceRecord.version == RecordVersion.version))
                .where(RecordVersion.id > last_id)
                .order_by(RecordVersion.id)
                .limit(batch_size)
            )  # fmt: skip
            if kind is not None:
                query = query.where(SourceRecord.kind == kind)
            rows = session.execute(query).all()
            if not rows:
                return summary
            changes = []
            old_terms: list[dict[str, object]] = []
            new_terms: list[dict[str, object]] = []
            for version_id, record_kind, payload, features, flags, match, record_id, version in rows:
                of_kind = Kind(record_kind)  # not `kind`: that one filters the next batch
                normalized = normalize_contract_record(of_kind, payload)
                fields = match_fields(of_kind, normalized.features)
                before, after = (
                    set(search_terms(of_kind, match or flatten(of_kind, features))),
                    set(search_terms(of_kind, fields)),
                )
                key = {"record_id": record_id, "version": version}
                field_id = SEARCH_FIELD_IDS.__getitem__
                old_terms += [
                    {**key, "field_id": field_id((of_kind, f)), "term": t} for f, t in before - after
                ]
                new_terms += [
                    {**key, "field_id": field_id((of_kind, f)), "term": t} for f, t in after - before
                ]
                if normalized.features != features or normalized.flags != flags or fields != match:
                    changes.append(
                        {
                            "id": version_id,
                            "features": normalized.features,
                            "flags": normalized.flags,
                            "match": fields,
                        }
                    )
            if changes:
                session.execute(update(RecordVersion), changes)
            if old_terms:  # executemany: a Core statement, which the ORM session does not run in bulk
                session.connection().execute(
                    delete(SearchTerm).where(
                        SearchTerm.field_id == bindparam("field_id"),
                        SearchTerm.term == bindparam("term"),
                        SearchTerm.record_id == bindparam("record_id"),
                        SearchTerm.version == bindparam("version"),
                    ),
                    old_terms,
                )
            if new_terms:
                session.execute(insert(SearchTerm), new_terms)
            session.commit()
            summary.checked += len(rows)
            summary.updated += len(changes)
            last_id = rows[-1][0]
            if progress:
                progress(summary.checked)

"""Normalize stored records again, after normalization improved: features and flags are derived data.

The raw payload is never touched; only the features, flags and match fields computed from it are
replaced, and only where they differ. Each batch is committed, so the command can be stopped and run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from hub.normalize.records import normalize_record
from hub.resolve.kinds import match_fields
from hub.store.models import Kind, RecordVersion, SourceRecord

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
                       RecordVersion.flags, RecordVersion.match)
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
            for version_id, record_kind, payload, features, flags, match in rows:
                kind_name = Kind(record_kind).value
                normalized = normalize_record(kind_name, payload)
                fields = match_fields(kind_name, normalized.features)
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
            session.commit()
            summary.checked += len(rows)
            summary.updated += len(changes)
            last_id = rows[-1][0]
            if progress:
                progress(summary.checked)

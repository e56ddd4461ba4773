"""A source's column mappings in the database: every `hub sources map` adds a version; ingestion
uses the newest and records which."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.ingest.mapping import ColumnMapping, parse_mapping
from hub.store.models import Source, SourceMapping

__all__ = ["latest_mapping", "store_mapping"]


def store_mapping(session: Session, source: Source, text: str, file_name: str, actor: str) -> SourceMapping:
    """Check a mapping file's text (MappingError names the line) and store it as the source's next
    version; flushes."""
    parse_mapping(text, file_name)
    newest = session.scalar(
        select(func.max(SourceMapping.version)).where(SourceMapping.source_id == source.id)
    )
    stored = SourceMapping(
        source_id=source.id, version=(newest or 0) + 1, text=text, file_name=file_name, actor=actor
    )
    session.add(stored)
    session.flush()
    return stored


def latest_mapping(session: Session, source_name: str) -> ColumnMapping | None:
    """The newest mapping of the source called `source_name`, or None (no source, or no mapping)."""
    row = session.execute(
        select(SourceMapping.text, SourceMapping.file_name, SourceMapping.version)
        .join(Source, Source.id == SourceMapping.source_id)
        .where(Source.name == source_name)
        .order_by(SourceMapping.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    text, file_name, version = row
    return parse_mapping(text, f"{source_name}'s mapping version {version} ({file_name})", version)

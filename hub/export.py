"""The crosswalk export (docs/contract.md §2): every current source record with its entity now."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import Engine, select

from hub.domain import Kind
from hub.store.models import Membership, Source, SourceRecord

__all__ = ["CROSSWALK_HEADER", "crosswalk_rows", "write_crosswalk"]

CROSSWALK_HEADER = ("source", "kind", "key", "entity_id")


def crosswalk_rows(engine: Engine, kind: Kind | None = None) -> Iterator[tuple[str, str, str, str]]:
    """Yield (source, kind, key, entity_id) ordered by source, kind and key, streaming from the database."""
    query = (
        select(Source.name, SourceRecord.kind, SourceRecord.key, Membership.entity_id)
        .join(Source, Source.id == SourceRecord.source_id)
        .join(Membership, (Membership.record_id == SourceRecord.id) & Membership.valid_to.is_(None))
        .order_by(Source.name, SourceRecord.kind, SourceRecord.key)
    )
    if kind is not None:
        query = query.where(SourceRecord.kind == kind)
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(query)
        for source, record_kind, key, entity_id in result:
            yield source, Kind(record_kind).value, key, entity_id


def write_crosswalk(engine: Engine, out: TextIO, kind: Kind | None = None) -> int:
    """Write the crosswalk CSV to `out`; return the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CROSSWALK_HEADER)
    count = 0
    for row in crosswalk_rows(engine, kind):
        writer.writerow(row)
        count += 1
    return count

"""Data for other systems: the crosswalk (docs/contract.md §2), every current source record with its
entity now; and the golden records, each active entity with its golden values."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TextIO

import orjson
from sqlalchemy import Engine, select

from hub.domain import EntityStatus, Kind
from hub.golden import ATTRIBUTES, claims_of, steward_claim, survive
from hub.privacy import mask_attribute, personal_attribute
from hub.store.models import Entity, Membership, RecordVersion, Source, SourceRecord, Statement
from hub.store.sql import json_object

__all__ = [
    "CROSSWALK_HEADER",
    "ENTITY_FORMATS",
    "GoldenRecord",
    "crosswalk_rows",
    "golden_header",
    "golden_records",
    "write_crosswalk",
    "write_golden",
]

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


ENTITY_FORMATS = ("csv", "jsonl", "parquet")


@dataclass(frozen=True, slots=True)
class GoldenRecord:
    """One active entity as the hub serves it: its id, version, last change, how many source records
    make it, and its golden value of each attribute (None where no record states one)."""

    id: str
    kind: Kind
    version: int
    updated_at: datetime
    records: int
    values: dict[str, str | None]


def golden_header(kind: Kind) -> list[str]:
    """The columns of a golden-record export of `kind`: the entity's own, then its attributes."""
    return ["entity_id", "kind", "version", "updated_at", "records", *ATTRIBUTES[kind]]


def golden_records(engine: Engine, kind: Kind, *, unmasked: bool = False) -> Iterator[GoldenRecord]:
    """Every active entity of `kind` in id order with its golden values, computed as the API computes
    them (a steward's value first, then valid values, the most trusted source, the newest), streaming
    from the database. ID numbers, phones and birth dates are masked unless `unmasked`."""
    members = (
        select(
            Entity.id,
            Entity.version,
            Entity.updated_at,
            SourceRecord.id,
            Source.name,
            Source.trust,
            SourceRecord.key,
            SourceRecord.version,
            RecordVersion.received_at,
            RecordVersion.features,
        )
        .join(Membership, (Membership.entity_id == Entity.id) & Membership.valid_to.is_(None))
        .join(SourceRecord, SourceRecord.id == Membership.record_id)
        .join(Source, Source.id == SourceRecord.source_id)
        .join(
            RecordVersion,
            (RecordVersion.record_id == SourceRecord.id) & (RecordVersion.version == SourceRecord.version),
        )
        .where(Entity.kind == kind, Entity.status == EntityStatus.ACTIVE)
        .order_by(Entity.id, SourceRecord.id)
    )
    overrides = (
        select(Statement.entity_id, Statement.id, Statement.attribute, Statement.value, Statement.actor)
        .add_columns(Statement.created_at)
        .join(Entity, Entity.id == Statement.entity_id)
        .where(Entity.kind == kind, Statement.retracted_at.is_(None))
    )
    with engine.connect() as connection:
        stated: dict[str, list[Any]] = {}
        for entity_id, statement_id, attribute, value, actor, at in connection.execute(overrides):
            stated.setdefault(entity_id, []).append(steward_claim(attribute, value, statement_id, actor, at))
        rows = connection.execution_options(stream_results=True, yield_per=5000).execute(members)
        current: list[Any] = []
        for row in rows:
            if current and row[0] != current[0][0]:
                yield _golden_record(kind, current, stated, unmasked)
                current = []
            current.append(row)
        if current:
            yield _golden_record(kind, current, stated, unmasked)


def _golden_record(kind: Kind, rows: list[Any], stated: dict[str, list[Any]], unmasked: bool) -> GoldenRecord:
    entity_id, version, updated_at = rows[0][0], rows[0][1], rows[0][2]
    claims = list(stated.get(entity_id, ()))
    for _, _, _, record_id, source, trust, key, record_version, received_at, features in rows:
        claims += claims_of(
            kind,
            json_object(features),
            record_id=record_id,
            source=source,
            key=key,
            version=record_version,
            received_at=received_at,
            trust=json_object(trust),
        )
    golden = survive(claims)
    values: dict[str, str | None] = {}
    for attribute in ATTRIBUTES[kind]:
        found = golden.get(attribute)
        value = found.value if found else None
        if value is not None and not unmasked and personal_attribute(kind, attribute):
            value = mask_attribute(kind, attribute, value)
        values[attribute] = value
    return GoldenRecord(entity_id, kind, version, updated_at, len(rows), values)


def _cells(record: GoldenRecord) -> list[Any]:
    return [
        record.id,
        record.kind.value,
        record.version,
        record.updated_at.isoformat(),
        record.records,
        *record.values.values(),
    ]


def write_golden(records: Iterator[GoldenRecord], kind: Kind, out: IO[bytes], fmt: str) -> int:
    """Write golden records to the binary stream `out` as CSV (UTF-8), JSON Lines or Parquet; return
    how many were written. Every format has the same columns (`golden_header`)."""
    header = golden_header(kind)
    count = 0
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"version": pa.int64(), "records": pa.int64()}
        schema = pa.schema([(name, types.get(name, pa.string())) for name in header])
        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            batch: list[list[Any]] = []
            for record in records:
                batch.append(_cells(record))
                count += 1
                if len(batch) == 50_000:
                    writer.write_table(_table(pa, schema, header, batch))
                    batch = []
            writer.write_table(_table(pa, schema, header, batch))
        return count
    if fmt == "jsonl":
        for record in records:
            out.write(orjson.dumps(dict(zip(header, _cells(record), strict=True))) + b"\n")
            count += 1
        return count
    if fmt != "csv":
        raise ValueError(f"format {fmt!r}: choose one of {', '.join(ENTITY_FORMATS)}")
    import io

    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer_ = csv.writer(text, lineterminator="\n")
    writer_.writerow(header)
    for record in records:
        writer_.writerow(_cells(record))
        count += 1
    text.flush()
    text.detach()
    return count


def _table(pa: Any, schema: Any, header: list[str], rows: list[list[Any]]) -> Any:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    return pa.table({name: list(values) for name, values in zip(header, columns, strict=True)}, schema=schema)

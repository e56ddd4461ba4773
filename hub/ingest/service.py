"""Ingest source records: validate, version, quarantine what cannot be used, never lose a row.

`Ingestor` writes batches for one (source, kind) inside the caller's transaction and only flushes;
`ingest_file` drives it over a file and commits after each batch, so a crash leaves every batch
before it committed and re-running the same command completes the file (ingestion is idempotent).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from hub.contract import KIND_FIELDS
from hub.errors import InputError
from hub.ingest.readers import RawRow, open_source
from hub.normalize.records import normalize_record
from hub.store.models import (
    Entity,
    IngestRun,
    Kind,
    Membership,
    Quarantine,
    RecordVersion,
    Source,
    SourceRecord,
    new_entity_id,
    utcnow,
)

__all__ = ["IngestSummary", "Ingestor", "get_or_create_source", "ingest_file", "ingest_records"]

_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAX_KEY_LENGTH = 256
_OTHER_KINDS_FIELDS = {
    kind: {f for other, fields in KIND_FIELDS.items() if other != kind for f in fields}
    - set(KIND_FIELDS[kind])
    for kind in KIND_FIELDS
}


@dataclass(slots=True)
class IngestSummary:
    """What one ingestion did: counts, and the quarantine reasons with how often each occurred."""

    source: str
    kind: Kind
    file: str
    run_id: int
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    flagged: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def read(self) -> int:
        return self.new + self.changed + self.unchanged + self.quarantined

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind.value,
            "file": self.file,
            "run_id": self.run_id,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "flagged": self.flagged,
            "reasons": dict(self.reasons),
        }


def content_hash(record: Mapping[str, Any]) -> str:
    """Hash a record's meaningful content: key order and empty (unknown) values do not count."""
    meaningful = {k: v for k, v in record.items() if v is not None and v != ""}
    return blake2b(orjson.dumps(meaningful, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def get_or_create_source(session: Session, name: str) -> Source:
    """Return the source called `name`, registering it on first use."""
    if not _SOURCE_NAME.fullmatch(name):
        raise InputError(
            f"source name {name!r} is not allowed; use lower-case letters, digits and _ "
            "starting with a letter, e.g. public_security"
        )
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = Source(name=name)
        session.add(source)
        session.flush()
    return source


@dataclass(slots=True)
class _Accepted:
    line: int | None
    key: str
    record: dict[str, Any]
    hash: str


class Ingestor:
    """Ingests rows of one kind from one source within the caller's transaction (flush only)."""

    def __init__(self, session: Session, source: str, kind: Kind, file_name: str = "<python>") -> None:
        self.session = session
        self.kind = kind
        self.source = get_or_create_source(session, source)
        self.run = IngestRun(source_id=self.source.id, kind=kind, file_name=file_name)
        session.add(self.run)
        session.flush()
        self.summary = IngestSummary(source, kind, file_name, self.run.id)

    def add(self, rows: Iterable[RawRow]) -> None:
        """Validate and write one batch of rows."""
        now = utcnow()
        accepted: dict[str, _Accepted] = {}
        quarantine: list[tuple[RawRow, str]] = []
        for row in rows:
            reason = row.error
            if reason is None:
                reason, item = self._validate(row)
                if item is not None:
                    first = accepted.get(item.key)
                    if first is None:
                        accepted[item.key] = item
                        continue
                    reason = _duplicate_reason(item.key, first.line, item.hash == first.hash)
            assert reason is not None
            quarantine.append((row, reason))
        existing = self._existing(list(accepted))
        self._write(accepted, existing, now, quarantine)
        self._quarantine(quarantine, now)
        self._flush_counts()

    def _validate(self, row: RawRow) -> tuple[str | None, _Accepted | None]:
        record = row.value
        if not isinstance(record, dict):
            return f"not an object: got a JSON {_json_type(record)}", None
        key = record.get("key")
        if isinstance(key, int | float) and not isinstance(key, bool):
            key = str(key) if not isinstance(key, float) or not key.is_integer() else str(int(key))
        if not isinstance(key, str) or not key.strip():
            return "missing key: every record needs a non-empty 'key' (its id in the source)", None
        key = key.strip()
        if len(key) > _MAX_KEY_LENGTH:
            return f"key too long: {len(key)} characters, the limit is {_MAX_KEY_LENGTH}", None
        wrong = self._wrong_kind(record)
        if wrong:
            return wrong, None
        return None, _Accepted(row.line, key, record, content_hash(record))

    def _wrong_kind(self, record: dict[str, Any]) -> str | None:
        stated = record.get("kind")
        if isinstance(stated, str) and stated.strip() and stated.strip().lower() != self.kind.value:
            return f"wrong kind: the record says {stated!r}, the file is ingested as {self.kind.value}"
        present = {name for name, value in record.items() if value not in (None, "")}
        if present & set(KIND_FIELDS[self.kind]):
            return None
        foreign = sorted(present & _OTHER_KINDS_FIELDS[self.kind])
        if foreign:
            return (
                f"wrong kind: fields {', '.join(foreign)} belong to another kind and none of "
                f"{self.kind.value}'s fields is present"
            )
        return None

    def _existing(self, keys: list[str]) -> dict[str, tuple[int, int, str, int | None]]:
        if not keys:
            return {}
        query = select(
            SourceRecord.key,
            SourceRecord.id,
            SourceRecord.version,
            SourceRecord.content_hash,
            SourceRecord.last_run_id,
        ).where(
            SourceRecord.source_id == self.source.id,
            SourceRecord.kind == self.kind,
            SourceRecord.key.in_(keys),
        )
        return {
            key: (rid, version, digest, run) for key, rid, version, digest, run in self.session.execute(query)
        }

    def _write(
        self,
        accepted: dict[str, _Accepted],
        existing: dict[str, tuple[int, int, str, int | None]],
        now: datetime,
        quarantine: list[tuple[RawRow, str]],
    ) -> None:
        run_id = self.run.id
        new_items: list[_Accepted] = []
        seen_updates: list[dict[str, Any]] = []
        changed_updates: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        for key, item in accepted.items():
            found = existing.get(key)
            if found is None:
                new_items.append(item)
                continue
            record_id, version, digest, last_run = found
            if last_run == run_id:
                reason = _duplicate_reason(key, None, digest == item.hash)
                quarantine.append((RawRow(item.line, _dump(item.record)), reason))
            elif digest == item.hash:
                self.summary.unchanged += 1
                seen_updates.append({"id": record_id, "last_seen_at": now, "last_run_id": run_id})
            else:
                self.summary.changed += 1
                changed_updates.append(
                    {
                        "id": record_id,
                        "version": version + 1,
                        "content_hash": item.hash,
                        "last_seen_at": now,
                        "last_run_id": run_id,
                    }
                )
                versions.append(self._version_row(record_id, version + 1, item, now))
        if seen_updates:
            self.session.execute(update(SourceRecord), seen_updates)
        if changed_updates:
            self.session.execute(update(SourceRecord), changed_updates)
        if new_items:
            self._insert_new(new_items, versions, now)
        if versions:
            self.session.execute(insert(RecordVersion), versions)

    def _insert_new(self, items: list[_Accepted], versions: list[dict[str, Any]], now: datetime) -> None:
        rows = [
            {
                "source_id": self.source.id,
                "kind": self.kind,
                "key": item.key,
                "version": 1,
                "content_hash": item.hash,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_run_id": self.run.id,
            }
            for item in items
        ]
        ids = self.session.scalars(
            insert(SourceRecord).returning(SourceRecord.id, sort_by_parameter_order=True), rows
        ).all()
        entities: list[dict[str, Any]] = []
        memberships: list[dict[str, Any]] = []
        for record_id, item in zip(ids, items, strict=True):
            versions.append(self._version_row(record_id, 1, item, now))
            # Until resolution joins it to others, every new record is an entity of its own.
            entity_id = new_entity_id(self.kind)
            entities.append({"id": entity_id, "kind": self.kind, "created_at": now, "updated_at": now})
            memberships.append({"record_id": record_id, "entity_id": entity_id, "valid_from": now})
        self.session.execute(insert(Entity), entities)
        self.session.execute(insert(Membership), memberships)
        self.summary.new += len(items)

    def _version_row(self, record_id: int, version: int, item: _Accepted, now: datetime) -> dict[str, Any]:
        normalized = normalize_record(self.kind.value, item.record)
        if normalized.flags:
            self.summary.flagged += 1
        return {
            "record_id": record_id,
            "version": version,
            "content_hash": item.hash,
            "payload": item.record,
            "features": normalized.features,
            "flags": normalized.flags,
            "ingest_run_id": self.run.id,
            "received_at": now,
        }

    def _quarantine(self, rows: list[tuple[RawRow, str]], now: datetime) -> None:
        """Keep each unusable row with its reason, once: re-ingesting the file adds no copies."""
        if not rows:
            return
        hashed = {_row_hash(row.text, reason): (row, reason) for row, reason in rows}
        known = set(
            self.session.scalars(
                select(Quarantine.row_hash).where(
                    Quarantine.source_id == self.source.id,
                    Quarantine.kind == self.kind,
                    Quarantine.row_hash.in_(list(hashed)),
                )
            )
        )
        fresh = [
            {
                "ingest_run_id": self.run.id,
                "source_id": self.source.id,
                "kind": self.kind,
                "line": row.line,
                "reason": reason,
                "raw_text": row.text,
                "row_hash": digest,
                "created_at": now,
            }
            for digest, (row, reason) in hashed.items()
            if digest not in known
        ]
        if fresh:
            self.session.execute(insert(Quarantine), fresh)
        for _row, reason in rows:
            self.summary.quarantined += 1
            self.summary.reasons[reason.split(":")[0]] += 1

    def _flush_counts(self) -> None:
        s = self.summary
        self.session.execute(
            update(IngestRun)
            .where(IngestRun.id == self.run.id)
            .values(
                new=s.new,
                changed=s.changed,
                unchanged=s.unchanged,
                quarantined=s.quarantined,
            )
        )

    def finish(self) -> IngestSummary:
        self._flush_counts()
        self.session.execute(
            update(IngestRun).where(IngestRun.id == self.run.id).values(finished_at=utcnow())
        )
        return self.summary


def _duplicate_reason(key: str, first_line: int | None, identical: bool) -> str:
    where = f" (first at line {first_line})" if first_line is not None else ""
    same = "identical content" if identical else "different content; the first was kept"
    return f"duplicate key: {key!r} occurs again in this file{where}, {same}"


def _row_hash(text: str, reason: str) -> str:
    return blake2b(f"{reason}\n{text}".encode(), digest_size=16).hexdigest()


def _json_type(value: object) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _dump(record: Mapping[str, Any]) -> str:
    return orjson.dumps(record).decode()


def _batches(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def ingest_records(
    session: Session,
    source: str,
    kind: Kind,
    records: Iterable[Any],
    *,
    batch_size: int = 2000,
) -> IngestSummary:
    """Ingest in-memory records (dicts) inside the caller's transaction; flushes, never commits."""
    ingestor = Ingestor(session, source, kind)
    rows = (
        RawRow(i, _dump(r) if isinstance(r, dict) else repr(r), value=r) for i, r in enumerate(records, 1)
    )
    for batch in _batches(rows, batch_size):
        ingestor.add(batch)
    return ingestor.finish()


def ingest_file(
    engine: Engine,
    path: Path,
    source: str,
    kind: Kind,
    *,
    encoding: str = "utf-8",
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> IngestSummary:
    """Ingest one source file, committing after each batch; `progress(bytes_read, size)` if given."""
    with open_source(path, encoding) as reader, Session(engine, expire_on_commit=False) as session:
        ingestor = Ingestor(session, source, kind, path.name)
        session.commit()
        for batch in _batches(reader, batch_size):
            ingestor.add(batch)
            session.commit()
            if progress:
                progress(reader.bytes_read, reader.size)
        summary = ingestor.finish()
        session.commit()
    return summary

"""Ingest source records: version what changed, quarantine what cannot be used, never lose a row.

`Ingestor` writes prepared batches for one (source, kind) inside the caller's transaction and only
flushes; `ingest_file` drives it over a file and commits after each batch, so a crash leaves every
batch before it committed, and re-running the same command completes the file (ingestion is
idempotent).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from hub.config import DEFAULT_INGEST_BATCH, get_settings
from hub.domain import DERIVED_SOURCE, ENTITY_PREFIX, Kind
from hub.errors import InputError
from hub.ingest.pipeline import prepared_batches
from hub.ingest.prepare import UNSTORABLE_CHARACTERS, PreparedBatch, duplicate_reason, prepare_batch
from hub.ingest.readers import RawRow
from hub.store.bulk import BulkWriter
from hub.store.models import (
    Entity,
    IngestRun,
    Membership,
    Quarantine,
    RecordVersion,
    SearchTerm,
    Source,
    SourceRecord,
    utcnow,
)

__all__ = ["IngestSummary", "Ingestor", "get_or_create_source", "ingest_file", "ingest_records"]

_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_RECORDS = SourceRecord.__tablename__
_VERSIONS = RecordVersion.__tablename__
_ENTITIES = Entity.__tablename__
_MEMBERSHIPS = Membership.__tablename__
_QUARANTINE = Quarantine.__tablename__
_RECORD_COLUMNS = (
    "source_id",
    "kind",
    "key",
    "version",
    "content_hash",
    "first_seen_at",
    "last_seen_at",
    "last_run_id",
)
_TERMS = SearchTerm.__tablename__
_TERM_COLUMNS = ("kind", "field", "term", "record_id", "version")
_VERSION_COLUMNS = (
    "record_id",
    "version",
    "content_hash",
    "payload",
    "features",
    "flags",
    "match",
    "ingest_run_id",
    "received_at",
)
_QUARANTINE_COLUMNS = (
    "ingest_run_id",
    "source_id",
    "kind",
    "line",
    "reason",
    "raw_text",
    "row_hash",
    "created_at",
)


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


class Ingestor:
    """Ingests batches of one kind from one source within the caller's transaction (flush only)."""

    def __init__(self, session: Session, source: str, kind: Kind, file_name: str = "<python>") -> None:
        self.session = session
        self.kind = kind
        self.source = get_or_create_source(session, source)
        self.run = IngestRun(source_id=self.source.id, kind=kind, file_name=file_name)
        session.add(self.run)
        session.flush()
        self.summary = IngestSummary(source, kind, file_name, self.run.id)
        self._terms: list[tuple[Any, ...]] = []  # the current batch's search terms

    def add(self, batch: PreparedBatch) -> None:
        """Write one prepared batch: new records, new versions of changed ones, quarantined rows."""
        bulk = BulkWriter(self.session.connection())
        stamp = bulk.timestamp(utcnow())
        run_id = self.run.id
        quarantine = list(batch.quarantine)
        seen: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        versions: list[tuple[Any, ...]] = []
        self._terms = []
        existing = self._existing(bulk, list(batch.items))
        for key, (record_id, version, digest, last_run) in existing.items():
            item = batch.items[key]
            if last_run == run_id:  # the key was already ingested from an earlier batch of this file
                quarantine.append((item.line, item.payload, duplicate_reason(key, None, digest == item.hash)))
            elif digest == item.hash:
                seen.append((stamp, run_id, record_id))
            else:
                changed.append((version + 1, item.hash, stamp, run_id, record_id))
                versions.append(self._version(record_id, version + 1, key, batch, stamp))
        new_keys = [key for key in batch.items if key not in existing]
        bulk.update(_RECORDS, ("last_seen_at", "last_run_id"), seen)
        bulk.update(_RECORDS, ("version", "content_hash", "last_seen_at", "last_run_id"), changed)
        if new_keys:
            self._insert_new(bulk, batch, new_keys, versions, stamp)
        bulk.insert(_VERSIONS, _VERSION_COLUMNS, versions)
        bulk.insert(_TERMS, _TERM_COLUMNS, self._terms)
        self._quarantine(bulk, quarantine, stamp)
        s = self.summary
        s.unchanged += len(seen)
        s.changed += len(changed)
        s.new += len(new_keys)
        self._flush_counts()

    def _existing(self, bulk: BulkWriter, keys: list[str]) -> dict[str, tuple[int, int, str, int | None]]:
        """The stored (id, version, hash, last run) of those of `keys` already known."""
        rows = bulk.lookup(
            _RECORDS,
            ("key", "id", "version", "content_hash", "last_run_id"),
            {"source_id": self.source.id, "kind": self.kind.value},
            "key",
            keys,
        )
        return {key: (rid, version, digest, run) for key, rid, version, digest, run in rows}

    def _version(
        self, record_id: int, version: int, key: str, batch: PreparedBatch, stamp: Any
    ) -> tuple[Any, ...]:
        item = batch.items[key]
        features, flags, flagged, match, terms = batch.normalized(self.kind, key)
        self.summary.flagged += flagged
        kind = self.kind.value
        self._terms += [(kind, name, term, record_id, version) for name, term in terms]
        return (record_id, version, item.hash, item.payload, features, flags, match, self.run.id, stamp)

    def _insert_new(
        self,
        bulk: BulkWriter,
        batch: PreparedBatch,
        keys: list[str],
        versions: list[tuple[Any, ...]],
        stamp: Any,
    ) -> None:
        source_id, kind, run_id = self.source.id, self.kind.value, self.run.id
        items = batch.items
        record_ids = bulk.insert_returning_ids(
            _RECORDS,
            _RECORD_COLUMNS,
            [(source_id, kind, key, 1, items[key].hash, stamp, stamp, run_id) for key in keys],
        )
        _create_singletons(bulk, self.kind, record_ids, stamp)
        versions.extend(
            self._version(record_id, 1, key, batch, stamp)
            for key, record_id in zip(keys, record_ids, strict=True)
        )

    def _quarantine(self, bulk: BulkWriter, rows: list[tuple[int | None, str, str]], stamp: Any) -> None:
        """Keep and count each unusable row once, with its line; re-ingesting the file adds no copies.

        Identical bad rows of one file are each kept (their lines differ), so the summary's count and
        the rows kept agree; a row whose reason and raw text an earlier run kept is counted, not kept again.
        """
        if not rows:
            return
        rows = [_storable(row) for row in rows]
        hashes = [_row_hash(text, reason) for _line, text, reason in rows]
        earlier = {
            digest
            for digest, run_id in bulk.lookup(
                _QUARANTINE,
                ("row_hash", "ingest_run_id"),
                {"source_id": self.source.id, "kind": self.kind.value},
                "row_hash",
                list(set(hashes)),
            )
            if run_id != self.run.id
        }
        bulk.insert(
            _QUARANTINE,
            _QUARANTINE_COLUMNS,
            [
                (self.run.id, self.source.id, self.kind.value, line, reason, text, digest, stamp)
                for digest, (line, text, reason) in zip(hashes, rows, strict=True)
                if digest not in earlier
            ],
        )
        self.summary.quarantined += len(rows)
        self.summary.reasons.update(reason.split(":")[0] for _line, _text, reason in rows)

    def _flush_counts(self) -> None:
        s = self.summary
        self.session.execute(
            update(IngestRun)
            .where(IngestRun.id == self.run.id)
            .values(new=s.new, changed=s.changed, unchanged=s.unchanged, quarantined=s.quarantined)
        )

    def finish(self) -> IngestSummary:
        self._flush_counts()
        self.session.execute(
            update(IngestRun).where(IngestRun.id == self.run.id).values(finished_at=utcnow())
        )
        return self.summary


def _create_singletons(bulk: BulkWriter, kind: Kind, record_ids: list[int], stamp: Any) -> None:
    """Give each new record an entity of its own until resolution joins it to others, in SQL.

    The entity id is `hub.domain.new_entity_id`'s, built in SQL: the kind's prefix, this moment in
    milliseconds and the record's id, 12 hex digits each.
    """
    prefix = ENTITY_PREFIX[kind]
    params: tuple[Any, ...]
    millis = time.time_ns() // 1_000_000
    if bulk.sqlite:
        entity_id = f"'{prefix}_' || printf('%012x%012x', {millis}, r.id)"
        where, params = "r.id BETWEEN ? AND ?", (record_ids[0], record_ids[-1])
    else:
        entity_id = f"'{prefix}_' || lpad(to_hex({millis}::bigint), 12, '0') || lpad(to_hex(r.id), 12, '0')"
        where, params = "r.id = ANY(%s)", (record_ids,)
    connection, mark = bulk.connection, bulk.mark
    connection.exec_driver_sql(
        f"INSERT INTO entity (id, kind, status, version, created_at, updated_at)"
        f" SELECT {entity_id}, r.kind, 'active', 1, {mark}, {mark} FROM source_record r WHERE {where}",
        (stamp, stamp, *params),
    )
    connection.exec_driver_sql(
        f"INSERT INTO membership (record_id, entity_id, valid_from, actor)"
        f" SELECT r.id, {entity_id}, {mark}, 'ingest' FROM source_record r WHERE {where}",
        (stamp, *params),
    )


def _storable(row: tuple[int | None, str, str]) -> tuple[int | None, str, str]:
    """The quarantine row with U+FFFD for each character no database stores (NUL, lone surrogates).

    The reason says so, so that a U+FFFD in the raw text is not mistaken for the source's own.
    """
    line, text, reason = row
    if UNSTORABLE_CHARACTERS.search(text) is not None:
        text = UNSTORABLE_CHARACTERS.sub("\ufffd", text)
        reason += "; in the raw text kept here each NUL or lone surrogate is replaced by U+FFFD"
    return line, text, UNSTORABLE_CHARACTERS.sub("\ufffd", reason)


def _row_hash(text: str, reason: str) -> str:
    return blake2b(f"{reason}\n{text}".encode(), digest_size=16).hexdigest()


def _raw_text(record: Any) -> str:
    """An in-memory record as the text to quarantine it with: its JSON, else its Python form."""
    if isinstance(record, dict | list):
        try:
            return orjson.dumps(record).decode()
        except TypeError:  # lone surrogates, or values JSON has no form for
            pass
    return repr(record)


def ingest_records(
    session: Session,
    source: str,
    kind: Kind,
    records: Iterable[Any],
    *,
    batch_size: int = DEFAULT_INGEST_BATCH,
) -> IngestSummary:
    """Ingest in-memory records (dicts) inside the caller's transaction; flushes, never commits."""
    ingestor = Ingestor(session, source, kind)
    rows = (RawRow(line, _raw_text(r), value=r) for line, r in enumerate(records, 1))
    while chunk := list(islice(rows, batch_size)):
        ingestor.add(prepare_batch(kind, chunk))
    return ingestor.finish()


def ingest_file(
    engine: Engine,
    path: Path,
    source: str,
    kind: Kind,
    *,
    encoding: str = "utf-8",
    batch_size: int = DEFAULT_INGEST_BATCH,
    progress: Callable[[int, int], None] | None = None,
    parallel: bool | None = None,
    workers: int | None = None,
) -> IngestSummary:
    """Ingest one source file, committing after each batch; `progress(bytes_read, size)` if given.

    Large files (or any, with `parallel=True`) are read in a thread and normalized by `workers`
    other processes (default `HUB_INGEST_WORKERS`) while this one writes.
    """
    if source == DERIVED_SOURCE:
        raise InputError(
            f"the source name {DERIVED_SOURCE!r} is the hub's own (addresses read in other records);"
            " name the departmental system, e.g. public_security"
        )
    if workers is None:
        workers = get_settings().ingest_workers
    batches = prepared_batches(path, encoding, kind, batch_size, parallel=parallel, workers=workers)
    size = path.stat().st_size
    with Session(engine, expire_on_commit=False) as session:
        ingestor = Ingestor(session, source, kind, path.name)
        session.commit()
        for batch in batches:
            ingestor.add(batch)
            batch.release()
            session.commit()
            if progress:
                progress(batch.bytes_read, size)
        summary = ingestor.finish()
        session.commit()
    return summary

"""Ingest source records: version what changed, quarantine what cannot be used, never lose a row.

`Ingestor` writes prepared batches for one (source, kind) inside the caller's transaction and only
flushes; `ingest_file` drives it over a file and commits every `HUB_INGEST_COMMIT` records (in whole
batches) and at the file's end, so a crash leaves every commit before it, and re-running the same
command completes the file (ingestion is idempotent).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from hub.changes import hold
from hub.config import DEFAULT_INGEST_BATCH, get_settings
from hub.domain import DERIVED_SOURCE, ENTITY_PREFIX, Kind
from hub.errors import InputError
from hub.ingest.mapping import ColumnMapping, RowMapper
from hub.ingest.pipeline import FileToRead, paced_collector, prepared_stream
from hub.ingest.prepare import UNSTORABLE_CHARACTERS, PreparedBatch, duplicate_reason, prepare_batch
from hub.ingest.readers import RawRow, open_source
from hub.ingest.stored_mappings import latest_mapping
from hub.store.bulk import BulkWriter
from hub.store.database import bulk_session
from hub.store.locks import exclusive
from hub.store.models import (
    SEARCH_FIELD_IDS,
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

__all__ = [
    "IngestSummary",
    "Ingestor",
    "LoadFile",
    "get_or_create_source",
    "ingest_file",
    "ingest_files",
    "ingest_lock",
    "ingest_records",
]

_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# The longest an ingest holds its write transaction open before committing, however few records it
# wrote: what it holds (SQLite's write lock, the change feed's lock on PostgreSQL) makes a steward's
# edit or a live submission wait, and they give up after `HUB_EDIT_LOCK_WAIT` (5 s by default).
COMMIT_SECONDS = 1.0
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
_TERM_COLUMNS = ("field_id", "term", "record_id", "version")
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
_VERSION_JSON = frozenset(("features", "flags", "match"))  # given as UTF-8 bytes (`Normalized`)
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
    """What one ingestion did: counts, the quarantine reasons with how often each occurred (and the
    first row of each, whole), how the file was read, and the rows of earlier runs it released."""

    source: str
    kind: Kind
    file: str
    run_id: int
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    flagged: int = 0
    released: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[int | None, str]] = field(default_factory=dict)  # reason → (line, whole)
    encoding: str | None = None
    encoding_detected: bool = False
    mapping_version: int | None = None
    separator: str | None = None  # a CSV file's field separator, read off its header
    printed: bool = False  # a CSV file is a table a database console printed (bars, rules, a row count)

    @property
    def read(self) -> int:
        return self.new + self.changed + self.unchanged + self.quarantined

    @property
    def bad_share(self) -> float:
        """The share of the rows read that were quarantined (0 for a file without rows)."""
        return self.quarantined / self.read if self.read else 0.0


def get_or_create_source(session: Session, name: str) -> Source:
    """Return the source called `name`, registering it on first use."""
    _check_source_name(name)
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = Source(name=name)
        session.add(source)
        session.flush()
    return source


def _check_source_name(name: str) -> None:
    if not _SOURCE_NAME.fullmatch(name):
        raise InputError(
            f"source name {name!r} is not allowed; use lower-case letters, digits and _ "
            "starting with a letter, e.g. public_security"
        )


class Ingestor:
    """Ingests batches of one kind from one source within the caller's transaction (flush only)."""

    def __init__(
        self,
        session: Session,
        source: str,
        kind: Kind,
        file_name: str = "<python>",
        *,
        encoding: str | None = None,
        encoding_detected: bool = False,
        mapping_version: int | None = None,
    ) -> None:
        self.session = session
        self.kind = kind
        self.source = get_or_create_source(session, source)
        self.run = IngestRun(
            source_id=self.source.id,
            kind=kind,
            file_name=file_name,
            encoding=encoding,
            encoding_detected=encoding_detected,
            mapping_version=mapping_version,
        )
        session.add(self.run)
        session.flush()
        self.summary = IngestSummary(
            source, kind, file_name, self.run.id, encoding=encoding,
            encoding_detected=encoding_detected, mapping_version=mapping_version,
        )  # fmt: skip
        self._terms: list[tuple[Any, ...]] = []  # the current batch's search terms
        self._field_ids = {name: i for (of_kind, name), i in SEARCH_FIELD_IDS.items() if of_kind is kind}
        self._bad_hashes: set[str] = set()  # of every row this run quarantined, kept now or before
        # The earlier runs of this file: a quarantined row belongs to its file, so the same bad row in
        # another file of the source and kind is kept under that file too, and released with it alone
        # (`release_fixed`).
        self._file_runs = set(
            session.scalars(
                select(IngestRun.id).where(
                    IngestRun.source_id == self.source.id,
                    IngestRun.kind == kind,
                    IngestRun.file_name == file_name,
                    IngestRun.id != self.run.id,
                )
            )
        )

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
        _changed_entities(bulk, [row[-1] for row in changed], stamp)
        if new_keys:
            self._insert_new(bulk, batch, new_keys, versions, stamp)
        bulk.insert(_VERSIONS, _VERSION_COLUMNS, versions, utf8=_VERSION_JSON)
        bulk.insert(_TERMS, _TERM_COLUMNS, sorted(self._terms))
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
        field_ids = self._field_ids
        self._terms += [(field_ids[name], term, record_id, version) for name, term in terms]
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
        the rows kept agree; a row whose reason and raw text an earlier run of the same file kept (and
        did not release) is counted, not kept again. Another file's copy of the row is its own.
        """
        if not rows:
            return
        rows = [_storable(row) for row in rows]
        hashes = [_row_hash(text, reason) for _line, text, reason in rows]
        earlier = {
            digest
            for digest, run_id, released in bulk.lookup(
                _QUARANTINE,
                ("row_hash", "ingest_run_id", "released_at"),
                {"source_id": self.source.id, "kind": self.kind.value},
                "row_hash",
                list(set(hashes)),
            )
            if run_id in self._file_runs and released is None
        }
        self._bad_hashes.update(hashes)
        bulk.insert(
            _QUARANTINE,
            _QUARANTINE_COLUMNS,
            [
                (self.run.id, self.source.id, self.kind.value, line, reason, text, digest, stamp)
                for digest, (line, text, reason) in zip(hashes, rows, strict=True)
                if digest not in earlier
            ],
        )
        summary = self.summary
        summary.quarantined += len(rows)
        for line, _text, reason in rows:
            short = reason.split(":")[0]
            summary.reasons[short] += 1
            summary.examples.setdefault(short, (line, reason))

    def _flush_counts(self) -> None:
        s = self.summary
        self.session.execute(
            update(IngestRun)
            .where(IngestRun.id == self.run.id)
            .values(new=s.new, changed=s.changed, unchanged=s.unchanged, quarantined=s.quarantined)
        )

    def release_fixed(self) -> int:
        """Release the open quarantined rows of earlier runs of this file (same source, kind and file
        name) that this run, having read the whole file, did not quarantine again: the file was
        fixed. They stay in the table, marked with this run and the time; returns how many."""
        open_rows = self.session.execute(
            select(Quarantine.id, Quarantine.row_hash).where(
                and_(Quarantine.released_at.is_(None), Quarantine.ingest_run_id.in_(sorted(self._file_runs)))
            )
        ).all()
        fixed = [row_id for row_id, digest in open_rows if digest not in self._bad_hashes]
        now = utcnow()
        for start in range(0, len(fixed), 1000):
            self.session.execute(
                update(Quarantine)
                .where(Quarantine.id.in_(fixed[start : start + 1000]))
                .values(released_at=now, released_by_run_id=self.run.id)
            )
        self.summary.released = len(fixed)
        return len(fixed)

    def finish(self) -> IngestSummary:
        self._flush_counts()
        self.session.execute(
            update(IngestRun).where(IngestRun.id == self.run.id).values(finished_at=utcnow())
        )
        return self.summary


def _changed_entities(bulk: BulkWriter, record_ids: list[int], stamp: Any) -> None:
    """The change feed's entries for the entities whose records a source changed: their golden values
    may differ now (an entity is named once however many of its records changed)."""
    if not record_ids:
        return
    connection, mark = bulk.connection, bulk.mark
    entities: set[str] = set()
    for start in range(0, len(record_ids), 900):
        chunk = record_ids[start : start + 900]
        entities.update(
            row[0]
            for row in connection.exec_driver_sql(
                "SELECT entity_id FROM membership WHERE valid_to IS NULL"
                f" AND record_id IN ({', '.join([mark] * len(chunk))})",
                tuple(chunk),
            )
        )
    hold(connection)
    ordered = sorted(entities)
    for start in range(0, len(ordered), 900):
        named = ordered[start : start + 900]
        connection.exec_driver_sql(
            "INSERT INTO change_event (at, action, kind, entity_id, version, actor)"
            f" SELECT {mark}, 'changed', kind, id, version, 'ingest' FROM entity"
            f" WHERE id IN ({', '.join([mark] * len(named))}) ORDER BY id",
            (stamp, *named),
        )


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
    hold(connection)  # the change feed's entries, in commit order
    connection.exec_driver_sql(
        "INSERT INTO change_event (at, action, kind, entity_id, version, actor)"
        f" SELECT {mark}, 'created', r.kind, {entity_id}, 1, 'ingest' FROM source_record r WHERE {where}",
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
    reasons: dict[int, str] | None = None,
) -> IngestSummary:
    """Ingest in-memory records (dicts) inside the caller's transaction; flushes, never commits.
    `reasons`, if given, gets why each record set aside was (by its place in `records`, from 1)."""
    ingestor = Ingestor(session, source, kind)
    rows = (RawRow(line, _raw_text(r), value=r) for line, r in enumerate(records, 1))
    while chunk := list(islice(rows, batch_size)):
        batch = prepare_batch(kind, chunk)
        if reasons is not None:
            reasons.update((line, reason) for line, _, reason in batch.quarantine if line is not None)
        ingestor.add(batch)
    return ingestor.finish()


@dataclass(frozen=True, slots=True)
class LoadFile:
    """One file of a load: the file, the source system it comes from, its kind, its encoding (None:
    detected) and the column mapping to read it with (None: the source's newest stored mapping)."""

    path: Path
    source: str
    kind: Kind
    encoding: str | None = None
    mapping: ColumnMapping | None = None


@contextmanager
def ingest_lock(engine: Engine, source: str, kind: Kind) -> Iterator[None]:
    """Hold the lock that keeps ingests of one source and kind apart (`hub.store.locks`), or refuse at
    once, saying which run holds it (BUSY). Two runs of one file at a time would each take the other's
    rows for its own and version or count them wrongly; waiting could hang a cron job behind a stuck
    one."""
    with exclusive(engine, f"ingest-{source}-{kind.value}", lambda: _running(engine, source, kind)):
        yield


@contextmanager
def _ingest_locks(engine: Engine, files: Sequence[LoadFile]) -> Iterator[None]:
    """Hold the ingest lock of every (source, kind) of a load for all of it, taken before anything is
    stored (in one order, so two loads never hold each other's), or refuse the whole load."""
    with ExitStack() as locks:
        for source, kind in sorted({(f.source, f.kind) for f in files}):
            locks.enter_context(ingest_lock(engine, source, kind))
        yield


def _running(engine: Engine, source: str, kind: Kind) -> str:
    """The ingest that holds the lock of (source, kind): its newest unfinished run, if there is one."""
    with Session(engine) as session:
        running = session.execute(
            select(IngestRun.id, IngestRun.started_at)
            .join(Source, Source.id == IngestRun.source_id)
            .where(Source.name == source, IngestRun.kind == kind, IngestRun.finished_at.is_(None))
            .order_by(IngestRun.id.desc())
            .limit(1)
        ).first()
    which = "" if running is None else f" (run {running[0]}, since {running[1]:%Y-%m-%d %H:%M:%S} UTC)"
    return f"another ingest of {source}/{kind.value}{which}"


def _check_file_names(files: Sequence[LoadFile]) -> None:
    """Refuse two different files of one source and kind under one name: a file is known by its name
    within its source and kind, so the second would release the first's quarantined rows."""
    first: dict[tuple[str, str, Kind], Path] = {}
    for f in files:
        other = first.setdefault((f.path.name, f.source, f.kind), f.path)
        if other.resolve() != f.path.resolve():
            raise InputError(
                f"{other} and {f.path} are both {f.path.name} of {f.source}/{f.kind.value}: a file is"
                " known by its name within its source and kind; rename one"
            )


def ingest_file(
    engine: Engine,
    path: Path,
    source: str,
    kind: Kind,
    *,
    encoding: str | None = None,
    batch_size: int = DEFAULT_INGEST_BATCH,
    progress: Callable[[int, int], None] | None = None,
    parallel: bool | None = None,
    workers: int | None = None,
    mapping: ColumnMapping | None = None,
    commit_every: int | None = None,
    commit_seconds: float = COMMIT_SECONDS,
) -> IngestSummary:
    """Ingest one source file, committing every `commit_every` records (default `HUB_INGEST_COMMIT`,
    in whole batches) or after a batch that ends `commit_seconds` after the last commit, and at its
    end; `progress(bytes_read, size)` after each batch if given.

    `encoding` None: detected from the file's start. Rows are mapped by `mapping` (default: the
    source's newest stored mapping) over the kind's built-in headers. Large files (or any, with
    `parallel=True`) are read in a thread and normalized by `workers` other processes (default
    `HUB_INGEST_WORKERS`) while this one writes. Once the whole file is in, quarantined rows of
    earlier runs of the same file that it no longer has are released.
    """
    on_batch = None if progress is None else (lambda _index, done, size: progress(done, size))
    [summary] = ingest_files(
        engine,
        [LoadFile(path, source, kind, encoding, mapping)],
        batch_size=batch_size,
        progress=on_batch,
        parallel=parallel,
        workers=workers,
        commit_every=commit_every,
        commit_seconds=commit_seconds,
    )
    return summary


def ingest_files(
    engine: Engine,
    files: Sequence[LoadFile],
    *,
    batch_size: int = DEFAULT_INGEST_BATCH,
    progress: Callable[[int, int, int], None] | None = None,
    done: Callable[[IngestSummary], None] | None = None,
    parallel: bool | None = None,
    workers: int | None = None,
    commit_every: int | None = None,
    commit_seconds: float = COMMIT_SECONDS,
) -> list[IngestSummary]:
    """Ingest several source files in order, as `ingest_file` ingests each: one run per file, a
    commit every `commit_every` records or after a batch ending `commit_seconds` after the last
    commit, whichever comes first, and at each file's end; returns their summaries in the same order.

    Commits are spaced out, not one per batch, because each commit writes every page its batches
    touched: the search terms' and keys' B-trees take a batch's rows all over, so at a million
    persons a commit per batch of 5,000 rewrote most of their pages hundreds of times (a third of the
    writer's time). The time bound keeps what the transaction holds from others short. A crash loses
    at most the work since the last commit, which re-running restores.

    One reader thread goes through all of them, so the next file is read and normalized while this
    process writes the end of the one before: a load of many files keeps both cores busy where one
    command per file would let them idle at every file's start and end. Every file is checked before
    anything is stored (one that cannot be read, or two files of one name, source and kind, refuse
    the whole load), and the ingest lock of each of its sources and kinds is taken for the whole load
    (`ingest_lock`: another ingest of one of them running refuses it). `progress(file's index,
    bytes_read, size)` after each batch and `done(summary)` after each file, if given.
    """
    for f in files:
        if f.source == DERIVED_SOURCE:
            raise InputError(
                f"the source name {DERIVED_SOURCE!r} is the hub's own (addresses read in other records);"
                " name the departmental system, e.g. public_security"
            )
        _check_source_name(f.source)
    _check_file_names(files)
    settings = get_settings()
    if workers is None:
        workers = settings.ingest_workers
    if commit_every is None:
        commit_every = settings.ingest_commit
    mappings: dict[str, ColumnMapping | None] = {}
    with Session(engine) as session:
        for f in files:
            if f.mapping is None and f.source not in mappings:
                mappings[f.source] = latest_mapping(session, f.source)
    to_read: list[FileToRead] = []
    how: list[tuple[str | None, bool, str | None, bool, ColumnMapping | None]] = []
    for f in files:
        mapping = f.mapping if f.mapping is not None else mappings[f.source]
        # refuses an unreadable file before anything is stored
        with open_source(f.path, f.encoding) as reader:
            read_as, detected = reader.encoding, reader.encoding_detected
            separator = reader.separator if reader.format == "csv" else None
            printed = reader.printed
        to_read.append(FileToRead(f.path, read_as, f.kind, RowMapper(f.kind, mapping)))
        how.append((read_as, detected, separator, printed, mapping))
    sizes = [f.path.stat().st_size for f in files]
    summaries: list[IngestSummary] = []
    with (
        _ingest_locks(engine, files),
        paced_collector(),
        closing(prepared_stream(to_read, batch_size, parallel, workers)) as stream,
        bulk_session(engine) as session,
    ):
        ingestor: Ingestor | None = None
        uncommitted = 0  # records written since the last commit
        committed_at = time.monotonic()
        for index, batch in stream:
            f = files[index]
            if ingestor is None:
                read_as, detected, separator, printed, mapping = how[index]
                ingestor = Ingestor(
                    session,
                    f.source,
                    f.kind,
                    f.path.name,
                    encoding=read_as,
                    encoding_detected=detected,
                    mapping_version=mapping.version if mapping else None,
                )
                ingestor.summary.separator = separator
                ingestor.summary.printed = printed
                session.commit()
            if batch is not None:
                ingestor.add(batch)
                batch.release()
                uncommitted += len(batch.items) + len(batch.quarantine)
                if uncommitted >= commit_every or time.monotonic() - committed_at >= commit_seconds:
                    session.commit()
                    uncommitted, committed_at = 0, time.monotonic()
                if progress:
                    progress(index, batch.bytes_read, sizes[index])
                continue
            ingestor.release_fixed()
            summary = ingestor.finish()
            session.commit()
            uncommitted, committed_at = 0, time.monotonic()
            summaries.append(summary)
            ingestor = None
            if done:
                done(summary)
    return summaries

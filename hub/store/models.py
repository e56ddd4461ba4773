"""The hub's tables as SQLAlchemy 2.0 typed models (docs/design.md, "Data model").

Source records are stored raw and versioned, never edited; entities are views over records joined
by judgements; every change is an audit event. Relationships refuse lazy loading, so every reader
must say up front what it loads (the API batches with DataLoaders).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from hub.domain import ActorType, Decision, EntityStatus, Kind, LinkRelation, ReviewStatus

__all__ = [
    "MIGRATION_TABLES",
    "SEARCH_FIELD_IDS",
    "STEWARD_JUDGEMENTS",
    "AccessLog",
    "AuditEvent",
    "Base",
    "ChangeEvent",
    "Client",
    "Entity",
    "IngestRun",
    "Judgement",
    "Link",
    "LinkEvidence",
    "Membership",
    "Quarantine",
    "RecordVersion",
    "ResolutionRun",
    "ReviewItem",
    "SearchField",
    "SearchTerm",
    "Source",
    "SourceMapping",
    "SourceRecord",
    "Statement",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on both databases (SQLite keeps no zone, so UTC is implied)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the hub stores timezone-aware times only")
        return (
            value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json, list[Any]: Json}  # noqa: RUF012


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as the lower-case value, checked by a constraint, the same on SQLite and PostgreSQL.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Source(Base):
    """A departmental source system; `trust` ranks it per attribute for survivorship."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    trust: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceMapping(Base):
    """One version of a source's column mapping (a TOML text, `hub sources map`); the newest is used."""

    __tablename__ = "source_mapping"
    __table_args__ = (UniqueConstraint("source_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(512))
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestRun(Base):
    """One `hub ingest` of one file: what came in, how it was read and how it was counted.

    `encoding`: the one the file was read in (null for a workbook, and for runs before it was kept);
    `mapping_version`: the source's column mapping the run applied (null: the built-in headers only).
    """

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    file_name: Mapped[str] = mapped_column(String(512))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    new: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    encoding: Mapped[str | None] = mapped_column(String(32))
    encoding_detected: Mapped[bool | None]
    mapping_version: Mapped[int | None]


class SourceRecord(Base):
    """(source, kind, key): the stable unit the hub resolves; its contents live in versions."""

    __tablename__ = "source_record"
    __table_args__ = (UniqueConstraint("source_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    key: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(default=1)
    content_hash: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))

    source: Mapped[Source] = relationship(lazy="raise")


class RecordVersion(Base):
    """One version of a source record: the raw payload verbatim, its normalized features and flags."""

    __tablename__ = "record_version"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    features: Mapped[dict[str, Any]] = mapped_column(default=dict)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The flat fields resolution compares, derived from `features` at ingest (null: derive when read).
    match: Mapped[dict[str, Any] | None]
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Quarantine(Base):
    """A row that could not be used, kept with its reason and raw text so nothing is lost.

    Released (`released_at`, by the run `released_by_run_id`) when the same file of the same source
    and kind was ingested again whole without this row's fault: the row is kept, as evidence.
    """

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_row", "source_id", "kind", "row_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ingest_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    line: Mapped[int | None]
    reason: Mapped[str] = mapped_column(Text)
    raw_text: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(String(32))  # of reason and raw text: re-ingest adds no copy
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    released_by_run_id: Mapped[int | None] = mapped_column(BigId)


class Entity(Base):
    """A golden entity: a stable opaque id over the records its memberships join."""

    __tablename__ = "entity"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - clustered by id: one B-tree, not two

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    status: Mapped[EntityStatus] = mapped_column(_enum(EntityStatus), default=EntityStatus.ACTIVE)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("entity.id"))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    """Record → entity over a time interval; the open one (`valid_to` null) is current."""

    __tablename__ = "membership"
    __table_args__ = (
        Index("ix_membership_record_current", "record_id", "valid_to"),
        Index("ix_membership_entity_current", "entity_id", "valid_to"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    entity_id: Mapped[str] = mapped_column(ForeignKey("entity.id"))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(128), default="system")


class SearchField(Base):
    """A field records are found by, and its number in `search_term` (a small key indexes faster)."""

    __tablename__ = "search_field"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    field: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("kind", "field"),)


# search_field's rows: a field's number is set by the migration that adds the field and never changes.
SEARCH_FIELD_IDS: dict[tuple[Kind, str], int] = {
    (Kind.PERSON, "id_any"): 1,
    (Kind.PERSON, "phone"): 2,
    (Kind.PERSON, "name_birth"): 3,
    (Kind.PERSON, "name_key"): 4,
    (Kind.ADDRESS, "doorplate"): 5,
    (Kind.ADDRESS, "flat"): 6,
    (Kind.ADDRESS, "room_key"): 7,
    (Kind.LEGAL_ENTITY, "uscc_any"): 8,
    (Kind.LEGAL_ENTITY, "name_core"): 9,
}


# Tables whose rows the migrations write: a freshly migrated database holds them, and emptying one
# for a test or a restore leaves them.
MIGRATION_TABLES = frozenset({SearchField.__tablename__})


class SearchTerm(Base):
    """A key a record version can be found by (a name key, an ID number, a flat key, …), for the API's
    lookups and searches. Insert-only: a record's current terms are those of its current version.
    Clustered on its key on SQLite: one B-tree, where ingestion inserts about three rows per record.

    `field_id` is a `search_field`'s number and `record_id` a `source_record`'s, without foreign keys:
    an index over record versions, written only by ingestion in the transaction that writes the
    version, of records never deleted. PostgreSQL's checks of them were a fifth of a load (0010)."""

    __tablename__ = "search_term"

    field_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    term: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)

    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012


class Statement(Base):
    """One attribute value from a record version, or a steward's value for an entity."""

    __tablename__ = "statement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_version_id: Mapped[int | None] = mapped_column(ForeignKey("record_version.id"), index=True)
    entity_id: Mapped[str | None] = mapped_column(ForeignKey("entity.id"), index=True)
    attribute: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128), default="source")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retracted_at: Mapped[datetime | None]


class ResolutionRun(Base):
    """One resolution run with the match settings it used, so its results can be reproduced."""

    __tablename__ = "resolution_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[Kind | None] = mapped_column(_enum(Kind))
    settings: Mapped[dict[str, Any]]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


# The condition of `ix_judgement_steward`, written as a literal: a query over stewards' judgements uses
# this same clause, since neither SQLite nor a prepared PostgreSQL plan matches a bound parameter to a
# partial index's condition (each would read the whole table).
STEWARD_JUDGEMENTS = sql_text("actor_type = 'steward'")


class Judgement(Base):
    """A record–record edge: positive, negative or unsure, who decided it, the score and why."""

    __tablename__ = "judgement"
    __table_args__ = (
        Index("ix_judgement_pair", "record_a_id", "record_b_id"),
        # Stewards' judgements of a kind, newest and withdrawn, by which a kind's warm resolver knows it
        # holds every one of them (hub.submit).
        Index(
            "ix_judgement_steward",
            "kind",
            "id",
            "deleted_at",
            sqlite_where=STEWARD_JUDGEMENTS,
            postgresql_where=STEWARD_JUDGEMENTS,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    record_a_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"))
    record_b_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), index=True)
    decision: Mapped[Decision] = mapped_column(_enum(Decision))
    score: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor_type: Mapped[ActorType] = mapped_column(_enum(ActorType))
    actor: Mapped[str] = mapped_column(String(128))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("resolution_run.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class Link(Base):
    """An entity–entity relationship such as lives at or legal representative of."""

    __tablename__ = "link"
    __table_args__ = (
        Index("ix_link_subject", "subject_id", "relation"),
        Index("ix_link_object", "object_id", "relation"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    relation: Mapped[LinkRelation] = mapped_column(_enum(LinkRelation))
    subject_id: Mapped[str] = mapped_column(ForeignKey("entity.id"))
    object_id: Mapped[str] = mapped_column(ForeignKey("entity.id"))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]


class LinkEvidence(Base):
    """A source record that asserts a link."""

    __tablename__ = "link_evidence"

    link_id: Mapped[int] = mapped_column(ForeignKey("link.id"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("source_record.id"), primary_key=True)


class ReviewItem(Base):
    """A potential match waiting for a steward, ordered by priority."""

    __tablename__ = "review_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    judgement_id: Mapped[int] = mapped_column(ForeignKey("judgement.id"), index=True)
    kind: Mapped[Kind] = mapped_column(_enum(Kind))
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus), default=ReviewStatus.OPEN)
    assignee: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[Decision | None] = mapped_column(_enum(Decision))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only and hash-chained: each row's hash covers its content and the previous hash."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(64))
    subject_ids: Mapped[list[Any]] = mapped_column(default=list)
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Client(Base):
    """A departmental API client: its token is stored only as a hash; revocable."""

    __tablename__ = "client"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AccessLog(Base):
    """Who read which entities' personal fields or looked up personal identifiers, when, in which
    operation and for which purpose. Append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

    `operation`: the text without comments, whitespace or string literals, cut to 256 characters;
    `operation_hash`: SHA-256 of the full text as sent. `variables` and `lookups` hold personal
    values only as digests. Rows written before these columns have them null.
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"), index=True)
    operation: Mapped[str] = mapped_column(String(256))
    operation_hash: Mapped[str | None] = mapped_column(String(64))
    operation_name: Mapped[str | None] = mapped_column(String(256))
    variables: Mapped[dict[str, Any] | None] = mapped_column()
    lookups: Mapped[list[Any] | None] = mapped_column()
    entity_ids: Mapped[list[Any]] = mapped_column(default=list)
    fields: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str | None] = mapped_column(String(256))


class ChangeEvent(Base):
    """One entry of the change feed: an entity created, changed, merged or split, or a link opened or
    closed, numbered in commit order (writers take the audit chain's lock before they add entries, so a
    later id is never committed before an earlier one: a poller that read up to an id misses nothing).

    `kind`/`entity_id`: the entity (a link's subject); `other_kind`/`other_id`: the survivor of a merge,
    the entity a split took records from, or a link's object; `version`: the entity's after the change.
    `ix_change_event_entity`: the newest entry of a kind's entities (links left out), by which a kind's
    warm resolver knows it is still current (hub.submit).
    """

    __tablename__ = "change_event"
    __table_args__ = (
        Index(
            "ix_change_event_entity",
            "kind",
            "id",
            sqlite_where=sql_text("relation IS NULL"),
            postgresql_where=sql_text("relation IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(32))
    other_kind: Mapped[str | None] = mapped_column(String(32))
    other_id: Mapped[str | None] = mapped_column(String(32))
    relation: Mapped[str | None] = mapped_column(String(32))
    link_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(128))

"""Records a department submits live: stored like an ingested file's rows, resolved at once, and answered
with each record's entity and what became of it.

A submission takes the audit chain's lock first, so that it sees the graph as no one else is changing
it, then ingests the records (an identical record again is no change: submitting is idempotent on
source, key and content) and resolves the new and changed ones against their kind's stored entities.

Resolving reads every record of the kind unless the process keeps the kind's resolver warm
(`LiveResolvers`): the API does, so a submission after the first costs the neighbourhood of the new
records only. A warm resolver is used as kept while the change feed has no newer entry of its kind
than when it was kept, and caught up from the feed where only stewards changed the kind since (a
merge, split, move, override or decision changes no record and no weight); any other writer of the
kind (a batch run, a file ingested, another process's submission) makes the next submission read the
kind again, while changes to other kinds leave it warm. The API does that read ahead of the write lock
(`LiveResolvers.prepare`), so other writers need not wait for it. Records that change a stored
record, and kinds whose matching prepares the whole table first (addresses), always take the full
path.

While a batch resolution runs (`hub.store.locks`), and before a kind's first one, records are stored
but not resolved: each keeps the entity it had, or one of its own, answered as `pending`, until the
next run resolves it.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.audit import hold_head
from hub.domain import Kind, ReviewStatus
from hub.errors import InputError
from hub.ingest import ingest_records
from hub.resolve.loading import latest_run
from hub.resolve.realtime import Warm, build_resolver, catch_up, resolve_records
from hub.resolve.settings import MatchSettings
from hub.store.locks import resolution_running
from hub.store.models import (
    STEWARD_JUDGEMENTS,
    ChangeEvent,
    IngestRun,
    Judgement,
    Membership,
    RecordVersion,
    ResolutionRun,
    ReviewItem,
    Source,
    SourceRecord,
)

__all__ = ["MAX_SUBMITTED", "LiveResolvers", "Outcome", "Submission", "Submitted", "submit_records"]

MAX_SUBMITTED = 500  # records per submission


class Outcome(enum.StrEnum):
    CREATED = "created"  # an entity of its own
    JOINED = "joined"  # an entity with other records
    REVIEW = "review"  # a pair with it waits for a steward (it is in an entity meanwhile)
    QUARANTINED = "quarantined"  # set aside with its reason; nothing stored


@dataclass(frozen=True, slots=True)
class Submitted:
    """What became of one submitted record."""

    key: str | None
    outcome: Outcome
    entity_id: str | None = None
    unchanged: bool = False  # the hub had this record with this content already
    reason: str | None = None
    pending: bool = False  # stored, but resolved only by the next resolution


# What a kind's warm resolver reflects (`_position`): the newest change-feed entry of the kind's
# entities, the newest of its stewards' judgements, and how many of those were withdrawn.
Position = tuple[int, int, int]
# The records and weights it holds (`_base`): the kind's newest ingest run and newest resolution run.
# A resolver behind in its position alone (stewards merged, split, moved or decided) is caught up
# (`catch_up`); one behind here (records stored, a run made, perhaps by another process) is read again.
Base = tuple[int, int]


@dataclass(slots=True)
class LiveResolvers:
    """One process's warm resolvers, each with the `Position` of its kind it reflects: a change to
    another kind (an address merged, a legal entity submitted) or to a link leaves it warm, since a
    kind's matching reads only that kind's records, entities and stewards' judgements."""

    _warm: dict[Kind, tuple[Warm, Position, Base]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _preparing: dict[Kind, threading.Lock] = field(default_factory=dict)

    def take(self, session: Session, kind: Kind, position: Position, base: Base) -> Warm | None:
        """The kind's resolver as of `position` and `base` (taken out: one user at a time): as kept if
        nothing changed since, caught up if only stewards did, else none."""
        with self._lock:
            kept = self._warm.pop(kind, None)
        if kept is None:
            return None
        warm, at, at_base = kept
        if at == position:
            return warm
        if at_base != base or not catch_up(session, warm, at[0], position[0]):
            return None
        return warm

    def keep(self, warm: Warm, position: Position, base: Base) -> None:
        with self._lock:
            self._warm[warm.kind] = (warm, position, base)

    def prepare(self, engine: Engine, kind: Kind) -> bool:
        """Before a submission of `kind` takes the write lock: if the kind's kept resolver is missing or
        behind the kind's records or weights, read the kind into a new one now, holding no lock, so that
        the submission finds it warm instead of reading the kind while every other writer waits
        (seconds at 50k persons, 44 s at 1M). Whether a resolver the submission can use (as kept, or
        caught up) is kept afterwards.

        A steward's edit while the kind is read does not waste the read: the resolver is kept at the
        position read before it, and the submission catches it up (catching up sets what it reads from
        the database as it is, so an edit the read already saw is no harm). Nothing is kept if records
        were stored or a run made meanwhile (the submission then reads the kind itself, as before), nor
        for a kind never resolved or whose matching prepares the whole table first (those always take
        the full path)."""
        with self._preparing.setdefault(kind, threading.Lock()):  # one read of a kind at a time
            with Session(engine) as session:
                position, base = _position(session, kind), _base(session, kind)
                with self._lock:
                    kept = self._warm.get(kind)
                    if kept is not None and (kept[1] == position or kept[2] == base):
                        return True  # current, or only stewards' changes behind: `take` catches up
                    self._warm.pop(kind, None)  # behind: no use, and its memory is wanted now
                if not _resolved_before(session, kind) or _prepares(latest_run(session, kind).settings):
                    return False
                resolver, loaded, run = build_resolver(session, kind)
                if _base(session, kind) != base:
                    return False
            warm = Warm(kind, resolver, list(loaded.record_ids), run.id, run.settings)
            with self._lock:
                if kind in self._warm:  # a submission kept one meanwhile: it is at least as recent
                    return True
                self._warm[kind] = (warm, position, base)
            return True


@dataclass(slots=True)
class Submission:
    """The answer to a submission, and the resolver to keep once its transaction committed."""

    results: list[Submitted]
    _live: LiveResolvers | None = None
    _warm: Warm | None = None
    _position: Position = (0, 0, 0)
    _base: Base = (0, 0)

    def committed(self) -> None:
        """The caller committed: the resolver now matches the database, so keep it warm."""
        if self._live is not None and self._warm is not None:
            self._live.keep(self._warm, self._position, self._base)


def _position(session: Session, kind: Kind) -> Position:
    """What a warm resolver of `kind` must match (`Position`), from two small indexes.

    The newest change-feed entry of an entity of `kind` (0: none yet; links are left out, since no
    kind's matching reads them: `ix_change_event_entity`). And its stewards' judgements, the newest and
    the number withdrawn (`ix_judgement_steward`): a decision that moves no entity, such as NOT_MATCH on
    a review pair already apart, writes no change-feed entry, yet the resolver must hold it as a pair
    to keep apart, and an undo withdraws one without adding any."""
    entries = select(ChangeEvent.id).where(ChangeEvent.kind == kind.value, ChangeEvent.relation.is_(None))
    entry = session.scalar(entries.order_by(ChangeEvent.id.desc()).limit(1)) or 0
    newest, withdrawn = session.execute(
        select(func.max(Judgement.id), func.count(Judgement.deleted_at)).where(
            Judgement.kind == kind, STEWARD_JUDGEMENTS
        )
    ).one()
    return entry, newest or 0, withdrawn


def _base(session: Session, kind: Kind) -> Base:
    """The kind's newest ingest run and newest resolution run (`Base`), each found from the table's
    end (the kinds' runs are interleaved, so the newest of one is near it)."""
    ingest = select(IngestRun.id).where(IngestRun.kind == kind).order_by(IngestRun.id.desc()).limit(1)
    run = (
        select(ResolutionRun.id).where(ResolutionRun.kind == kind).order_by(ResolutionRun.id.desc()).limit(1)
    )
    return session.scalar(ingest) or 0, session.scalar(run) or 0


def submit_records(
    session: Session,
    source: str,
    kind: Kind,
    records: Sequence[Any],
    *,
    actor: str,
    live: LiveResolvers | None = None,
) -> Submission:
    """Store, resolve and answer for `records` (contract fields, each with its `key`) of `source`;
    flushes, the caller commits and then calls `committed()`. A record that cannot be used is
    QUARANTINED with its reason and the others go in."""
    if not records:
        raise InputError("records: give one or more records")
    if len(records) > MAX_SUBMITTED:
        raise InputError(f"records: {len(records)} records; submit at most {MAX_SUBMITTED} at a time")
    hold_head(session)  # from here on no one else changes the graph until this transaction ends
    before, base = _position(session, kind), _base(session, kind)
    reasons: dict[int, str] = {}
    summary = ingest_records(session, source, kind, records, reasons=reasons)
    keys = [str(r.get("key")) if isinstance(r, dict) and r.get("key") is not None else None for r in records]
    stored = _stored(session, source, kind, [k for k in keys if k is not None])
    touched = sorted({record_id for record_id, version, run in stored.values() if run == summary.run_id})
    warm: Warm | None = None
    # Before a kind's first batch run there are no weights to resolve with, and while a batch run is
    # going it would undo what this decides: the records keep entities of their own (CREATED, pending),
    # and the next run resolves them with the rest.
    pending = bool(touched) and (resolution_running(session) or not _resolved_before(session, kind))
    if touched and not pending:
        fresh = all(
            stored_version == 1 for _, stored_version, run in stored.values() if run == summary.run_id
        )
        taken = live.take(session, kind, before, base) if live is not None else None
        usable = taken if fresh and taken is not None and not _prepares(taken.settings) else None
        outcome = resolve_records(session, kind, touched, actor=actor, warm=usable)
        warm = outcome.warm
    results = _answers(session, keys, stored, reasons, summary.run_id, pending)
    return Submission(results, live, warm, _position(session, kind), _base(session, kind))


def _resolved_before(session: Session, kind: Kind) -> bool:
    finished = select(ResolutionRun.id).where(
        ResolutionRun.kind == kind, ResolutionRun.finished_at.is_not(None)
    )
    return session.scalar(finished.limit(1)) is not None


def _prepares(settings: dict[str, Any]) -> bool:
    """Whether a run's matching prepares the whole table first (addresses): no warm resolver then."""
    return bool(MatchSettings.from_json(settings["match"]).prepare)


# key → (record id, version, ingest run of that version)
Stored = dict[str, tuple[int, int, int | None]]


def _stored(session: Session, source: str, kind: Kind, keys: list[str]) -> Stored:
    """The source's stored records of these keys, at their current versions."""
    found: Stored = {}
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(SourceRecord.key, SourceRecord.id, SourceRecord.version, RecordVersion.ingest_run_id)
            .join(Source, Source.id == SourceRecord.source_id)
            .join(
                RecordVersion,
                (RecordVersion.record_id == SourceRecord.id)
                & (RecordVersion.version == SourceRecord.version),
            )
            .where(
                Source.name == source,
                SourceRecord.kind == kind,
                SourceRecord.key.in_(keys[start : start + 500]),
            )
        )
        found.update((key, (record_id, version, run)) for key, record_id, version, run in rows)
    return found


def _answers(
    session: Session,
    keys: list[str | None],
    stored: Stored,
    reasons: dict[int, str],
    run_id: int,
    pending: bool,
) -> list[Submitted]:
    record_ids = [record_id for record_id, _, _ in stored.values()]
    entity_of = dict(
        session.execute(
            select(Membership.record_id, Membership.entity_id).where(
                Membership.record_id.in_(record_ids), Membership.valid_to.is_(None)
            )
        ).all()
    )
    entities = sorted(set(entity_of.values()))
    members: dict[str, int] = {}
    for member_of in session.scalars(
        select(Membership.entity_id).where(Membership.entity_id.in_(entities), Membership.valid_to.is_(None))
    ):
        members[member_of] = members.get(member_of, 0) + 1
    waiting: set[int] = set()
    for a, b in session.execute(
        select(Judgement.record_a_id, Judgement.record_b_id)
        .join(ReviewItem, ReviewItem.judgement_id == Judgement.id)
        .where(
            ReviewItem.status != ReviewStatus.DECIDED,
            (Judgement.record_a_id.in_(record_ids)) | (Judgement.record_b_id.in_(record_ids)),
        )
    ):
        waiting.update((a, b))
    results = []
    for line, key in enumerate(keys, 1):
        if line in reasons or key is None or key not in stored:
            why = reasons.get(line, "the record has no key")
            results.append(Submitted(key, Outcome.QUARANTINED, reason=why))
            continue
        record_id, _, run = stored[key]
        entity_id = entity_of.get(record_id)
        if record_id in waiting:
            outcome = Outcome.REVIEW
        elif entity_id is not None and members.get(entity_id, 0) > 1:
            outcome = Outcome.JOINED
        else:
            outcome = Outcome.CREATED
        unchanged = run != run_id
        results.append(Submitted(key, outcome, entity_id, unchanged, pending=pending and not unchanged))
    return results

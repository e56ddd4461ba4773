"""Resolving newly ingested records at once against the stored entities of their kind.

`resolve_records` builds a `Resolver` from the stored records (all but the new ones) with the
weights of the kind's latest batch run, adds the new records one by one, and stores what changed:
memberships and entities of the re-resolved neighbourhoods only, and a judgement for each pair a new
record was scored in (with review items for the uncertain ones). Building the resolver reads every
record of the kind, so a long-running process (the API) keeps one; the command line builds it per
call.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import record_event
from hub.domain import ActorType, Decision, Kind
from hub.resolve.columns import RecordTable
from hub.resolve.incremental import Resolver
from hub.resolve.loading import LoadedRecords, latest_run, load_records, steward_pairs
from hub.resolve.model import Parameters
from hub.resolve.persist import assign_entities, insert_judgements, open_review_items
from hub.resolve.settings import MatchSettings
from hub.store.bulk import BulkWriter
from hub.store.models import ChangeEvent, Membership, ResolutionRun, utcnow

__all__ = ["RealtimeSummary", "Warm", "build_resolver", "catch_up", "resolve_records"]


@dataclass(slots=True)
class Warm:
    """A kind's resolver kept between calls by a long-running process: every stored record of the kind
    in it, `ids` the record id of each of its indices, with the settings and weights of run `run_id`."""

    kind: Kind
    resolver: Resolver
    ids: list[int]
    run_id: int
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RealtimeSummary:
    records: int
    joined: int
    merged_entities: int
    judgements: int
    review_items: int
    warm: Warm | None = field(default=None, repr=False, compare=False)


def build_resolver(
    session: Session,
    kind: Kind,
    *,
    leave_out: Collection[int] = (),
) -> tuple[Resolver, LoadedRecords, ResolutionRun]:
    """A Resolver over the stored records of `kind` but `leave_out`, and everything loaded for it."""
    run = latest_run(session, kind)
    settings = MatchSettings.from_json(run.settings["match"])
    parameters = Parameters.from_json(run.settings["parameters"])
    loaded = load_records(session, kind, settings)
    left_out = set(leave_out)
    keep = np.array([record_id not in left_out for record_id in loaded.record_ids], dtype=bool)
    base_ids = [r for r, k in zip(loaded.record_ids, keep.tolist(), strict=True) if k]
    columns = {name: c.with_codes(c.codes[keep]) for name, c in loaded.table.columns.items()}
    table = RecordTable(list[Hashable](base_ids), columns)
    current = loaded.current()
    first_of: dict[str, int] = {}
    labels = np.empty(len(base_ids), dtype=np.int64)
    for i, record_id in enumerate(base_ids):
        labels[i] = first_of.setdefault(current.get(record_id, f"#{record_id}"), i)
    index = {record_id: i for i, record_id in enumerate(base_ids)}
    must, cannot = steward_pairs(session, kind, index)
    resolver = Resolver(settings, parameters, table, labels, must_link=must, cannot_link=cannot)
    return resolver, loaded, run


def resolve_records(
    session: Session,
    kind: Kind,
    record_ids: list[int],
    *,
    actor: str = "system",
    warm: Warm | None = None,
    every_pending: bool = False,
) -> RealtimeSummary:
    """Resolve these stored records (new or changed) against the rest of their kind; flushes.

    `every_pending`: these are all the kind's records no run has resolved yet (`pending_records`), so
    the run stands for everything stored before it; otherwise it names the records it resolved, and
    others stored before it stay pending (records submitted while a batch run went on).

    `warm`: a resolver that holds every other stored record of the kind as the database has them now
    (the caller knows: nothing changed since it was last used), and none of these; it is used and
    updated instead of reading every record. Without it one is built; the summary holds the resolver
    either way, to pass as `warm` next time.
    """
    started = utcnow()
    new = set(record_ids)
    if warm is None or warm.kind != kind:
        resolver, loaded, run = build_resolver(session, kind, leave_out=new)
        warm = Warm(kind, resolver, [r for r in loaded.record_ids if r not in new], run.id, run.settings)
        all_ids, table = loaded.record_ids, loaded.table
    else:
        settings = MatchSettings.from_json(warm.settings["match"])
        loaded = load_records(session, kind, settings, only=sorted(new))
        all_ids, table = loaded.record_ids, loaded.table
    resolver, ids = warm.resolver, warm.ids  # record id of each resolver index, growing as records come
    # One by one in the order of their source and key, not of their rows: the same records resolve
    # alike however the file that brought them was sorted (under the hard rules, the first of two
    # rival joins wins).
    rank = table.ranks()
    order = sorted((i for i, record_id in enumerate(all_ids) if record_id in new), key=lambda i: int(rank[i]))
    touched: set[int] = set()
    bulk = BulkWriter(session.connection())
    stamp = bulk.timestamp(utcnow())
    judgement_rows: list[
        tuple[int, int, str, float, str, str]
    ] = []  # a, b, decision, score, explanation, actor
    joined = merged = 0
    for i in order:
        row = {name: column.values[i] for name, column in table.columns.items()}
        added = resolver.add(row)
        ids.append(all_ids[i])
        touched.update(added.neighbourhood)
        merged += len(added.merged)
        joined += added.entity != added.index
        for other, weight, how in added.pairs:
            if how in ("apart", "together"):
                continue  # stored: the joins that put the record in its entity, and uncertain pairs
            a, b = sorted((ids[added.index], ids[other]))
            levels, weights = added.explanations[other]
            by = ActorType.RULE if how == "rule" else ActorType.MODEL
            decision = Decision.UNSURE if how == "review" else Decision.POSITIVE
            judgement_rows.append(
                (
                    a,
                    b,
                    decision.value,
                    resolver.probability(weight),
                    orjson.dumps({"levels": levels, "weights": weights, "weight": round(weight, 3)}).decode(),
                    by.value,
                )
            )
    groups: dict[int, list[int]] = {}
    for i in sorted(touched):
        groups.setdefault(resolver.entity[i], []).append(ids[i])
    current = _current(session, sorted({r for group in groups.values() for r in group}))
    assign_entities(session, bulk, kind, list(groups.values()), current, stamp)
    # A run of its own, with the weights it used: judgements point to it, and a later `hub resolve`
    # knows these records were resolved.
    this = ResolutionRun(
        kind=kind,
        settings=warm.settings,
        actor=actor,
        started_at=started,
        stats={
            "incremental": True,
            "parameters_from_run": warm.run_id,
            "records": len(order),
            **({} if every_pending else {"record_ids": sorted(new)}),
        },
    )
    session.add(this)
    session.flush()
    suffix = f":incremental, weights of run {warm.run_id}"
    judgement_ids = insert_judgements(session, bulk, kind, this.id, stamp, judgement_rows, actor=suffix)
    reviews = [
        (judgement_id, row[3])
        for judgement_id, row in zip(judgement_ids, judgement_rows, strict=True)
        if row[2] == Decision.UNSURE.value
    ]
    open_review_items(bulk, kind, stamp, reviews)
    this.stats = {
        **this.stats,
        "joined": joined,
        "merged_entities": merged,
        "judgements": len(judgement_rows),
    }
    this.finished_at = utcnow()
    session.flush()
    record_event(
        session, actor, "resolution.run", [f"run:{this.id}"], after={"kind": kind.value, **this.stats}
    )
    return RealtimeSummary(len(order), joined, merged, len(judgement_rows), len(reviews), warm)


def catch_up(session: Session, warm: Warm, since: int, until: int) -> bool:
    """Bring a kept resolver up to the stewards' changes of its kind after change-feed entry `since`, up
    to `until` (entries after it are the caller's own, of records it is about to resolve):
    records merged, split or moved between entities, and stewards' decisions made or withdrawn. Only
    for a kind whose records and weights are as the resolver has them (no record ingested, no run
    since it was kept: `hub.submit` checks); False where the changes name a record it does not hold,
    and the resolver must be read again. Reads the touched entities' members and the kind's stewards'
    decisions, not the kind's records: milliseconds where a new read takes 44 s at 1M persons."""
    kind = warm.kind.value
    touched: set[str] = set()
    for entity, other in session.execute(
        select(ChangeEvent.entity_id, ChangeEvent.other_id).where(
            ChangeEvent.kind == kind,
            ChangeEvent.relation.is_(None),
            ChangeEvent.id > since,
            ChangeEvent.id <= until,
        )
    ):
        touched.add(entity)
        if other is not None:
            touched.add(other)  # a merge's survivor, the entity a split took records from
    ids = np.asarray(warm.ids, dtype=np.int64)  # ascending, unless a submission of several came
    sorter = None if bool((ids[1:] > ids[:-1]).all()) else np.argsort(ids, kind="stable")
    found_by = _Finder(ids if sorter is None else ids[sorter], sorter)
    members: dict[str, list[int]] = {}
    names = sorted(touched)
    for start in range(0, len(names), 500):
        for record_id, entity in session.execute(
            select(Membership.record_id, Membership.entity_id).where(
                Membership.entity_id.in_(names[start : start + 500]), Membership.valid_to.is_(None)
            )
        ):
            members.setdefault(entity, []).append(record_id)
    groups: list[list[int]] = []
    for records in members.values():
        at = found_by.indices(records)
        if at is None:
            return False
        groups.append(sorted(at))
    resolver = warm.resolver
    moved = {i for group in groups for i in group}
    for label in {resolver.entity[i] for i in moved}:
        staying = [i for i in resolver.members.pop(label, []) if i not in moved]
        if staying:  # an entity that lost records and is not in the feed: not a change this reads
            return False
    for group in groups:
        label = group[0]
        for i in group:
            resolver.entity[i] = label
        resolver.members[label] = group
    resolver.must_link, resolver.cannot_link = steward_pairs(session, warm.kind, found_by)
    return True


class _Finder(Mapping[int, int]):
    """A resolver's indices by record id (a mapping, without a dict of millions of entries): its ids
    sorted, and where each sorted one stands (None: the ids were sorted already)."""

    def __init__(self, ids: NDArray[np.int64], sorter: NDArray[np.int64] | None) -> None:
        self._ids, self._sorter = ids, sorter

    def __getitem__(self, record: int) -> int:
        found = self.indices([record])
        if found is None:
            raise KeyError(record)
        return found[0]

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids.tolist())

    def __len__(self) -> int:
        return int(self._ids.size)

    def indices(self, records: list[int]) -> list[int] | None:
        """The resolver indices of these record ids, or None if one is not there."""
        ids = self._ids
        if not ids.size:
            return None
        wanted = np.asarray(records, dtype=np.int64)
        at = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
        if not bool((ids[at] == wanted).all()):
            return None
        found: list[int] = (at if self._sorter is None else self._sorter[at]).tolist()
        return found


def _current(session: Session, record_ids: list[int]) -> dict[int, str]:
    """Each record's entity now."""
    found: dict[int, str] = {}
    for start in range(0, len(record_ids), 900):
        chunk = record_ids[start : start + 900]
        found.update(
            session.execute(
                select(Membership.record_id, Membership.entity_id).where(
                    Membership.record_id.in_(chunk), Membership.valid_to.is_(None)
                )
            ).all()
        )
    return found

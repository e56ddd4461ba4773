"""Resolving newly ingested records at once against the stored entities of their kind.

`resolve_records` builds a `Resolver` from the stored records (all but the new ones) with the
weights of the kind's latest batch run, adds the new records one by one, and stores what changed:
memberships and entities of the re-resolved neighbourhoods only, and a judgement for each pair a new
record was scored in (with review items for the uncertain ones). Building the resolver reads every
record of the kind, so a long-running process (the API) keeps one; the command line builds it per
call.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

import numpy as np
import orjson
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
from hub.store.models import ResolutionRun, utcnow

__all__ = ["RealtimeSummary", "build_resolver", "resolve_records"]


@dataclass(frozen=True, slots=True)
class RealtimeSummary:
    records: int
    joined: int
    merged_entities: int
    judgements: int
    review_items: int


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
    session: Session, kind: Kind, record_ids: list[int], *, actor: str = "system"
) -> RealtimeSummary:
    """Resolve these stored records (new or changed) against the rest of their kind; flushes."""
    started = utcnow()
    new = set(record_ids)
    resolver, loaded, run = build_resolver(session, kind, leave_out=new)
    all_ids, table = loaded.record_ids, loaded.table
    order = [i for i, record_id in enumerate(all_ids) if record_id in new]
    ids = [r for r in all_ids if r not in new]  # record id of each resolver index, growing as records come
    current = loaded.current()
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
            actor = ActorType.RULE if how == "rule" else ActorType.MODEL
            decision = Decision.UNSURE if how == "review" else Decision.POSITIVE
            judgement_rows.append(
                (
                    a,
                    b,
                    decision.value,
                    resolver.probability(weight),
                    orjson.dumps({"levels": levels, "weights": weights, "weight": round(weight, 3)}).decode(),
                    actor.value,
                )
            )
    groups: dict[int, list[int]] = {}
    for i in sorted(touched):
        groups.setdefault(resolver.entity[i], []).append(ids[i])
    assign_entities(session, bulk, kind, list(groups.values()), current, stamp)
    # A run of its own, with the weights it used: judgements point to it, and a later `hub resolve`
    # knows these records were resolved.
    this = ResolutionRun(
        kind=kind,
        settings=run.settings,
        actor=actor,
        started_at=started,
        stats={"incremental": True, "parameters_from_run": run.id, "records": len(order)},
    )
    session.add(this)
    session.flush()
    suffix = f":incremental, weights of run {run.id}"
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
    return RealtimeSummary(len(order), joined, merged, len(judgement_rows), len(reviews))

"""Stewards' edits of entities, each one transaction with an audit event, and their undo.

`merge_entities` moves every record of one entity into another: memberships are closed and opened
(never rewritten), the absorbed entity is retired into the survivor (its id keeps resolving), links
that named it are closed and opened again naming the survivor, and a steward's positive judgement
joins a record of each, so that every later resolution keeps them together. The caller states the
version of each entity it saw; if either moved on meanwhile, nothing happens and the answer is a
conflict.

`undo` reverses an edit from its audit event: the records go back, the retired entity is active
again, the links it had are open again and the judgement is withdrawn. It refuses when anything the
edit touched has changed since, so it never undoes someone else's later work. Undo is itself an
audited edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.audit import hold_head, record_event
from hub.errors import ConflictError, InputError, NotFoundError
from hub.store.models import (
    ActorType,
    AuditEvent,
    Decision,
    Entity,
    EntityStatus,
    Judgement,
    Link,
    LinkEvidence,
    LinkRelation,
    Membership,
    utcnow,
)

__all__ = ["Edit", "merge_entities", "undo"]

MERGE = "entity.merge"
UNDO = "entity.undo"


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit left: the entity to show and the audit event that records it."""

    entity_id: str
    event_id: int


def _entity(session: Session, entity_id: str, version: int | None) -> Entity:
    entity = session.get(Entity, entity_id, with_for_update=True)
    if entity is None:
        raise NotFoundError(f"no entity {entity_id}")
    if entity.status != EntityStatus.ACTIVE:
        raise ConflictError(f"entity {entity_id} was merged into {entity.merged_into_id}; edit that one")
    if version is not None and entity.version != version:
        raise ConflictError(
            f"entity {entity_id} is at version {entity.version}, not {version}: someone changed it"
            " meanwhile; reload it and decide again"
        )
    return entity


def _records(session: Session, entity_id: str) -> list[int]:
    return sorted(
        session.scalars(
            select(Membership.record_id).where(
                Membership.entity_id == entity_id, Membership.valid_to.is_(None)
            )
        )
    )


def _move(session: Session, records: Iterable[int], to: str, actor: str, now: Any) -> None:
    records = list(records)
    for membership in session.scalars(
        select(Membership).where(Membership.record_id.in_(records), Membership.valid_to.is_(None))
    ):
        membership.valid_to = now
    session.add_all(Membership(record_id=r, entity_id=to, valid_from=now, actor=actor) for r in records)


def _links_of(session: Session, entity_id: str) -> list[Link]:
    return list(
        session.scalars(
            select(Link)
            .where(Link.valid_to.is_(None), or_(Link.subject_id == entity_id, Link.object_id == entity_id))
            .order_by(Link.id)
        )
    )


def _evidence(session: Session, link_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in link_ids}
    for link_id, record_id in session.execute(
        select(LinkEvidence.link_id, LinkEvidence.record_id).where(LinkEvidence.link_id.in_(link_ids))
    ):
        out[link_id].append(record_id)
    return out


def _open_link(
    session: Session, relation: Any, subject: str, obj: str, records: Iterable[int], now: Any
) -> int:
    """The current link (relation, subject, object), opened if there is none, with `records` added to
    its evidence. Returns its id."""
    link = session.scalars(
        select(Link).where(
            Link.relation == relation,
            Link.subject_id == subject,
            Link.object_id == obj,
            Link.valid_to.is_(None),
        )
    ).first()
    if link is None:
        link = Link(relation=relation, subject_id=subject, object_id=obj, valid_from=now)
        session.add(link)
        session.flush()
    known = set(_evidence(session, [link.id])[link.id])
    session.add_all(LinkEvidence(link_id=link.id, record_id=r) for r in records if r not in known)
    return link.id


def merge_entities(
    session: Session, into: str, into_version: int | None, other: str, other_version: int | None, actor: str,
    note: str | None = None,
) -> Edit:  # fmt: skip
    """Merge `other` into `into` (flushes; the caller commits)."""
    if into == other:
        raise InputError("an entity cannot be merged into itself")
    hold_head(session)
    survivor, absorbed = _entity(session, into, into_version), _entity(session, other, other_version)
    if survivor.kind != absorbed.kind:
        raise InputError(
            f"{into} is a {survivor.kind.value}, {other} a {absorbed.kind.value}: only the same kind merges"
        )
    now = utcnow()
    versions = {"into": survivor.version, "other": absorbed.version}
    kept, moved = _records(session, into), _records(session, other)
    _move(session, moved, into, actor, now)
    absorbed.status, absorbed.merged_into_id = EntityStatus.MERGED, into
    for entity in (survivor, absorbed):
        entity.version += 1
        entity.updated_at = now
    # Links naming the absorbed entity are closed and opened again naming the survivor.
    links = _links_of(session, other)
    evidence = _evidence(session, [link.id for link in links])
    closed = []
    opened = []
    for link in links:
        link.valid_to = now
        subject = into if link.subject_id == other else link.subject_id
        obj = into if link.object_id == other else link.object_id
        closed.append(
            {"relation": link.relation.value, "subject": link.subject_id, "object": link.object_id,
             "records": evidence[link.id]}
        )  # fmt: skip
        session.flush()
        opened.append(_open_link(session, link.relation, subject, obj, evidence[link.id], now))
    judgement = None
    if kept and moved:  # a record of each, joined by the steward: later runs keep them together
        judgement = Judgement(
            kind=survivor.kind,
            record_a_id=min(kept[0], moved[0]),
            record_b_id=max(kept[0], moved[0]),
            decision=Decision.POSITIVE,
            explanation={"steward": "merged", "entities": [into, other]},
            actor_type=ActorType.STEWARD,
            actor=actor,
            note=note,
        )
        session.add(judgement)
    session.flush()
    event = record_event(
        session,
        actor,
        MERGE,
        [into, other],
        before={
            "into": {"version": versions["into"], "records": kept},
            "other": {"version": versions["other"], "records": moved, "status": "active"},
        },
        after={
            "into": {"version": survivor.version, "records": sorted(kept + moved)},
            "other": {"version": absorbed.version, "status": "merged"},
            "links_closed": closed,
            "links_opened": sorted(set(opened)),
            "judgement": judgement.id if judgement is not None else None,
            "note": note,
        },
    )
    return Edit(into, event.id)


def undo(session: Session, event_id: int, actor: str, note: str | None = None) -> Edit:
    """Reverse the edit that audit event `event_id` recorded (flushes; the caller commits)."""
    hold_head(session)
    event = session.get(AuditEvent, event_id)
    if event is None:
        raise NotFoundError(f"no audit event {event_id}")
    if event.action != MERGE:
        raise InputError(f"audit event {event_id} ({event.action}) is not an edit that can be undone")
    if (
        session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == UNDO, AuditEvent.after["undone"].as_integer() == event_id
            )
        )
        is not None
    ):
        raise ConflictError(f"audit event {event_id} was undone already")
    into, other = event.subject_ids
    after = event.after
    survivor = _entity(session, into, after["into"]["version"])
    absorbed = session.get(Entity, other, with_for_update=True)
    if (
        absorbed is None
        or absorbed.version != after["other"]["version"]
        or absorbed.status != EntityStatus.MERGED
    ):
        raise ConflictError(f"entity {other} changed after event {event_id}; it can no longer be undone")
    now = utcnow()
    moved = event.before["other"]["records"]
    _move(session, moved, other, actor, now)
    absorbed.status, absorbed.merged_into_id = EntityStatus.ACTIVE, None
    for entity in (survivor, absorbed):
        entity.version += 1
        entity.updated_at = now
    # The links the merge opened are closed (only evidence it brought goes; what was there before
    # the merge stays), and the links it closed are opened again as they were.
    brought = {
        (link["relation"], into if link["subject"] == other else link["subject"],
         into if link["object"] == other else link["object"]): set(link["records"])
        for link in after["links_closed"]
    }  # fmt: skip
    for link in session.scalars(select(Link).where(Link.id.in_(after["links_opened"]))):
        records = brought.get((link.relation.value, link.subject_id, link.object_id), set())
        evidence = set(_evidence(session, [link.id])[link.id])
        link.valid_to = now
        session.flush()
        if evidence - records:
            _open_link(
                session, link.relation, link.subject_id, link.object_id, sorted(evidence - records), now
            )
    for link in after["links_closed"]:
        relation = LinkRelation(link["relation"])
        _open_link(session, relation, link["subject"], link["object"], link["records"], now)
    if after.get("judgement") is not None:
        judgement = session.get(Judgement, after["judgement"])
        if judgement is not None and judgement.deleted_at is None:
            judgement.deleted_at = now
    session.flush()
    undo_event = record_event(
        session,
        actor,
        UNDO,
        [into, other],
        before={"into": {"version": survivor.version - 1}, "other": {"version": absorbed.version - 1}},
        after={
            "undone": event_id,
            "into": {"version": survivor.version, "records": _records(session, into)},
            "other": {"version": absorbed.version, "records": _records(session, other), "status": "active"},
            "note": note,
        },
    )
    return Edit(other, undo_event.id)

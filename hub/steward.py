"""Stewards' edits of entities, each one transaction with an audit event, and their undo.

- `merge_entities` moves every record of one entity into another and retires it into the survivor
  (its id keeps resolving there).
- `split_entity` moves groups of an entity's records out, each into a new entity.
- `move_records` moves some records of an entity into another existing one.

Memberships are closed and opened, never rewritten. A link is asserted by records (its evidence), so
when records move, the links they assert move with them: the old link is closed and opened again
with the evidence that stays, and the moved evidence opens (or joins) the same link from the new
entity. Links that name a merged-away entity from elsewhere are closed and opened naming the survivor.
Each edit leaves steward judgements that every later resolution honours: positive ones hold what the
steward put together, negative ones keep apart what the steward separated.

The caller states the version of each entity it saw; if one moved on meanwhile nothing happens and
the answer is a conflict. `undo` reverses an edit from its audit event (members, status and links as
they were, its judgements withdrawn) and refuses when anything the edit touched has changed since,
so it never undoes someone else's later work. Undo is itself an audited edit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.audit import record_event
from hub.changes import record_entity_change, record_link_change
from hub.domain import ActorType, ChangeAction, Decision, EntityStatus, Kind, LinkRelation, new_entity_id
from hub.errors import ConflictError, InputError, NotFoundError
from hub.golden import ATTRIBUTES
from hub.normalize.identifiers import parse_date, parse_phone, parse_resident_id, parse_uscc
from hub.privacy import mask_attribute
from hub.review import take_turn
from hub.store.database import json_array_contains
from hub.store.models import AuditEvent, Entity, Judgement, Link, LinkEvidence, Membership, Statement, utcnow

__all__ = ["EDITS", "Edit", "merge_entities", "move_records", "override_value", "split_entity", "undo"]

MERGE, SPLIT, MOVE, UNDO = "entity.merge", "entity.split", "entity.move", "entity.undo"
OVERRIDE = "entity.override"
EDITS = (MERGE, SPLIT, MOVE, OVERRIDE)


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit left: the entity to show and the audit event that records it."""

    entity_id: str
    event_id: int
    created: tuple[str, ...] = ()


class _Changes:
    """The links an edit closed (with their evidence) and opened (with the evidence each had before)."""

    def __init__(self, session: Session, now: Any, actor: str) -> None:
        self.session, self.now, self.actor = session, now, actor
        self.closed: list[dict[str, Any]] = []
        self.opened: list[dict[str, Any]] = []
        self.judgements: list[int] = []

    def close(self, link: Link, evidence: list[int]) -> None:
        """Close `link`, asserted by `evidence`; undo opens it again as it was before the edit.

        A link this edit opened itself (a split's second group leaves the link its first group left
        behind) was, before the edit, what it had then: nothing if the edit made it, else the evidence
        it had. Undo would otherwise open the same link twice, each with part of its evidence.
        """
        link.valid_to = self.now
        record_link_change(self.session, ChangeAction.LINK_CLOSED, link, self.actor, self.now)
        opened = next((o for o in self.opened if o["id"] == link.id), None)
        if opened is not None:
            self.opened.remove(opened)
            evidence = opened["before"]
            if not evidence:
                self.session.flush()
                return
        self.closed.append(
            {
                "relation": link.relation.value,
                "subject": link.subject_id,
                "object": link.object_id,
                "records": evidence,
            }
        )
        self.session.flush()

    def open(self, relation: LinkRelation, subject: str, obj: str, records: Iterable[int]) -> None:
        """The current link (relation, subject, object), opened if there is none, with `records` added
        to its evidence."""
        records = sorted(set(records))
        if not records:
            return
        link = self.session.scalars(
            select(Link).where(
                Link.relation == relation,
                Link.subject_id == subject,
                Link.object_id == obj,
                Link.valid_to.is_(None),
            )
        ).first()
        before: list[int] = []
        if link is None:
            link = Link(relation=relation, subject_id=subject, object_id=obj, valid_from=self.now)
            self.session.add(link)
            self.session.flush()
            record_link_change(self.session, ChangeAction.LINK_OPENED, link, self.actor, self.now)
        else:
            before = _evidence(self.session, [link.id])[link.id]
        self.session.add_all(LinkEvidence(link_id=link.id, record_id=r) for r in records if r not in before)
        if not any(o["id"] == link.id for o in self.opened):
            self.opened.append({"id": link.id, "before": before})
        self.session.flush()

    def judge(self, kind: Kind, a: int, b: int, decision: Decision, actor: str, note: str | None) -> None:
        judgement = Judgement(
            kind=kind,
            record_a_id=min(a, b),
            record_b_id=max(a, b),
            decision=decision,
            explanation={"steward": "edit"},
            actor_type=ActorType.STEWARD,
            actor=actor,
            note=note,
        )
        self.session.add(judgement)
        self.session.flush()
        self.judgements.append(judgement.id)

    def chain(self, kind: Kind, records: Sequence[int], actor: str, note: str | None) -> None:
        """Judge the first of `records` the same as each other one: later runs keep them together."""
        for record in records[1:]:
            self.judge(kind, records[0], record, Decision.POSITIVE, actor, note)

    def as_json(self) -> dict[str, Any]:
        return {"links_closed": self.closed, "links_opened": self.opened, "judgements": self.judgements}


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


def _evidence(session: Session, link_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in link_ids}
    for link_id, record_id in session.execute(
        select(LinkEvidence.link_id, LinkEvidence.record_id).where(LinkEvidence.link_id.in_(link_ids))
    ):
        out[link_id].append(record_id)
    return {k: sorted(v) for k, v in out.items()}


def _links_naming(session: Session, entity_id: str) -> list[Link]:
    return list(
        session.scalars(
            select(Link)
            .where(Link.valid_to.is_(None), or_(Link.subject_id == entity_id, Link.object_id == entity_id))
            .order_by(Link.id)
        )
    )


def _move_members(session: Session, records: Sequence[int], to: str, actor: str, now: Any) -> None:
    for membership in session.scalars(
        select(Membership).where(Membership.record_id.in_(records), Membership.valid_to.is_(None))
    ):
        membership.valid_to = now
    session.add_all(Membership(record_id=r, entity_id=to, valid_from=now, actor=actor) for r in records)


def _transfer(changes: _Changes, records: Sequence[int], source: str, target: str, actor: str) -> None:
    """Move `records` from `source` to `target`, and the links they assert with them."""
    session = changes.session
    _move_members(session, records, target, actor, changes.now)
    moving = set(records)
    links = [link for link in _links_naming(session, source) if link.subject_id == source]
    evidence = _evidence(session, [link.id for link in links])
    for link in links:
        asserted = set(evidence[link.id])
        if not asserted & moving:
            continue
        changes.close(link, evidence[link.id])
        changes.open(link.relation, source, link.object_id, asserted - moving)
        changes.open(link.relation, target, link.object_id, asserted & moving)


def _bump(now: Any, *entities: Entity) -> None:
    for entity in entities:
        entity.version += 1
        entity.updated_at = now


def _ids(records: Iterable[int]) -> list[int]:
    return sorted({int(r) for r in records})


def merge_entities(
    session: Session,
    into: str,
    into_version: int | None,
    other: str,
    other_version: int | None,
    actor: str,
    note: str | None = None,
) -> Edit:
    """Merge `other` into `into` (flushes; the caller commits)."""
    if into == other:
        raise InputError("an entity cannot be merged into itself")
    take_turn(session)
    survivor, absorbed = _entity(session, into, into_version), _entity(session, other, other_version)
    if survivor.kind != absorbed.kind:
        raise InputError(f"{into} is a {survivor.kind.value}, {other} a {absorbed.kind.value}: kinds differ")
    now = utcnow()
    changes = _Changes(session, now, actor)
    versions = {into: survivor.version, other: absorbed.version}
    kept, moved = _records(session, into), _records(session, other)
    _transfer(changes, moved, other, into, actor)
    # What still names the absorbed entity (links to it from elsewhere) names the survivor now.
    remaining = _links_naming(session, other)
    evidence = _evidence(session, [link.id for link in remaining])
    for link in remaining:
        changes.close(link, evidence[link.id])
        subject = into if link.subject_id == other else link.subject_id
        obj = into if link.object_id == other else link.object_id
        changes.open(link.relation, subject, obj, evidence[link.id])
    absorbed.status, absorbed.merged_into_id = EntityStatus.MERGED, into
    _bump(now, survivor, absorbed)
    record_entity_change(session, ChangeAction.CHANGED, survivor, actor, now)
    record_entity_change(session, ChangeAction.MERGED, absorbed, actor, now, other=into)
    # The steward says all these records are one: later runs keep every one of them together.
    changes.chain(survivor.kind, kept + moved, actor, note)
    event = record_event(
        session,
        actor,
        MERGE,
        [into, other],
        before={"versions": versions, "members": {into: kept, other: moved}},
        after={
            "versions": {into: survivor.version, other: absorbed.version},
            "members": {into: _records(session, into), other: []},
            "retired": other,
            "note": note,
            **changes.as_json(),
        },
        at=now,
    )
    return Edit(into, event.id)


def _part(
    session: Session, entity_id: str, version: int | None, records: Iterable[int]
) -> tuple[Entity, list[int], list[int]]:
    entity = _entity(session, entity_id, version)
    members = _records(session, entity_id)
    chosen = _ids(records)
    strangers = sorted(set(chosen) - set(members))
    if not chosen:
        raise InputError("name at least one record to move")
    if strangers:
        raise InputError(f"records {strangers} are not members of {entity_id}")
    if len(chosen) == len(members):
        raise InputError(f"that is every record of {entity_id}; merge the entity instead")
    return entity, members, chosen


def split_entity(
    session: Session,
    entity_id: str,
    version: int | None,
    groups: Sequence[Iterable[int]],
    actor: str,
    note: str | None = None,
    *,
    keep_rest_together: bool = True,
) -> Edit:
    """Split `entity_id`: each group of its records becomes a new entity, the rest stay (flushes).

    Later runs keep each group together and apart from the others and from the rest. With
    `keep_rest_together` (a steward splitting an entity they looked at whole) the records that stay
    are chained too; without it (a review decision about one pair) the rest are left to the model."""
    take_turn(session)
    chosen = [_ids(group) for group in groups]
    if not chosen or any(not group for group in chosen):
        raise InputError("name one or more groups, each of one or more records")
    flat = [r for group in chosen for r in group]
    if len(flat) != len(set(flat)):
        raise InputError("a record can be in one group only")
    entity, members, _ = _part(session, entity_id, version, flat)
    now = utcnow()
    changes = _Changes(session, now, actor)
    before_members: dict[str, list[int]] = {entity_id: members}
    before = {"versions": {entity_id: entity.version}, "members": before_members}
    millis = time.time_ns() // 1_000_000
    created: list[Entity] = []
    for group in chosen:
        new = Entity(
            id=new_entity_id(entity.kind, millis, group[0]),
            kind=entity.kind,
            status=EntityStatus.ACTIVE,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(new)
        session.flush()
        _transfer(changes, group, entity_id, new.id, actor)
        created.append(new)
        before_members[new.id] = []
    _bump(now, entity)
    record_entity_change(session, ChangeAction.CHANGED, entity, actor, now)
    for new in created:
        record_entity_change(session, ChangeAction.SPLIT, new, actor, now, other=entity_id)
    # What held the rest together may have been only the records split off: a steward who split the
    # entity has said the rest are one, so they are chained like a group.
    split_off = set(flat)
    staying = [r for r in members if r not in split_off]
    heads = [group[0] for group in chosen]
    for group in chosen:
        changes.chain(entity.kind, group, actor, note)
    if keep_rest_together:
        changes.chain(entity.kind, staying, actor, note)
    for n, head in enumerate(heads):
        for other in [*heads[n + 1 :], *staying]:
            changes.judge(entity.kind, head, other, Decision.NEGATIVE, actor, note)
    event = record_event(
        session,
        actor,
        SPLIT,
        [entity_id, *(new.id for new in created)],
        before=before,
        after={
            "versions": {entity_id: entity.version, **{new.id: new.version for new in created}},
            "members": {entity_id: staying, **{new.id: _records(session, new.id) for new in created}},
            "source": entity_id,
            "created": [new.id for new in created],
            "note": note,
            **changes.as_json(),
        },
        at=now,
    )
    return Edit(entity_id, event.id, tuple(new.id for new in created))


def move_records(
    session: Session,
    entity_id: str,
    version: int | None,
    records: Iterable[int],
    to: str,
    to_version: int | None,
    actor: str,
    note: str | None = None,
) -> Edit:
    """Move `records` of `entity_id` into the existing entity `to` (flushes)."""
    if to == entity_id:
        raise InputError("the records are in that entity already")
    take_turn(session)
    entity, members, chosen = _part(session, entity_id, version, records)
    target = _entity(session, to, to_version)
    if target.kind != entity.kind:
        raise InputError(f"{entity_id} is a {entity.kind.value}, {to} a {target.kind.value}: kinds differ")
    return _finish_move(session, entity, target, members, chosen, actor, note, utcnow())


def _finish_move(
    session: Session,
    source: Entity,
    target: Entity,
    members: list[int],
    chosen: list[int],
    actor: str,
    note: str | None,
    now: Any,
) -> Edit:
    changes = _Changes(session, now, actor)
    target_members = _records(session, target.id)
    before = {
        "versions": {source.id: source.version, target.id: target.version},
        "members": {source.id: members, target.id: target_members},
    }
    _transfer(changes, chosen, source.id, target.id, actor)
    _bump(now, source, target)
    for changed in (source, target):
        record_entity_change(session, ChangeAction.CHANGED, changed, actor, now)
    moving = set(chosen)
    staying = [r for r in members if r not in moving]
    # Later runs keep the moved records together, with the target's, and apart from those that stay,
    # and keep those that stay together (as a split does: the moved records may have been their bridge).
    changes.chain(source.kind, chosen, actor, note)
    changes.chain(source.kind, staying, actor, note)
    if target_members:
        changes.judge(source.kind, chosen[0], target_members[0], Decision.POSITIVE, actor, note)
    for record in staying:
        changes.judge(source.kind, chosen[0], record, Decision.NEGATIVE, actor, note)
    event = record_event(
        session,
        actor,
        MOVE,
        [source.id, target.id],
        before=before,
        after={
            "versions": {source.id: source.version, target.id: target.version},
            "members": {source.id: staying, target.id: _records(session, target.id)},
            "source": source.id,
            "note": note,
            **changes.as_json(),
        },
        at=now,
    )
    return Edit(target.id, event.id)


def _shown_value(kind: Kind, attribute: str, value: str | None) -> str | None:
    """A value as the audit trail keeps it: personal values masked (the statement holds them whole)."""
    return mask_attribute(kind, attribute, value) if value is not None else None


_IDENTIFIERS: dict[str, Callable[[str], Any]] = {
    "id_number": parse_resident_id,
    "uscc": parse_uscc,
    "phone": parse_phone,
}
_GENDERS = {"男": "男", "女": "女", "m": "男", "f": "女", "male": "男", "female": "女"}


def _checked_value(attribute: str, value: str) -> str:
    """A steward's value as the hub keeps it: an identifier or a date in its canonical form, checked by
    the same normalizers as source values; one that is not valid is refused, naming why (a steward's
    value outranks every source, so an invalid one would win over the valid ones)."""
    if attribute in _IDENTIFIERS:
        parsed = _IDENTIFIERS[attribute](value)
        if not parsed.valid or parsed.value is None:
            raise InputError(f"value: {value.strip()!r} is not a valid {attribute} ({parsed.reason})")
        return str(parsed.value)
    if attribute in ("birth_date", "established_on"):
        day = parse_date(value)
        if day is None:
            raise InputError(f"value: {value.strip()!r} is not a date (e.g. 1985-03-02)")
        return day.isoformat()
    if attribute == "gender":  # kept as the golden value shows it, whichever way it was written
        gender = _GENDERS.get(value.strip().lower())
        if gender is None:
            raise InputError(f"value: {value.strip()!r} is not a gender (男 or 女, M or F)")
        return gender
    return value.strip()


def override_value(
    session: Session,
    entity_id: str,
    version: int | None,
    attribute: str,
    value: str | None,
    actor: str,
    note: str | None = None,
) -> Edit:
    """Set the entity's `attribute` to `value` as a steward's statement, which outranks every source's
    value (the source values stay, and show in lineage); `value` None withdraws the steward's value."""
    take_turn(session)
    entity = _entity(session, entity_id, version)
    if attribute not in ATTRIBUTES[entity.kind]:
        known = ", ".join(sorted(ATTRIBUTES[entity.kind]))
        raise InputError(f"{entity.kind.value} has no field {attribute!r}; its fields are {known}")
    if value is not None and not value.strip():
        raise InputError("value: give a value, or null to withdraw the steward's value")
    if value is not None:
        value = _checked_value(attribute, value)
    now = utcnow()
    current = session.scalars(
        select(Statement).where(
            Statement.entity_id == entity_id,
            Statement.attribute == attribute,
            Statement.retracted_at.is_(None),
        )
    ).all()
    for statement in current:
        statement.retracted_at = now
    made = None
    if value is not None:
        made = Statement(
            entity_id=entity_id, attribute=attribute, value=value.strip(), actor=actor, created_at=now
        )
        session.add(made)
    _bump(now, entity)
    record_entity_change(session, ChangeAction.CHANGED, entity, actor, now)
    session.flush()
    event = record_event(
        session,
        actor,
        OVERRIDE,
        [entity_id],
        before={
            "versions": {entity_id: entity.version - 1},
            "statements": [s.id for s in current],
            "values": [_shown_value(entity.kind, attribute, s.value) for s in current],
        },
        after={
            "versions": {entity_id: entity.version},
            "attribute": attribute,
            "statement": made.id if made is not None else None,
            "value": _shown_value(entity.kind, attribute, made.value) if made is not None else None,
            "source": entity_id,
            "note": note,
        },
        at=now,
    )
    return Edit(entity_id, event.id)


def _undo_override(session: Session, before: dict[str, Any], after: dict[str, Any], now: Any) -> None:
    if after.get("statement") is not None:
        made = session.get(Statement, after["statement"])
        if made is not None and made.retracted_at is None:
            made.retracted_at = now
    for statement_id in before.get("statements", []):
        earlier = session.get(Statement, statement_id)
        if earlier is not None:  # stated again as it was: the retraction stays on record
            session.add(
                Statement(
                    entity_id=earlier.entity_id,
                    attribute=earlier.attribute,
                    value=earlier.value,
                    actor=earlier.actor,
                    created_at=now,
                )
            )


def undo(session: Session, event_id: int, actor: str, note: str | None = None) -> Edit:
    """Reverse the edit that audit event `event_id` recorded (flushes; the caller commits)."""
    take_turn(session)
    event = session.get(AuditEvent, event_id)
    if event is None:
        raise NotFoundError(f"no audit event {event_id}")
    if event.action not in EDITS:
        raise InputError(
            f"audit event {event_id} ({event.action}) is not a steward's edit that can be undone"
        )
    # Undo events name the entities of the edit they undo: only those are read.
    done = session.scalars(
        select(AuditEvent.after).where(
            AuditEvent.action == UNDO,
            json_array_contains(session, AuditEvent.subject_ids, str(event.subject_ids[0])),
        )
    ).all()
    if any(after.get("undone") == event_id for after in done):
        raise ConflictError(f"audit event {event_id} was undone already")
    before, after = event.before, event.after
    entities = {}
    for entity_id, version in after["versions"].items():
        entity = session.get(Entity, entity_id, with_for_update=True)
        if entity is None or entity.version != version:
            raise ConflictError(
                f"entity {entity_id} changed after event {event_id}; it can no longer be undone"
            )
        entities[entity_id] = entity
    now = utcnow()
    if event.action == OVERRIDE:
        _undo_override(session, before, after, now)
    # Records go back where they were.
    for entity_id, records in before.get("members", {}).items():
        present = set(_records(session, entity_id))
        back = [r for r in records if r not in present]
        if back:
            _move_members(session, back, entity_id, actor, now)
    # Links: what the edit opened is closed and opened again with the evidence it had before; what it
    # closed is opened again as it was.
    for opened in after.get("links_opened", []):
        link = session.get(Link, opened["id"])
        if link is not None and link.valid_to is None:
            link.valid_to = now
            session.flush()
            record_link_change(session, ChangeAction.LINK_CLOSED, link, actor, now)
            if opened["before"]:
                _relink(session, link.relation, link.subject_id, link.object_id, opened["before"], actor, now)
    for closed in after.get("links_closed", []):
        _relink(
            session,
            LinkRelation(closed["relation"]),
            closed["subject"],
            closed["object"],
            closed["records"],
            actor,
            now,
        )
    for judgement_id in after.get("judgements", []):
        judgement = session.get(Judgement, judgement_id)
        if judgement is not None and judgement.deleted_at is None:
            judgement.deleted_at = now
    retired = after.get("retired")
    if retired:
        entities[retired].status, entities[retired].merged_into_id = EntityStatus.ACTIVE, None
    for created in after.get("created", []):  # a split's new entities have no records left:
        entities[created].status = EntityStatus.MERGED  # retired into the one they came from
        entities[created].merged_into_id = after["source"]
    _bump(now, *entities.values())
    for entity_id, entity in entities.items():
        if entity_id == retired:  # back from the entity that had absorbed it
            survivor = next(e for e in after["versions"] if e != retired)
            record_entity_change(session, ChangeAction.SPLIT, entity, actor, now, other=survivor)
        elif entity_id in after.get("created", []):
            record_entity_change(session, ChangeAction.MERGED, entity, actor, now, other=after["source"])
        else:
            record_entity_change(session, ChangeAction.CHANGED, entity, actor, now)
    session.flush()
    shown = retired or after["source"]
    undo_event = record_event(
        session,
        actor,
        UNDO,
        list(after["versions"]),
        before={"versions": after["versions"]},
        after={
            "undone": event_id,
            "versions": {e: x.version for e, x in entities.items()},
            "members": {e: _records(session, e) for e in entities},
            "note": note,
        },
        at=now,
    )
    return Edit(shown, undo_event.id)


def _relink(
    session: Session,
    relation: LinkRelation,
    subject: str,
    obj: str,
    records: Iterable[int],
    actor: str,
    now: Any,
) -> None:
    link = Link(relation=relation, subject_id=subject, object_id=obj, valid_from=now)
    session.add(link)
    session.flush()
    record_link_change(session, ChangeAction.LINK_OPENED, link, actor, now)
    session.add_all(LinkEvidence(link_id=link.id, record_id=r) for r in sorted(set(records)))
    session.flush()

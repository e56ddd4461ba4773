"""The stewards' review queue: claim an uncertain pair, decide it, and leave a judgement every later
resolution honours.

A steward claims an item to work on it alone and releases it to hand it back (an admin may release
anyone's claim, e.g. a colleague's on leave); both are audited.

A decision of MATCH or NOT_MATCH is stored as the steward's judgement on the pair (positive or
negative). Batch and incremental resolution read stewards' judgements before anything else: a
positive one joins the two records whatever the model says, a negative one keeps them apart for
good, and a decided pair is never queued again. UNSURE keeps the item in the queue, unclaimed, with
the note for the next steward. Every decision writes an audit event in the same transaction.

This module only records the decision: making it take effect at once on the entities (a merge or a
split, `hub.steward`) is the caller's part, in the same transaction, from `ReviewOutcome.entities`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import hold_head, record_event
from hub.domain import ActorType, Decision, ReviewStatus
from hub.errors import ConflictError, ForbiddenError, NotFoundError
from hub.store.locks import refuse_during_resolution
from hub.store.models import Judgement, Membership, ReviewItem, utcnow

__all__ = ["ReviewOutcome", "claim_item", "decide_item", "release_item", "take_turn"]


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """A decided item, the steward's judgement it made (none for UNSURE), and the pair's two records
    with the entity each belongs to now, record A's first."""

    item: ReviewItem
    judgement: Judgement | None
    records: tuple[int, int]
    entities: tuple[str | None, str | None]


def take_turn(session: Session) -> None:
    """A steward's write takes its turn from the start, so two never cross (the audit chain's head is
    held), and none is made while a batch resolution runs, which would undo it: BUSY then."""
    hold_head(session)
    refuse_during_resolution(session)


def _item(session: Session, item_id: int) -> tuple[ReviewItem, Judgement]:
    take_turn(session)
    item = session.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        raise NotFoundError(f"no review item {item_id}")
    judgement = session.get(Judgement, item.judgement_id)
    if judgement is None:  # the foreign key makes this impossible
        raise NotFoundError(f"review item {item_id} has no judgement")
    return item, judgement


def _members(session: Session, judgement: Judgement) -> dict[int, str]:
    """Each record of the pair → the entity it belongs to now."""
    rows = session.execute(
        select(Membership.record_id, Membership.entity_id).where(
            Membership.record_id.in_([judgement.record_a_id, judgement.record_b_id]),
            Membership.valid_to.is_(None),
        )
    )
    return {record_id: entity_id for record_id, entity_id in rows}


def _entities(session: Session, judgement: Judgement) -> list[str]:
    return sorted(set(_members(session, judgement).values()))


def _decided(item_id: int, item: ReviewItem) -> str:
    """Why a decided item cannot be taken: a steward's decision, or a later run that closed it."""
    if item.decision is None:  # closed by a run: "superseded by resolution run N"
        return f"review item {item_id} was closed already: {item.note or 'superseded'}"
    by = f" by {item.assignee}" if item.assignee else ""
    return f"review item {item_id} was decided already ({_VERDICTS[item.decision]}){by}"


_VERDICTS = {
    Decision.POSITIVE: "MATCH",
    Decision.NEGATIVE: "NOT_MATCH",
    Decision.UNSURE: "UNSURE",
}  # as asked


def claim_item(session: Session, item_id: int, steward: str) -> ReviewItem:
    """Take an open item (claiming one's own again is fine); someone else's or a decided one is a
    conflict. Flushes."""
    item, judgement = _item(session, item_id)
    if item.status == ReviewStatus.DECIDED:
        raise ConflictError(_decided(item_id, item))
    if item.status == ReviewStatus.CLAIMED and item.assignee != steward:
        raise ConflictError(f"review item {item_id} is claimed by {item.assignee}")
    if item.status != ReviewStatus.CLAIMED:
        item.status, item.assignee = ReviewStatus.CLAIMED, steward
        record_event(session, steward, "review.claim", [f"review:{item_id}", *_entities(session, judgement)])
    session.flush()
    return item


def release_item(session: Session, item_id: int, steward: str, *, anyones: bool = False) -> ReviewItem:
    """Hand a claimed item back to the queue, open and unclaimed. One's own claim only, unless `anyones`
    (an admin); an item nobody claimed or a decided one is a conflict. Flushes."""
    item, judgement = _item(session, item_id)
    if item.status != ReviewStatus.CLAIMED:
        raise ConflictError(f"review item {item_id} is {item.status.value}, not claimed: nothing to release")
    if item.assignee != steward and not anyones:
        raise ForbiddenError(
            f"review item {item_id} is claimed by {item.assignee}; only they or an admin may release it"
        )
    before = {"status": item.status.value, "assignee": item.assignee}
    item.status, item.assignee = ReviewStatus.OPEN, None
    session.flush()
    record_event(
        session,
        steward,
        "review.release",
        [f"review:{item_id}", *_entities(session, judgement)],
        before=before,
        after={"status": item.status.value, "assignee": None},
    )
    return item


def decide_item(
    session: Session, item_id: int, steward: str, decision: Decision, note: str | None
) -> ReviewOutcome:
    """Decide an open item or one's own claimed item. Flushes."""
    item, judgement = _item(session, item_id)
    if item.status == ReviewStatus.DECIDED:
        raise ConflictError(_decided(item_id, item))
    if item.status == ReviewStatus.CLAIMED and item.assignee != steward:
        raise ConflictError(f"review item {item_id} is claimed by {item.assignee}")
    members = _members(session, judgement)
    entities = sorted(set(members.values()))
    before = {"status": item.status.value, "assignee": item.assignee}
    made: Judgement | None = None
    if decision == Decision.UNSURE:
        item.status, item.assignee, item.decision = ReviewStatus.OPEN, None, Decision.UNSURE
    else:
        made = Judgement(
            kind=judgement.kind,
            record_a_id=judgement.record_a_id,
            record_b_id=judgement.record_b_id,
            decision=decision,
            score=judgement.score,
            explanation=judgement.explanation,
            actor_type=ActorType.STEWARD,
            actor=steward,
            note=note,
        )
        session.add(made)
        item.status, item.assignee = ReviewStatus.DECIDED, steward
        item.decision, item.decided_at = decision, utcnow()
    item.note = note
    session.flush()
    record_event(
        session,
        steward,
        "review.decide",
        [f"review:{item_id}", *entities],
        before=before,
        after={
            "decision": decision,
            "note": note,
            "records": [judgement.record_a_id, judgement.record_b_id],
            "judgement": made.id if made is not None else None,
        },
    )
    pair = (judgement.record_a_id, judgement.record_b_id)
    return ReviewOutcome(item, made, pair, (members.get(pair[0]), members.get(pair[1])))

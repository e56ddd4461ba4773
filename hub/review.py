"""The stewards' review queue: claim an uncertain pair, decide it, and leave a judgement every later
resolution honours.

A decision of MATCH or NOT_MATCH is stored as the steward's judgement on the pair (positive or
negative). Batch and incremental resolution read stewards' judgements before anything else: a
positive one joins the two records whatever the model says, a negative one keeps them apart for
good, and a decided pair is never queued again. UNSURE keeps the item in the queue, unclaimed, with
the note for the next steward. Every decision writes an audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import hold_head, record_event
from hub.domain import ActorType, Decision, ReviewStatus
from hub.errors import ConflictError, NotFoundError
from hub.store.models import Judgement, Membership, ReviewItem, utcnow

__all__ = ["ReviewOutcome", "claim_item", "decide_item"]


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    item: ReviewItem
    judgement: Judgement | None


def _item(session: Session, item_id: int) -> tuple[ReviewItem, Judgement]:
    hold_head(session)  # steward writes take their turn from the start: two decisions never cross
    item = session.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        raise NotFoundError(f"no review item {item_id}")
    judgement = session.get(Judgement, item.judgement_id)
    if judgement is None:  # the foreign key makes this impossible
        raise NotFoundError(f"review item {item_id} has no judgement")
    return item, judgement


def _entities(session: Session, judgement: Judgement) -> list[str]:
    rows = session.scalars(
        select(Membership.entity_id).where(
            Membership.record_id.in_([judgement.record_a_id, judgement.record_b_id]),
            Membership.valid_to.is_(None),
        )
    )
    return sorted(set(rows))


def claim_item(session: Session, item_id: int, steward: str) -> ReviewItem:
    """Take an open item (claiming one's own again is fine); someone else's or a decided one is a
    conflict. Flushes."""
    item, judgement = _item(session, item_id)
    if item.status == ReviewStatus.DECIDED:
        raise ConflictError(f"review item {item_id} was decided already ({item.decision})")
    if item.status == ReviewStatus.CLAIMED and item.assignee != steward:
        raise ConflictError(f"review item {item_id} is claimed by {item.assignee}")
    if item.status != ReviewStatus.CLAIMED:
        item.status, item.assignee = ReviewStatus.CLAIMED, steward
        record_event(session, steward, "review.claim", [f"review:{item_id}", *_entities(session, judgement)])
    session.flush()
    return item


def decide_item(
    session: Session, item_id: int, steward: str, decision: Decision, note: str | None
) -> ReviewOutcome:
    """Decide an open item or one's own claimed item. Flushes."""
    item, judgement = _item(session, item_id)
    if item.status == ReviewStatus.DECIDED:
        raise ConflictError(f"review item {item_id} was decided already ({item.decision}) by {item.assignee}")
    if item.status == ReviewStatus.CLAIMED and item.assignee != steward:
        raise ConflictError(f"review item {item_id} is claimed by {item.assignee}")
    entities = _entities(session, judgement)
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
    return ReviewOutcome(item, made)

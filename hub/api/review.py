"""The review queue over GraphQL: uncertain pairs with both records, the score and each comparison's
part of it, most uncertain first; stewards claim and decide them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Select, case, func, select

from hub.api.audit import require_role
from hub.api.context import Info
from hub.api.types import (
    DECISION_NAMES,
    EntityKind,
    PageInfo,
    SourceRecord,
    Step,
    explanation_steps,
    offset_after,
    offset_cursor,
    page_size,
    source_record_of,
)
from hub.errors import InputError, NotFoundError
from hub.review import claim_item, decide_item
from hub.store.models import Judgement, ResolutionRun, ReviewItem, ReviewStatus

__all__ = ["READ_ROLES", "WRITE_ROLES", "ReviewDecision", "ReviewItemConnection", "ReviewItemNode"]

READ_ROLES = frozenset({"steward", "auditor", "admin"})
WRITE_ROLES = frozenset({"steward", "admin"})


@strawberry.enum
class ReviewState(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


@strawberry.enum
class ReviewDecision(enum.Enum):
    MATCH = "MATCH"
    NOT_MATCH = "NOT_MATCH"
    UNSURE = "UNSURE"


@strawberry.type(description="A pair resolution was unsure of, waiting for a steward.")
class ReviewItemNode:
    id: strawberry.ID
    kind: EntityKind
    state: ReviewState
    assignee: str | None
    priority: float = strawberry.field(description="Higher first: the closer the score to even odds.")
    score: float | None = strawberry.field(description="The model's match probability.")
    decision: ReviewDecision | None
    note: str | None
    created_at: datetime
    decided_at: datetime | None
    explanation: list[Step]
    record_ids: strawberry.Private[tuple[int, int]]

    @strawberry.field(description="The two records, with their values (personal values masked).")
    async def records(self, info: Info) -> list[SourceRecord]:
        rows = await info.context.loaders.records.load_many(list(self.record_ids))
        return [source_record_of(row) for row in rows if row is not None]


@strawberry.type
class ReviewItemEdge:
    cursor: str
    node: ReviewItemNode


@strawberry.type(description="A page of the review queue; `totalCount` counts all items that match.")
class ReviewItemConnection:
    total_count: int
    edges: list[ReviewItemEdge]
    page_info: PageInfo


def _node(item: ReviewItem, judgement: Judgement, settings: dict[str, Any] | None) -> ReviewItemNode:
    decided = item.decision.value if item.decision is not None else None
    return ReviewItemNode(
        id=strawberry.ID(str(item.id)),
        kind=EntityKind(item.kind.value),
        state=ReviewState(item.status.value),
        assignee=item.assignee,
        priority=item.priority,
        score=judgement.score,
        decision=ReviewDecision(DECISION_NAMES[decided]) if decided else None,
        note=item.note,
        created_at=item.created_at,
        decided_at=item.decided_at,
        explanation=explanation_steps(judgement.explanation, settings),
        record_ids=(judgement.record_a_id, judgement.record_b_id),
    )


def _query(kind: EntityKind | None, state: ReviewState | None, assignee: str | None) -> Select[Any]:
    query = (
        select(ReviewItem, Judgement, ResolutionRun.settings)
        .join(Judgement, Judgement.id == ReviewItem.judgement_id)
        .outerjoin(ResolutionRun, ResolutionRun.id == Judgement.run_id)
    )
    if kind is not None:
        query = query.where(ReviewItem.kind == kind.to_kind())
    if state is not None:
        query = query.where(ReviewItem.status == ReviewStatus(state.value))
    if assignee is not None:
        query = query.where(ReviewItem.assignee == assignee)
    return query


def review_page(
    info: Info,
    kind: EntityKind | None,
    state: ReviewState | None,
    assignee: str | None,
    first: int | None,
    after: str | None,
) -> ReviewItemConnection:
    require_role(info, READ_ROLES, "read the review queue")
    if kind is not None:
        info.context.require_kind(kind.to_kind())
    size, start = page_size(first), offset_after(after)
    session = info.context.session
    query = _query(kind, state, assignee)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    open_first = case((ReviewItem.status == ReviewStatus.DECIDED, 1), else_=0)
    rows = session.execute(
        query.order_by(open_first, ReviewItem.priority.desc(), ReviewItem.id).offset(start).limit(size)
    ).all()
    edges = [
        ReviewItemEdge(cursor=offset_cursor(start + i), node=_node(item, judgement, settings))
        for i, (item, judgement, settings) in enumerate(rows)
    ]
    return ReviewItemConnection(
        total_count=total,
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + size < total, end_cursor=edges[-1].cursor if edges else None
        ),
    )


def steward_of(info: Info) -> str:
    """The calling steward's actor name; FORBIDDEN for roles that may not edit."""
    require_role(info, WRITE_ROLES, "claim or decide review items")
    client = info.context.client
    return f"steward:{client.name}" if client is not None else "steward:local"


def _one(info: Info, item_id: int) -> ReviewItemNode:
    row = info.context.session.execute(_query(None, None, None).where(ReviewItem.id == item_id)).first()
    if row is None:
        raise NotFoundError(f"no review item {item_id}")
    return _node(*row)


def _item_id(value: strawberry.ID) -> int:
    if not str(value).isdigit():
        raise InputError(f"id: {value!r} is not a review item id")
    return int(str(value))


def claim(info: Info, item_id: strawberry.ID) -> ReviewItemNode:
    steward = steward_of(info)
    claim_item(info.context.session, _item_id(item_id), steward)
    return _one(info, _item_id(item_id))


def decide(info: Info, item_id: strawberry.ID, decision: ReviewDecision, note: str | None) -> ReviewItemNode:
    steward = steward_of(info)
    decide_item(info.context.session, _item_id(item_id), steward, decision.value, note)
    return _one(info, _item_id(item_id))

"""The review queue over GraphQL: uncertain pairs with both records, the score and each comparison's
part of it, most uncertain first; stewards claim and decide them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from hub.api.context import Info
from hub.api.pagination import PageInfo, offset_after, offset_cursor, page_size
from hub.api.records import (
    EntityKind,
    SourceRecord,
    Step,
    explanation_steps,
    source_record_of,
)
from hub.api.steward import run_edit, steward_of
from hub.domain import Decision, Kind, ReviewStatus
from hub.errors import InputError, NotFoundError
from hub.review import claim_item, decide_item
from hub.store.models import Judgement, ResolutionRun, ReviewItem

__all__ = ["ReviewDecision", "ReviewItemConnection", "ReviewItemNode"]


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
    return ReviewItemNode(
        id=strawberry.ID(str(item.id)),
        kind=EntityKind(item.kind.value),
        state=ReviewState(item.status.value),
        assignee=item.assignee,
        priority=item.priority,
        score=judgement.score,
        decision=ReviewDecision(item.decision.verdict) if item.decision is not None else None,
        note=item.note,
        created_at=item.created_at,
        decided_at=item.decided_at,
        explanation=explanation_steps(judgement.explanation, settings),
        record_ids=(judgement.record_a_id, judgement.record_b_id),
    )


def _query(
    kinds: frozenset[Kind], state: ReviewState | None = None, assignee: str | None = None
) -> Select[Any]:
    query = (
        select(ReviewItem, Judgement, ResolutionRun.settings)
        .join(Judgement, Judgement.id == ReviewItem.judgement_id)
        .outerjoin(ResolutionRun, ResolutionRun.id == Judgement.run_id)
    )
    if kinds != frozenset(Kind):
        query = query.where(ReviewItem.kind.in_(sorted(kinds, key=lambda k: k.value)))
    if state is not None:
        query = query.where(ReviewItem.status == ReviewStatus(state.value))
    if assignee is not None:
        query = query.where(ReviewItem.assignee == assignee)
    return query


def review_page(
    info: Info,
    kind: EntityKind | None = None,
    state: ReviewState | None = None,
    assignee: str | None = None,
    first: int | None = 100,
    after: str | None = None,
) -> ReviewItemConnection:
    """The `reviewItems` root field."""
    if kind is not None:
        info.context.require_kind(kind.to_kind())
    size, start = page_size(first), offset_after(after)
    session = info.context.session
    query = _query(_kinds(info) if kind is None else frozenset({kind.to_kind()}), state, assignee)
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


def _kinds(info: Info) -> frozenset[Kind]:
    """The kinds the client may see: a steward scoped to addresses reviews address pairs only."""
    client = info.context.client
    return client.kinds if client is not None else frozenset(Kind)


def _one(info: Info, item_id: int) -> ReviewItemNode:
    row = info.context.session.execute(_query(_kinds(info)).where(ReviewItem.id == item_id)).first()
    if row is None:
        raise NotFoundError(f"no review item {item_id}")
    return _node(*row)


def _allowed_item(session: Session, info: Info, item_id: int) -> None:
    """NOT_FOUND for no item, FORBIDDEN for an item of a kind outside the client's scopes."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"no review item {item_id}")
    info.context.require_kind(item.kind)


def _item_id(value: strawberry.ID) -> int:
    if not str(value).isdigit():
        raise InputError(f"id: {value!r} is not a review item id")
    return int(str(value))


async def claim(info: Info, id: strawberry.ID) -> ReviewItemNode:
    """The `claimReviewItem` mutation."""
    steward, number = steward_of(info, "claim review items"), _item_id(id)

    def work(session: Session) -> None:
        _allowed_item(session, info, number)
        claim_item(session, number, steward)

    await run_edit(info, work)
    return _one(info, number)


async def decide(
    info: Info, id: strawberry.ID, decision: ReviewDecision, note: str | None = None
) -> ReviewItemNode:
    """The `decideReviewItem` mutation."""
    steward, number = steward_of(info, "decide review items"), _item_id(id)

    def work(session: Session) -> None:
        _allowed_item(session, info, number)
        decide_item(session, number, steward, Decision.from_verdict(decision.value), note)

    await run_edit(info, work)
    return _one(info, number)

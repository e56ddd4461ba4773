"""The review queue over GraphQL: uncertain pairs with both records, the score and each comparison's
part of it, most uncertain first; stewards claim, release and decide them.

A decision takes effect at once, in the transaction that records it: MATCH merges the two records'
entities when they differ (the larger survives, or on a tie the older), NOT_MATCH splits the second
record out into an entity of its own when the two share one. The audit trail shows the decision, then
the merge or split, which `undo` can reverse like any steward's edit.

The queue pages by keyset cursors: a cursor holds its item's place in the order (decided last, then
priority, then id), not a row number, so deciding items of one page never makes the next skip any.
"""

from __future__ import annotations

import base64
import enum
import math
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from hub.api.context import Info
from hub.api.pagination import is_row_id, page_size
from hub.api.records import (
    EntityKind,
    ReviewDecision,
    SourceRecord,
    Step,
    explanation_steps,
    source_record_of,
)
from hub.api.steward import run_edit, steward_of
from hub.domain import Decision, Kind, ReviewStatus
from hub.errors import InputError, NotFoundError
from hub.review import ReviewOutcome, claim_item, decide_item, release_item
from hub.steward import merge_entities, split_entity
from hub.store.models import (
    Entity,
    Judgement,
    Membership,
    RecordVersion,
    ResolutionRun,
    ReviewItem,
    Source,
)
from hub.store.models import SourceRecord as RecordRow

__all__ = [
    "ReviewDecision",
    "ReviewItemConnection",
    "ReviewItemNode",
    "ScoreBand",
    "claim",
    "decide",
    "release",
    "review_item",
    "review_page",
]


@strawberry.federation.enum(inaccessible=True)
class ReviewState(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


@strawberry.federation.enum(
    inaccessible=True, description="Bands of the model's match probability, as stewards sort their work."
)
class ScoreBand(enum.Enum):
    UNLIKELY = strawberry.enum_value("unlikely", description="0 to under 0.3.")
    DOUBTFUL = strawberry.enum_value("doubtful", description="0.3 to under 0.5.")
    EVEN = strawberry.enum_value("even", description="0.5 to under 0.7.")
    PROBABLE = strawberry.enum_value("probable", description="0.7 to under 0.9.")
    LIKELY = strawberry.enum_value("likely", description="0.9 to 1.")

    @property
    def bounds(self) -> tuple[float, float]:
        return _BOUNDS[self]


_BOUNDS = {
    ScoreBand.UNLIKELY: (0.0, 0.3),
    ScoreBand.DOUBTFUL: (0.3, 0.5),
    ScoreBand.EVEN: (0.5, 0.7),
    ScoreBand.PROBABLE: (0.7, 0.9),
    ScoreBand.LIKELY: (0.9, 1.0),
}


@strawberry.federation.type(
    inaccessible=True,
    description="How many items of the queue (with its other filters) fall in a score band.",
)
class ReviewBandCount:
    band: ScoreBand
    low: float = strawberry.field(description="The band's lowest score (inclusive).")
    high: float = strawberry.field(description="The band's highest score (exclusive, but 1 is in LIKELY).")
    count: int


@strawberry.federation.type(
    inaccessible=True, description="A pair resolution was unsure of, waiting for a steward."
)
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
    prior_weight: float | None = strawberry.field(
        description="Where the explanation starts, in bits: the odds that two random records match."
    )
    match_weight: float | None = strawberry.field(
        description="Where it ends, in bits: the prior plus every comparison's weight."
    )
    held: bool = strawberry.field(
        description="The model may not join this pair however it scores (a level it never joins at)."
    )
    cursor: str = strawberry.field(
        description="The item's place in the queue: pass it as `after` or `before` to page from it."
    )
    record_ids: strawberry.Private[tuple[int, int]]

    @strawberry.field(description="The two records, with their values (personal values masked).")
    async def records(self, info: Info) -> list[SourceRecord]:
        rows = await info.context.loaders.records.load_many(list(self.record_ids))
        return [source_record_of(row) for row in rows if row is not None]


@strawberry.federation.type(inaccessible=True)
class ReviewItemEdge:
    cursor: str
    node: ReviewItemNode


@strawberry.federation.type(
    inaccessible=True, description="Where a page of the review queue sits in the whole."
)
class ReviewPageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool
    start_cursor: str | None


@strawberry.federation.type(
    inaccessible=True, description="A page of the review queue; `totalCount` counts all items that match."
)
class ReviewItemConnection:
    total_count: int
    edges: list[ReviewItemEdge]
    page_info: ReviewPageInfo
    bands: list[ReviewBandCount] = strawberry.field(
        description="The items matching every filter but `band`, counted per score band."
    )


# -- keyset cursors ----------------------------------------------------------------------------------

_Key = tuple[int, float, int]  # decided (1) or not (0), priority, id: the queue's order
_MAX_CURSOR = 96


def _cursor(key: _Key) -> str:
    decided, priority, number = key
    return base64.urlsafe_b64encode(f"r:{decided}:{priority!r}:{number}".encode()).decode()


def _key_of(cursor: str, argument: str) -> _Key:
    """The place a cursor holds; BAD_INPUT for one the queue did not give out."""
    if len(cursor) <= _MAX_CURSOR:
        try:
            prefix, decided, priority, number = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
            value = float(priority)
            if prefix == "r" and decided in ("0", "1") and number.isdigit() and math.isfinite(value):
                return int(decided), value, int(number)
        except ValueError:  # not ASCII, not base64, not UTF-8, not four parts, not a number
            pass
    shown = cursor if len(cursor) <= 40 else f"{cursor[:40]}… ({len(cursor):,} characters)"
    raise InputError(f"{argument}: {shown!r} is not a cursor the review queue gave out; pass a page's cursor")


_DECIDED_LAST = case((ReviewItem.status == ReviewStatus.DECIDED, 1), else_=0)


def _after(key: _Key) -> ColumnElement[bool]:
    decided, priority, number = key
    return or_(
        decided < _DECIDED_LAST,
        and_(
            _DECIDED_LAST == decided,  # noqa: SIM300 (a SQL expression, not a Python comparison)
            or_(
                ReviewItem.priority < priority,
                and_(ReviewItem.priority == priority, ReviewItem.id > number),
            ),
        ),
    )


def _before(key: _Key) -> ColumnElement[bool]:
    decided, priority, number = key
    return or_(
        decided > _DECIDED_LAST,
        and_(
            _DECIDED_LAST == decided,  # noqa: SIM300 (a SQL expression, not a Python comparison)
            or_(
                ReviewItem.priority > priority,
                and_(ReviewItem.priority == priority, ReviewItem.id < number),
            ),
        ),
    )


def _item_key(item: ReviewItem) -> _Key:
    return (1 if item.status == ReviewStatus.DECIDED else 0, item.priority, item.id)


# -- the query ---------------------------------------------------------------------------------------


def _node(item: ReviewItem, judgement: Judgement, settings: dict[str, Any] | None) -> ReviewItemNode:
    explanation = judgement.explanation or {}
    prior = ((settings or {}).get("parameters") or {}).get("prior")
    has_steps = bool(explanation.get("levels")) and settings is not None
    weighed = has_steps and "weight" in explanation
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
        explanation=explanation_steps(explanation, settings),
        prior_weight=round(math.log2(prior / (1 - prior)), 3) if has_steps and prior else None,
        match_weight=round(float(explanation["weight"]), 3) if weighed else None,
        held=bool(explanation.get("held")),
        cursor=_cursor(_item_key(item)),
        record_ids=(judgement.record_a_id, judgement.record_b_id),
    )


def _pair_has(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Either record of the item's pair meets `condition` (on its current version and source)."""
    return (
        select(RecordRow.id)
        .join(Source, Source.id == RecordRow.source_id)
        .join(
            RecordVersion,
            and_(RecordVersion.record_id == RecordRow.id, RecordVersion.version == RecordRow.version),
        )
        .where(RecordRow.id.in_([Judgement.record_a_id, Judgement.record_b_id]), condition)
        .exists()
    )


# Where a record's features name its town (an address record's own, a person's or company's addresses)
# and its grid.
_TOWNS = [
    ("street",),
    ("address", "street"),
    ("registered_address", "street"),
    ("business_address", "street"),
]
_GRIDS = [("grid_code",), ("address", "grid_code")]


def _feature(*path: str) -> ColumnElement[Any]:
    return RecordVersion.features[path].as_string()


def _in_band(score: Any, band: ScoreBand) -> ColumnElement[bool]:
    low, high = band.bounds
    if high >= 1.0:
        return score >= low
    return and_(score >= low, score < high)


def _query(
    kinds: frozenset[Kind],
    states: list[ReviewState] | None = None,
    assignee: str | None = None,
    source: str | None = None,
    town: str | None = None,
    grid: str | None = None,
) -> Select[Any]:
    query = (
        select(ReviewItem, Judgement, ResolutionRun.settings)
        .join(Judgement, Judgement.id == ReviewItem.judgement_id)
        .outerjoin(ResolutionRun, ResolutionRun.id == Judgement.run_id)
    )
    if kinds != frozenset(Kind):
        query = query.where(ReviewItem.kind.in_(sorted(kinds, key=lambda k: k.value)))
    if states:
        query = query.where(ReviewItem.status.in_(sorted({ReviewStatus(s.value) for s in states})))
    if assignee is not None:
        query = query.where(ReviewItem.assignee == assignee)
    if source:
        query = query.where(_pair_has(Source.name == source))
    if town:
        streets = [
            ("street",),
            ("address", "street"),
            ("registered_address", "street"),
            ("business_address", "street"),
        ]
        query = query.where(_pair_has(or_(*(_feature(*path) == town for path in streets))))
    if grid:
        query = query.where(
            _pair_has(or_(_feature("grid_code") == grid, _feature("address", "grid_code") == grid))
        )
    return query


def _band_counts(session: Session, query: Select[Any]) -> list[ReviewBandCount]:
    bands = query.subquery()
    which = case(*((_in_band(bands.c.score, band), band.name) for band in ScoreBand), else_=None)
    counted: dict[str | None, int] = dict(
        session.execute(select(which, func.count()).select_from(bands).group_by(which)).all()
    )
    return [
        ReviewBandCount(band=band, low=band.bounds[0], high=band.bounds[1], count=counted.get(band.name, 0))
        for band in ScoreBand
    ]


def _selected(info: Info) -> set[str] | None:
    """The fields asked of the connection; None when a fragment hides some (then all are made)."""
    names: set[str] = set()
    for selected in info.selected_fields:
        for field in selected.selections:
            name = getattr(field, "name", None)
            if not isinstance(name, str) or not hasattr(field, "selections"):
                return None
            names.add(name)
    return names


def review_page(
    info: Info,
    kind: EntityKind | None = None,
    # Arguments of an inaccessible enum are marked too: composition checks their null defaults as if
    # they named a value of the enum (@theguild/federation-composition).
    state: Annotated[ReviewState | None, strawberry.federation.argument(inaccessible=True)] = None,
    assignee: str | None = None,
    first: int | None = 100,
    after: str | None = None,
    states: Annotated[
        list[ReviewState] | None,
        strawberry.federation.argument(
            inaccessible=True, description="Items in any of these states (with `state`, both must hold)."
        ),
    ] = None,
    band: Annotated[
        ScoreBand | None,
        strawberry.federation.argument(
            inaccessible=True, description="Items whose score falls in this band."
        ),
    ] = None,
    source_name: Annotated[
        str | None,
        strawberry.argument(
            name="source",
            description="Items with a record from this source system (e.g. rental_registry).",
        ),
    ] = None,
    town: Annotated[
        str | None,
        strawberry.argument(
            description="Items with a record whose address lies in this street or town (街道·镇), as"
            " normalized, e.g. 虞山街道."
        ),
    ] = None,
    grid: Annotated[
        str | None,
        strawberry.argument(description="Items with a record whose address lies in this grid (网格 code)."),
    ] = None,
    last: Annotated[
        int | None,
        strawberry.argument(
            description="With `before`: the page of this many items just before that cursor."
        ),
    ] = None,
    before: Annotated[
        str | None, strawberry.argument(description="A cursor: page backwards from it (with `last`).")
    ] = None,
) -> ReviewItemConnection:
    """The `reviewItems` root field."""
    if kind is not None:
        info.context.require_kind(kind.to_kind())
    if before is not None and after is not None:
        raise InputError("after and before: give one of them, not both")
    backwards = before is not None
    size = page_size(last if backwards else first)
    session = info.context.session
    kinds = _kinds(info) if kind is None else frozenset({kind.to_kind()})
    query = _query(kinds, states, assignee, source_name, town, grid)
    if state is not None:
        query = query.where(ReviewItem.status == ReviewStatus(state.value))
    # The counts cost a scan of every matching item each: made only when the operation asks for them
    # (the pair page's next and previous item do not).
    wanted = _selected(info)
    bands = _band_counts(session, query) if wanted is None or "bands" in wanted else []
    if band is not None:
        query = query.where(_in_band(Judgement.score, band))
    total = 0
    if wanted is None or "totalCount" in wanted:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    forward = (_DECIDED_LAST, ReviewItem.priority.desc(), ReviewItem.id)
    if backwards:
        assert before is not None
        query = query.where(_before(_key_of(before, "before")))
        query = query.order_by(_DECIDED_LAST.desc(), ReviewItem.priority, ReviewItem.id.desc())
    else:
        if after is not None:
            query = query.where(_after(_key_of(after, "after")))
        query = query.order_by(*forward)
    rows = list(session.execute(query.limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    edges = [ReviewItemEdge(cursor=node.cursor, node=node) for node in (_node(*row) for row in rows)]
    return ReviewItemConnection(
        total_count=total,
        edges=edges,
        page_info=ReviewPageInfo(
            has_next_page=more if not backwards else True,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=more if backwards else after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
        bands=bands,
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


def review_item(info: Info, id: strawberry.ID) -> ReviewItemNode:
    """The `reviewItem` root field."""
    number = _item_id(id)
    _allowed_item(info.context.session, info, number)
    return _one(info, number)


def _allowed_item(session: Session, info: Info, item_id: int) -> None:
    """NOT_FOUND for no item, FORBIDDEN for an item of a kind outside the client's scopes."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(f"no review item {item_id}")
    info.context.require_kind(item.kind)


def _item_id(value: strawberry.ID) -> int:
    if not is_row_id(str(value)):
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


async def release(info: Info, id: strawberry.ID) -> ReviewItemNode:
    """The `releaseReviewItem` mutation."""
    steward, number = steward_of(info, "release review items"), _item_id(id)
    client = info.context.client
    admin = client is None or client.role == "admin"

    def work(session: Session) -> None:
        _allowed_item(session, info, number)
        release_item(session, number, steward, anyones=admin)

    await run_edit(info, work)
    return _one(info, number)


def _size(session: Session, entity_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.entity_id == entity_id, Membership.valid_to.is_(None))
        )
        or 0
    )


def _survivor(session: Session, left: str, right: str) -> tuple[str, str]:
    """(survivor, absorbed): the entity with more records survives, on a tie the older one, so the id
    most systems already hold keeps serving."""

    def rank(entity_id: str) -> tuple[int, datetime, str]:
        entity = session.get(Entity, entity_id)
        assert entity is not None  # a current membership names an existing entity
        return (-_size(session, entity_id), entity.created_at, entity_id)

    first, second = sorted((left, right), key=rank)
    return first, second


def take_effect(session: Session, outcome: ReviewOutcome, steward: str, note: str | None) -> None:
    """Make a decision hold on the entities now: MATCH merges the pair's two entities when they differ,
    NOT_MATCH splits record B out into an entity of its own when the two share one (the rest of that
    entity left to the model: the steward judged one pair, not the entity). Each is an audited steward
    edit after the decision's own event; UNSURE changes nothing."""
    decision = outcome.item.decision
    (_, record_b), (entity_a, entity_b) = outcome.records, outcome.entities
    if entity_a is None or entity_b is None or outcome.judgement is None:
        return
    if decision == Decision.POSITIVE and entity_a != entity_b:
        survivor, absorbed = _survivor(session, entity_a, entity_b)
        merge_entities(session, survivor, None, absorbed, None, steward, note)
    elif decision == Decision.NEGATIVE and entity_a == entity_b:
        split_entity(session, entity_a, None, [[record_b]], steward, note, keep_rest_together=False)


async def decide(
    info: Info, id: strawberry.ID, decision: ReviewDecision, note: str | None = None
) -> ReviewItemNode:
    """The `decideReviewItem` mutation: the decision, and its merge or split, in one transaction."""
    steward, number = steward_of(info, "decide review items"), _item_id(id)

    def work(session: Session) -> None:
        _allowed_item(session, info, number)
        outcome = decide_item(session, number, steward, Decision.from_verdict(decision.value), note)
        take_effect(session, outcome, steward, note)

    await run_edit(info, work)
    return _one(info, number)

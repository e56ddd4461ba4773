"""GraphQL types of source records and where values came from: records, judgements with their
explanation steps, and each golden value's lineage.

Personal values (ID number, phone, exact birth date) are masked unless the client has `pii:read`, and
each one shown is noted for the access log.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from hub.api.context import HubContext, Info
from hub.api.loaders import MemberRow
from hub.api.permissions import ReadsJudgements
from hub.domain import Kind
from hub.privacy import (
    MASKS,
    PERSONAL_FIELDS,
    api_name,
    field_meaning,
    mask_as,
    mask_features,
    mask_reason,
    personal_attribute,
)
from hub.resolve.settings import explanation_steps as named_steps

__all__ = [
    "EntityKind",
    "FieldFlag",
    "FieldLineage",
    "JudgedBy",
    "RecordJudgement",
    "ReviewDecision",
    "SourceRecord",
    "SourcedValue",
    "Step",
    "explanation_steps",
    "lineage_of",
    "shown_to",
    "shown_value",
    "source_record_of",
]

# kind → personal golden field → its GraphQL name, as the access log names it (from hub/privacy.py)
_PERSONAL = {kind: {name: api_name(name) for name in fields} for kind, fields in PERSONAL_FIELDS.items()}


@strawberry.enum(description="The three kinds of things the hub links.")
class EntityKind(Enum):
    PERSON = "person"
    ADDRESS = "address"
    LEGAL_ENTITY = "legal_entity"

    def to_kind(self) -> Kind:
        return Kind(self.value)


@strawberry.type(description="A field of a source record whose value is malformed, and why.")
class FieldFlag:
    field: str
    raw_reason: strawberry.Private[str]
    entity_id: strawberry.Private[str]

    @strawberry.field(
        description="Why the value was flagged. For a personal field (ID number, phone, birth date) its"
        " digits are masked without `pii:read`: a reason may quote the value's check character or the"
        " birth date it holds, which with the masked value would give the whole number."
    )
    def reason(self, info: Info) -> str:
        if field_meaning(self.field) is None:
            return self.raw_reason
        info.context.note_personal(self.entity_id, "sourceRecord")
        return self.raw_reason if info.context.sees_pii else mask_reason(self.raw_reason)


@strawberry.type(description="One record of a departmental source system and the entity it belongs to now.")
class SourceRecord:
    source: str
    kind: EntityKind
    key: str
    entity_id: strawberry.ID = strawberry.field(description="The golden entity this record belongs to now.")
    version: int = strawberry.field(description="Current version; each change of content adds one.")
    first_seen_at: datetime
    last_seen_at: datetime
    received_at: datetime = strawberry.field(description="When the current version arrived.")
    flags: list[FieldFlag] = strawberry.field(description="Malformed values, kept as evidence and flagged.")
    record_id: strawberry.Private[int]
    raw_features: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The record as the source sent it (current version); without pii:read, every value"
        " under a personal field name (ID number, phone, birth date, in any common spelling) is masked,"
        " at any depth and whatever its type."
    )
    async def payload(self, info: Info) -> JSON:
        payload = await info.context.loaders.payloads.load(self.record_id)
        return _shown_json(info, self.entity_id, payload)

    @strawberry.field(
        description="Normalized values used for matching (current version); personal values masked"
        " like the payload's."
    )
    def features(self, info: Info) -> JSON:
        return _shown_json(info, self.entity_id, self.raw_features)

    @strawberry.federation.field(
        inaccessible=True,
        description="Why this record is where it is: the live judgements on it (the joins that put it"
        " in its entity, pairs kept apart or sent to review, stewards' decisions), newest first.",
        permission_classes=[ReadsJudgements],
    )
    async def judgements(self, info: Info) -> list[RecordJudgement] | None:
        rows = await info.context.loaders.judgements.load(self.record_id)
        runs = sorted({row.run_id for row in rows if row.run_id})
        settings = dict(zip(runs, await info.context.loaders.run_settings.load_many(runs), strict=True))
        return [
            RecordJudgement(
                decision=ReviewDecision(row.decision.verdict),
                by=JudgedBy(row.actor_type.upper()),
                actor=row.actor,
                score=row.score,
                run_id=strawberry.ID(str(row.run_id)) if row.run_id else None,
                note=row.note,
                created_at=row.created_at,
                explanation=explanation_steps(row.explanation, settings.get(row.run_id or 0)),
                other_record_id=row.record_b_id if row.record_a_id == self.record_id else row.record_a_id,
            )
            for row in rows
        ]


@strawberry.federation.type(
    inaccessible=True, description="One comparison's part of a pair's score, in bits."
)
class Step:
    comparison: str
    level: str
    weight: float


@strawberry.federation.enum(inaccessible=True, description="A verdict on a pair of records.")
class ReviewDecision(Enum):
    MATCH = "MATCH"
    NOT_MATCH = "NOT_MATCH"
    UNSURE = "UNSURE"


@strawberry.federation.enum(
    inaccessible=True, description="Who judged a pair: a rule, the model or a steward."
)
class JudgedBy(Enum):
    RULE = "RULE"
    MODEL = "MODEL"
    STEWARD = "STEWARD"


@strawberry.federation.type(
    inaccessible=True, description="A judgement on a pair of records: by a rule, the model or a steward."
)
class RecordJudgement:
    decision: ReviewDecision
    by: JudgedBy
    actor: str = strawberry.field(description="Which rule or model run, or which steward.")
    score: float | None
    run_id: strawberry.ID | None
    note: str | None
    created_at: datetime
    explanation: list[Step]
    other_record_id: strawberry.Private[int]

    @strawberry.field(description="The other record of the pair.")
    async def other(self, info: Info) -> SourceRecord | None:
        row = await info.context.loaders.records.load(self.other_record_id)
        return source_record_of(row) if row is not None else None


def explanation_steps(explanation: dict[str, Any], settings: dict[str, Any] | None) -> list[Step]:
    """The steps of a stored explanation, named from its run's settings."""
    return [
        Step(comparison=name, level=label, weight=round(weight, 3))
        for name, label, weight in named_steps(settings, explanation)
    ]


def _shown_json(info: Info, entity_id: str, value: dict[str, Any]) -> Any:
    masked = mask_features(value)
    if masked != value:
        info.context.note_personal(entity_id, "sourceRecord")
        if info.context.sees_pii:
            return value
    return masked


def source_record_of(member: MemberRow) -> SourceRecord:
    return SourceRecord(
        source=member.source,
        kind=EntityKind(member.kind.value),
        key=member.key,
        entity_id=strawberry.ID(member.entity_id),
        version=member.version,
        first_seen_at=member.first_seen_at,
        last_seen_at=member.last_seen_at,
        received_at=member.received_at,
        flags=[
            FieldFlag(field=name, raw_reason=str(reason), entity_id=member.entity_id)
            for name, reason in sorted(member.flags.items())
        ],
        record_id=member.record_id,
        raw_features=member.features,
    )


@strawberry.type(description="One source's value of a field, and whether it is the golden one.")
class SourcedValue:
    value: str
    chosen: bool
    source: str
    key: str = strawberry.field(description="The record's key in its source.")
    version: int
    received_at: datetime
    trust: int = strawberry.field(description="The source's trust in this field (higher wins).")
    valid: bool = strawberry.field(description="False when the value failed its check (e.g. a check digit).")
    record_id: strawberry.Private[int]
    entity_id: strawberry.Private[str]
    kind: strawberry.Private[Kind]
    attribute: strawberry.Private[str]

    @strawberry.field(
        description="The text as the source sent it (that record version's payload; personal values"
        " masked like the value). A steward's value is its own original."
    )
    async def original(self, info: Info) -> str | None:
        if self.record_id < 0:
            return self.value
        payload = await info.context.loaders.payloads.load(self.record_id)
        raw = payload.get(_ORIGINAL_FIELD.get(self.attribute, self.attribute))
        if raw is None or raw == "":
            return None
        meaning = personal_attribute(self.kind, self.attribute)
        if meaning is not None:
            info.context.note_personal(self.entity_id, _PERSONAL[self.kind][self.attribute])
            if not info.context.sees_pii:
                raw = mask_as(meaning, raw)  # by the field, whatever the type of the source's value
        return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)


# The payload field a golden attribute is read from, where the names differ.
_ORIGINAL_FIELD = {
    "text": "address",
    "legal_form": "name",
    "branch": "name",
    **{
        part: "address"
        for part in (
            "district",
            "street",
            "community",
            "road",
            "number",
            "compound",
            "building",
            "unit",
            "room",
        )
    },
}


@strawberry.type(description="Where a golden value came from: every source value and the rule that chose.")
class FieldLineage:
    field: str
    value: str | None
    rule: str
    values: list[SourcedValue]


def shown_value(info: Info, entity_id: str, kind: Kind, attribute: str, value: str) -> str:
    """A golden or source value of a field as this client may see it; a personal one noted for the log."""
    return shown_to(info.context, entity_id, kind, attribute, value)


def shown_to(context: HubContext, entity_id: str, kind: Kind, attribute: str, value: str) -> str:
    """`shown_value` for the operation of `context`."""
    meaning = personal_attribute(kind, attribute)
    if meaning is None:
        return value
    context.note_personal(entity_id, _PERSONAL[kind][attribute])
    return value if context.sees_pii else MASKS[meaning](value)


async def lineage_of(info: Info, entity_id: str, kind: Kind) -> list[FieldLineage]:
    out = []
    for attribute, golden in sorted((await info.context.loaders.golden(entity_id)).items()):
        values = [
            SourcedValue(
                value=shown_value(info, entity_id, kind, attribute, c.value),
                chosen=c.value == golden.value,
                source=c.source,
                key=c.key,
                version=c.version,
                received_at=c.received_at,
                trust=c.trust,
                valid=c.valid,
                record_id=c.record_id,
                entity_id=entity_id,
                kind=kind,
                attribute=attribute,
            )
            for c in golden.claims
        ]
        out.append(
            FieldLineage(
                field=attribute,
                value=shown_value(info, entity_id, kind, attribute, golden.value),
                rule=golden.rule,
                values=values,
            )
        )
    return out

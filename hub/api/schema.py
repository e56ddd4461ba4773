"""The strawberry federation schema: queries the departmental systems call."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.printer import print_schema

from hub.api.context import Info
from hub.api.extensions import ErrorCodes, UnitOfWork
from hub.api.types import EntityKind, FieldFlag, SourceRecord
from hub.privacy import mask_features
from hub.store.models import Membership, RecordVersion, Source
from hub.store.models import SourceRecord as SourceRecordRow

__all__ = ["schema", "schema_sdl"]


@strawberry.type
class Query:
    @strawberry.field(description="A source record by its source system, kind and key (the crosswalk).")
    def source_record(self, info: Info, source: str, kind: EntityKind, key: str) -> SourceRecord | None:
        row = info.context.session.execute(
            select(
                SourceRecordRow,
                Membership.entity_id,
                RecordVersion.flags,
                RecordVersion.payload,
                RecordVersion.features,
            )
            .join(Source, Source.id == SourceRecordRow.source_id)
            .join(
                Membership,
                (Membership.record_id == SourceRecordRow.id) & Membership.valid_to.is_(None),
            )
            .join(
                RecordVersion,
                (RecordVersion.record_id == SourceRecordRow.id)
                & (RecordVersion.version == SourceRecordRow.version),
            )
            .where(Source.name == source, SourceRecordRow.kind == kind.to_kind(), SourceRecordRow.key == key)
        ).one_or_none()
        if row is None:
            return None
        record, entity_id, flags, payload, features = row
        return SourceRecord(
            source=source,
            kind=kind,
            key=record.key,
            entity_id=strawberry.ID(entity_id),
            version=record.version,
            first_seen_at=record.first_seen_at,
            last_seen_at=record.last_seen_at,
            flags=[FieldFlag(field=name, reason=reason) for name, reason in sorted(flags.items())],
            payload=mask_features(payload),
            features=mask_features(features),
        )


schema = strawberry.federation.Schema(query=Query, extensions=[ErrorCodes, UnitOfWork])


def schema_sdl() -> str:
    """The printed schema, as checked in at `schema.graphql`."""
    return print_schema(schema) + "\n"

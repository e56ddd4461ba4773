"""An entity's history: every change of its members, and every audited edit that named it, oldest
first, each with when, who and what. Read from memberships (closed, never deleted) and the audit
trail, so a merged-away entity's history stays readable. A steward's edit is one change: its event
and the memberships it opened and closed share their instant and actor."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import bindparam, select, text
from strawberry.scalars import JSON

from hub.api.context import Info
from hub.privacy import api_name, field_meaning, mask_as
from hub.store.database import json_array_contains
from hub.store.models import AuditEvent

__all__ = ["EntityChange", "entity_history", "shown_event"]


@strawberry.federation.type(
    inaccessible=True, description="One change of an entity: its members, or an audited edit that named it."
)
class EntityChange:
    version: int = strawberry.field(
        description="The entity's version after the change, as `version` counts it (an event that only"
        " names the entity, such as a review item claimed, leaves it as it was)."
    )
    at: datetime
    actor: str = strawberry.field(description="`ingest`, `resolution`, `steward:NAME`, ...")
    action: str = strawberry.field(
        description="The audited action (`entity.merge`, `review.decide`, ...), with the records the"
        " edit moved; `records.changed` for members that came or went without an audited edit"
        " (ingest, resolution)."
    )
    records_added: list[int] = strawberry.field(description="Source record ids that joined.")
    records_removed: list[int] = strawberry.field(description="Source record ids that left.")
    event_id: strawberry.ID | None = strawberry.field(description="The audit event, when there is one.")
    details: JSON | None = strawberry.field(description="What the audit event recorded after the edit.")


def shown_event(info: Info, subject_ids: Iterable[Any], *parts: Any) -> list[Any]:
    """An audit event's `before` and `after` as a reader sees them: a steward's value of a personal field
    (an override) is masked whatever the reader's scope, as the trail keeps it, and noted for the access
    log as masked on every entity the event names."""
    after = parts[-1] if parts else None
    attribute = after.get("attribute") if isinstance(after, dict) else None
    meaning = field_meaning(attribute) if isinstance(attribute, str) else None
    if meaning is None:
        return list(parts)
    for entity_id in subject_ids:
        info.context.personal.setdefault(str(entity_id), set()).add(f"{api_name(str(attribute))}:masked")
    return [
        {k: mask_as(meaning, v) if k in ("value", "values") else v for k, v in part.items()}
        if isinstance(part, dict)
        else part
        for part in parts
    ]


def _instant(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def entity_history(info: Info, entity_id: str) -> list[EntityChange]:
    session = info.context.session
    changes: dict[tuple[datetime, str], dict[str, Any]] = {}
    rows = session.execute(
        text("SELECT record_id, valid_from, valid_to, actor FROM membership WHERE entity_id = :id"),
        {"id": entity_id},
    ).all()
    # Who closed a membership is whoever opened the record's next one at that instant: one read of
    # every membership of these records.
    opened_by = {
        (record_id, valid_from): actor
        for record_id, valid_from, actor in session.execute(
            text(
                "SELECT record_id, valid_from, actor FROM membership WHERE record_id IN :records"
            ).bindparams(bindparam("records", expanding=True)),
            {"records": sorted({row[0] for row in rows})},
        )
    }

    def change(at: Any, actor: str) -> dict[str, list[int]]:
        return changes.setdefault((_instant(at), actor), {"added": [], "removed": []})

    for record_id, valid_from, valid_to, actor in rows:
        change(valid_from, actor)["added"].append(record_id)
        if valid_to is not None:
            change(valid_to, str(opened_by.get((record_id, valid_to), "unknown")))["removed"].append(
                record_id
            )
    events = session.execute(
        select(AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor, AuditEvent.action, AuditEvent.after)
        .where(json_array_contains(session, AuditEvent.subject_ids, entity_id))
        .order_by(AuditEvent.id)
    )
    out: list[tuple[datetime, str, str, list[int], list[int], int | None, Any]] = []
    for event_id, occurred_at, actor, action, after in events:
        # An edit's event carries the instant of the memberships it opened and closed: one change.
        at = _instant(occurred_at)
        c = changes.pop((at, actor), {"added": [], "removed": []})
        [after] = shown_event(info, [entity_id], after)
        out.append((at, actor, action, sorted(c["added"]), sorted(c["removed"]), event_id, after))
    out += [
        (at, actor, "records.changed", sorted(c["added"]), sorted(c["removed"]), None, None)
        for (at, actor), c in changes.items()
    ]
    out.sort(key=lambda change: (change[0], change[5] or 0))
    # The version after each change, as `Entity.version` counts: records joining or leaving and the
    # stewards' edits move it on; an event that only names the entity (a review item claimed or
    # decided) leaves it where it was.
    versions: list[int] = []
    count = 0
    for _, _, action, added, removed, _, _ in out:
        if action == "records.changed" or action.startswith("entity.") or added or removed:
            count += 1
        versions.append(max(count, 1))
    return [
        EntityChange(
            version=n,
            at=at,
            actor=actor,
            action=action,
            records_added=added,
            records_removed=removed,
            event_id=strawberry.ID(str(event_id)) if event_id is not None else None,
            details=details,
        )
        for n, (at, actor, action, added, removed, event_id, details) in zip(versions, out, strict=True)
    ]

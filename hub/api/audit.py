"""What auditors read: the audit trail of changes and the access log of personal data, filtered and
paged in the order they were written. Only the `auditor` and `admin` roles read them: the root
fields carry `ReadsAuditTrail` and `ReadsAccessLog` (hub/api/permissions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import Select, func, select
from strawberry.scalars import JSON

from hub.api.context import Info
from hub.api.history import shown_event
from hub.api.pagination import PageInfo, id_after, opaque_cursor, page_size
from hub.errors import InputError
from hub.store.database import json_array_contains
from hub.store.models import AccessLog as AccessLogRow
from hub.store.models import AuditEvent as AuditEventRow
from hub.store.models import Client

__all__ = ["access_log_page", "audit_event_page"]


@strawberry.federation.type(
    inaccessible=True,
    description="One change in the audit trail, chained to the one before it by `prevHash`.",
)
class AuditEvent:
    id: strawberry.ID
    occurred_at: datetime
    actor: str = strawberry.field(description="Who: `steward:NAME`, `cli:LOGIN`, `system`, ...")
    action: str = strawberry.field(description="What: `entity.merge`, `client.add`, `resolution.run`, ...")
    subject_ids: list[str] = strawberry.field(description="The entities, clients or runs it changed.")
    before: JSON
    after: JSON
    prev_hash: str
    hash: str


@strawberry.federation.type(
    inaccessible=True, description="A personal identifier an operation looked up or searched by, as a digest."
)
class AccessLookup:
    argument: str = strawberry.field(
        description="`idNumber`, `phone`, `birthDate`; `id_number`, `phone`, ... of a `match` record."
    )
    value: str = strawberry.field(
        description="`hmac-sha256:<hex>` under the access log's key (`sha256:<hex>` without one)."
    )


@strawberry.federation.type(
    inaccessible=True,
    description="An operation that showed personal data of entities to a client, or looked up a personal"
    " identifier.",
)
class AccessLogEntry:
    id: strawberry.ID
    occurred_at: datetime
    client: str | None
    operation: str = strawberry.field(
        description="The operation's text without comments and whitespace, string literals as `…`,"
        " cut to 256 characters."
    )
    operation_hash: str | None = strawberry.field(
        description="SHA-256 (hex) of the operation's full text as sent; null in rows older than it."
    )
    operation_name: str | None
    variables: JSON | None = strawberry.field(
        description="The operation's variables, personal values (ID numbers, phones, birth dates) as digests."
    )
    lookups: list[AccessLookup] = strawberry.field(
        description="Each personal identifier it looked up or searched by, found or not."
    )
    entity_ids: list[str]
    fields: list[str] = strawberry.field(description="`idNumber` whole, `idNumber:masked` masked, ...")
    purpose: str | None = strawberry.field(description="The purpose code the client gave (`X-Purpose`).")


@strawberry.federation.type(inaccessible=True)
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.federation.type(
    inaccessible=True, description="A page of audit events, oldest first; `totalCount` counts all that match."
)
class AuditEventConnection:
    total_count: int
    edges: list[AuditEventEdge]
    page_info: PageInfo


@strawberry.federation.type(inaccessible=True)
class AccessLogEdge:
    cursor: str
    node: AccessLogEntry


@strawberry.federation.type(
    inaccessible=True,
    description="A page of the access log, oldest first; `totalCount` counts all that match.",
)
class AccessLogConnection:
    total_count: int
    edges: list[AccessLogEdge]
    page_info: PageInfo


def _cursor(row_id: int) -> str:
    return opaque_cursor("i", row_id)


def _after_id(after: str | None) -> int:
    return id_after(after, "i")


def _window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InputError(f"since ({since.isoformat()}) is after until ({until.isoformat()})")


def _filtered(
    info: Info,
    query: Select[Any],
    ids: Any,
    occurred_at: Any,
    entity_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    """Rows naming `entity_id` in their JSON array `ids`, written in [since, until)."""
    _window(since, until)
    if entity_id is not None:
        query = query.where(json_array_contains(info.context.session, ids, entity_id))
    if since is not None:
        query = query.where(occurred_at >= since)
    if until is not None:
        query = query.where(occurred_at < until)
    return query


def _page(
    info: Info, query: Select[Any], id_column: Any, first: int | None, after: str | None
) -> tuple[int, list[Any], bool]:
    size = page_size(first)
    session = info.context.session
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(
        session.scalars(query.where(id_column > _after_id(after)).order_by(id_column).limit(size + 1))
    )
    return total, rows[:size], len(rows) > size


def _page_info(cursors: list[str], more: bool, after: str | None) -> PageInfo:
    """A keyset page's place: anything before it when it starts after a cursor."""
    return PageInfo(
        has_next_page=more,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


def audit_event_page(
    info: Info,
    actor: str | None = None,
    action: str | None = None,
    entity_id: strawberry.ID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int | None = 100,
    after: str | None = None,
) -> AuditEventConnection:
    """The `auditEvents` root field."""
    query = select(AuditEventRow)
    if actor is not None:
        query = query.where(AuditEventRow.actor == actor)
    if action is not None:
        query = query.where(AuditEventRow.action == action)
    query = _filtered(
        info, query, AuditEventRow.subject_ids, AuditEventRow.occurred_at, entity_id, since, until
    )
    total, rows, more = _page(info, query, AuditEventRow.id, first, after)
    # A steward's personal value stays masked whatever the reader's scope; its read is logged.
    shown = [shown_event(info, r.subject_ids, r.before, r.after) for r in rows]
    edges = [
        AuditEventEdge(
            cursor=_cursor(r.id),
            node=AuditEvent(
                id=strawberry.ID(str(r.id)),
                occurred_at=r.occurred_at,
                actor=r.actor,
                action=r.action,
                subject_ids=[str(s) for s in r.subject_ids],
                before=before,
                after=after,
                prev_hash=r.prev_hash,
                hash=r.hash,
            ),
        )
        for r, (before, after) in zip(rows, shown, strict=True)
    ]
    return AuditEventConnection(
        total_count=total,
        edges=edges,
        page_info=_page_info([e.cursor for e in edges], more, after),
    )


def access_log_page(
    info: Info,
    client: str | None = None,
    entity_id: strawberry.ID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int | None = 100,
    after: str | None = None,
    purpose: Annotated[
        str | None,
        strawberry.argument(description="Rows of this purpose code (`X-Purpose`), as written: `执法`."),
    ] = None,
) -> AccessLogConnection:
    """The `accessLog` root field."""
    query = select(AccessLogRow)
    if client is not None:
        query = query.where(
            AccessLogRow.client_id.in_(select(Client.id).where(Client.name == client).scalar_subquery())
        )
    if purpose is not None:
        query = query.where(AccessLogRow.purpose == purpose.strip().lower())
    query = _filtered(info, query, AccessLogRow.entity_ids, AccessLogRow.occurred_at, entity_id, since, until)
    total, rows, more = _page(info, query, AccessLogRow.id, first, after)
    wanted = {r.client_id for r in rows if r.client_id}
    names: dict[int, str] = {
        client_id: name
        for client_id, name in info.context.session.execute(
            select(Client.id, Client.name).where(Client.id.in_(wanted))
        )
    }
    edges = [
        AccessLogEdge(
            cursor=_cursor(r.id),
            node=AccessLogEntry(
                id=strawberry.ID(str(r.id)),
                occurred_at=r.occurred_at,
                client=names.get(r.client_id) if r.client_id else None,
                operation=r.operation,
                operation_hash=r.operation_hash,
                operation_name=r.operation_name,
                variables=r.variables,
                lookups=[
                    AccessLookup(argument=str(x["argument"]), value=str(x["value"])) for x in r.lookups or ()
                ],
                entity_ids=[str(e) for e in r.entity_ids],
                fields=[str(f) for f in r.fields],
                purpose=r.purpose,
            ),
        )
        for r in rows
    ]
    return AccessLogConnection(
        total_count=total,
        edges=edges,
        page_info=_page_info([e.cursor for e in edges], more, after),
    )

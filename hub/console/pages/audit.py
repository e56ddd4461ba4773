"""The auditors' pages: the audit trail with the hash chain's state, and the access log; each filtered,
paged and exported as CSV.

Both read through GraphQL (`auditEvents`, `accessLog`), so only the roles that may read them there open
them here, and a steward's personal values stay masked in the trail as they do in the API. The chain's
state is verified on from where this process last verified it (the first view verifies the whole
chain; each later view only the events written since), and an auditor can ask for a whole check again.
"""

from __future__ import annotations

import csv
import io
import threading
import weakref
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, select
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from hub.api.permissions import AUDIT_ROLES
from hub.audit import ChainCheck, verify
from hub.config import get_settings
from hub.console.app import GraphError, Page, page_route
from hub.store.models import AuditEvent

__all__ = ["ROUTES"]

PAGE_SIZE = 50
EXPORT_BATCH = 500
EVENTS = """query AuditTrail($actor: String, $action: String, $entity: ID, $since: DateTime, $until: DateTime,
    $first: Int, $after: String) {
  page: auditEvents(actor: $actor, action: $action, entityId: $entity, since: $since, until: $until,
      first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt actor action subjectIds before after prevHash hash } } } }"""
ACCESSES = """query AccessLog($client: String, $purpose: String, $entity: ID, $since: DateTime,
    $until: DateTime, $first: Int, $after: String) {
  page: accessLog(client: $client, purpose: $purpose, entityId: $entity, since: $since, until: $until,
      first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt client operationName operation entityIds fields purpose
      lookups { argument value } } } } }"""
EVENT_FILTERS = ("actor", "action", "entity")
ACCESS_FILTERS = ("client", "purpose", "entity")
EVENT_COLUMNS = ("id", "occurredAt", "actor", "action", "subjectIds", "before", "after", "prevHash", "hash")
ACCESS_COLUMNS = ("id", "occurredAt", "client", "purpose", "operationName", "entityIds", "fields", "lookups")


class _Chain:
    """The last verification of each database's chain in this process, carried on incrementally.

    Walking a long chain takes seconds, too long for a page: the first view walks it whole, later
    views only the events written since, after checking that the event verified last still has the
    hash it had (a trail rewritten up to it would otherwise go unnoticed). The triggers keep the trail
    append-only; "verify again" walks it whole whenever an auditor wants certainty.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checks: weakref.WeakKeyDictionary[Engine, tuple[ChainCheck, datetime]] = (
            weakref.WeakKeyDictionary()
        )

    def state(self, page: Page, *, again: bool = False) -> tuple[ChainCheck, datetime]:
        """The chain's state and when it was found; a break found once stays (the trail is append-only)."""
        engine = page.console.engine
        with self.lock, page.db() as session:
            last, at = self.checks.get(engine, (None, None)) if not again else (None, None)
            if last is not None and at is not None and not last.ok:
                return last, at
            if last is not None and last.head_id:
                stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == last.head_id))
                last = last if stored == last.head_hash else None
            self.checks[engine] = found = (verify(session, last), datetime.now().astimezone())
            return found


_CHAIN = _Chain()


def _instant(raw: str | None, end: bool = False) -> str | None:
    """A date or instant from a filter form, as GraphQL takes it. A date alone means that day in local
    time, so as the end (`until`, exclusive) it means the next day's start."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise GraphError("BAD_INPUT", f"{raw!r} is not a date (2026-12-01) or an instant") from None
    if len(raw) == 10 and end:
        value += timedelta(days=1)
    if value.tzinfo is None:
        value = value.astimezone()
    return value.isoformat()


def _filters(page: Page, names: tuple[str, ...]) -> dict[str, str]:
    params = page.request.query_params
    return {name: params.get(name, "").strip() for name in (*names, "since", "until")}


def _variables(filters: dict[str, str]) -> dict[str, Any]:
    variables: dict[str, Any] = {k: v or None for k, v in filters.items() if k not in ("since", "until")}
    variables["since"] = _instant(filters.get("since"))
    variables["until"] = _instant(filters.get("until"), end=True)
    return variables


async def _audit(page: Page) -> Response:
    filters = _filters(page, EVENT_FILTERS)
    after = page.request.query_params.get("after") or None
    data = await page.graph(EVENTS, **_variables(filters), first=PAGE_SIZE, after=after)
    chain, checked_at = _CHAIN.state(page)
    return page.render(
        "audit/trail.html",
        filters=filters,
        result=data["page"],
        chain=chain,
        checked_at=checked_at,
        pretty=_pretty,
        when=_when,
        csv=page.url("/audit.csv", **filters),
        next_page=_next_page(page, "/audit", filters, data["page"]),
    )


async def _verify_again(page: Page) -> Response:
    _CHAIN.state(page, again=True)
    return page.redirect("/audit", notice="audit.verified")


async def _access_log(page: Page) -> Response:
    filters = _filters(page, ACCESS_FILTERS)
    after = page.request.query_params.get("after") or None
    data = await page.graph(ACCESSES, **_variables(filters), first=PAGE_SIZE, after=after)
    return page.render(
        "audit/access_log.html",
        filters=filters,
        purposes=get_settings().purposes,
        when=_when,
        result=data["page"],
        csv=page.url("/access-log.csv", **filters),
        next_page=_next_page(page, "/access-log", filters, data["page"]),
    )


def _next_page(page: Page, path: str, filters: dict[str, str], result: dict[str, Any]) -> str | None:
    """The next page's address: the same filters, on after this page's last row (keyset, so rows
    written meanwhile never shift a page)."""
    if not result["pageInfo"]["hasNextPage"]:
        return None
    return page.url(path, **filters, after=result["pageInfo"]["endCursor"])


def _when(instant: str) -> str:
    """An instant as the server's local time to the second, as people read it: 2026-12-05 21:44:03."""
    return datetime.fromisoformat(instant).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() if value else ""


def _cell(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "; ".join(f"{x['argument']}={x['value']}" for x in value)
    if isinstance(value, list):
        return " ".join(str(x) for x in value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def _csv(page: Page, query: str, names: tuple[str, ...], columns: tuple[str, ...], name: str) -> Response:
    """Every row the filters match, as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese),
    fetched and written a batch at a time."""
    variables = _variables(_filters(page, names))

    async def rows() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        yield ("\ufeff" + buffer.getvalue()).encode()
        after = None
        while True:
            data = (await page.graph(query, **variables, first=EXPORT_BATCH, after=after))["page"]
            buffer.seek(0)
            buffer.truncate()
            for edge in data["edges"]:
                writer.writerow([_cell(edge["node"].get(column)) for column in columns])
            yield buffer.getvalue().encode()
            if not data["pageInfo"]["hasNextPage"]:
                return
            after = data["pageInfo"]["endCursor"]

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


async def _audit_csv(page: Page) -> Response:
    return _csv(page, EVENTS, EVENT_FILTERS, EVENT_COLUMNS, "audit-trail")


async def _access_csv(page: Page) -> Response:
    return _csv(page, ACCESSES, ACCESS_FILTERS, ACCESS_COLUMNS, "access-log")


ROUTES: list[BaseRoute] = [
    page_route("/audit", _audit, roles=AUDIT_ROLES),
    page_route("/audit.csv", _audit_csv, roles=AUDIT_ROLES),
    page_route("/audit/verify", _verify_again, methods=("POST",), roles=AUDIT_ROLES),
    page_route("/access-log", _access_log, roles=AUDIT_ROLES),
    page_route("/access-log.csv", _access_csv, roles=AUDIT_ROLES),
]

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
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute

from hub.api.permissions import AUDIT_ROLES
from hub.audit import ChainCheck, verify
from hub.console.app import GraphError, Page, page_route

__all__ = ["ROUTES"]

PAGE_SIZE = 50
EXPORT_BATCH = 500
EVENTS = """query($actor: String, $action: String, $entity: ID, $since: DateTime, $until: DateTime,
    $first: Int, $after: String) {
  page: auditEvents(actor: $actor, action: $action, entityId: $entity, since: $since, until: $until,
      first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt actor action subjectIds before after prevHash hash } } } }"""
ACCESSES = """query($client: String, $entity: ID, $since: DateTime, $until: DateTime, $first: Int,
    $after: String) {
  page: accessLog(client: $client, entityId: $entity, since: $since, until: $until, first: $first,
      after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id occurredAt client operationName operation entityIds fields purpose
      lookups { argument value } } } } }"""
EVENT_COLUMNS = ("id", "occurredAt", "actor", "action", "subjectIds", "before", "after", "prevHash", "hash")
ACCESS_COLUMNS = ("id", "occurredAt", "client", "purpose", "operationName", "entityIds", "fields", "lookups")


class _Chain:
    """The last whole verification of this process, carried on incrementally."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.check: ChainCheck | None = None
        self.at: datetime | None = None

    def state(self, page: Page, *, again: bool = False) -> tuple[ChainCheck, datetime]:
        with self.lock, page.db() as session:
            self.check = verify(session, None if again else self.check)
            self.at = datetime.now().astimezone()
            return self.check, self.at


_CHAIN = _Chain()


def _instant(raw: str | None, end: bool = False) -> str | None:
    """A date or instant from a filter form, as GraphQL takes it (a date alone: that day, local time)."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise GraphError("BAD_INPUT", f"{raw!r} is not a date (2026-12-01) or an instant") from None
    if len(raw) == 10 and end:
        value = value.replace(hour=23, minute=59, second=59)
    if value.tzinfo is None:
        value = value.astimezone()
    return value.isoformat()


def _filters(page: Page, names: tuple[str, ...]) -> dict[str, Any]:
    params = page.request.query_params
    shown = {name: params.get(name, "").strip() for name in (*names, "since", "until")}
    return shown


def _variables(filters: dict[str, str]) -> dict[str, Any]:
    variables: dict[str, Any] = {k: v or None for k, v in filters.items() if k not in ("since", "until")}
    variables["since"] = _instant(filters.get("since"))
    variables["until"] = _instant(filters.get("until"), end=True)
    return variables


async def _audit(page: Page) -> Response:
    filters = _filters(page, ("actor", "action", "entity"))
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
        query=page.request.url.query,
    )


async def _verify_again(page: Page) -> Response:
    _CHAIN.state(page, again=True)
    return page.redirect("/audit", notice="audit.verified")


async def _access_log(page: Page) -> Response:
    filters = _filters(page, ("client", "entity"))
    after = page.request.query_params.get("after") or None
    data = await page.graph(ACCESSES, **_variables(filters), first=PAGE_SIZE, after=after)
    return page.render(
        "audit/access_log.html", filters=filters, result=data["page"], query=page.request.url.query
    )


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
    return _csv(page, EVENTS, ("actor", "action", "entity"), EVENT_COLUMNS, "audit-trail")


async def _access_csv(page: Page) -> Response:
    return _csv(page, ACCESSES, ("client", "entity"), ACCESS_COLUMNS, "access-log")


ROUTES: list[BaseRoute] = [
    page_route("/audit", _audit, roles=AUDIT_ROLES),
    page_route("/audit.csv", _audit_csv, roles=AUDIT_ROLES),
    page_route("/audit/verify", _verify_again, methods=("POST",), roles=AUDIT_ROLES),
    page_route("/access-log", _access_log, roles=AUDIT_ROLES),
    page_route("/access-log.csv", _access_csv, roles=AUDIT_ROLES),
]

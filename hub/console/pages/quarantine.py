"""The quarantine page: the rows ingestion set aside, with the reason, the source, the file, the line
and the raw text, newest first, filtered by source and reason.

The API does not serve the quarantine, so the page reads it itself, under the roles that read what
stands behind entities. A raw text may hold ID numbers and phones: they are masked unless the client
reads personal data whole, and a page that shows any writes a row of the access log.
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.responses import Response
from starlette.routing import BaseRoute

from hub.console.app import Page, page_route
from hub.privacy import mask_free_text
from hub.store.models import IngestRun, Quarantine, Source

__all__ = ["ROUTES"]

PAGE_SIZE = 50


async def _quarantine(page: Page) -> Response:
    params = page.request.query_params
    source, reason = params.get("source", "").strip(), params.get("reason", "").strip()
    released = params.get("released") == "1"  # also the rows a fixed file released
    before = int(params["before"]) if params.get("before", "").isdigit() else None
    query = (
        select(Quarantine, Source.name, IngestRun.file_name)
        .join(Source, Source.id == Quarantine.source_id)
        .join(IngestRun, IngestRun.id == Quarantine.ingest_run_id)
    )
    if not released:
        query = query.where(Quarantine.released_at.is_(None))
    if source:
        query = query.where(Source.name == source)
    if reason:
        query = query.where(Quarantine.reason.contains(reason))
    with page.db() as session:
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        if before is not None:
            query = query.where(Quarantine.id < before)
        rows = session.execute(query.order_by(Quarantine.id.desc()).limit(PAGE_SIZE + 1)).all()
        sources = list(session.scalars(select(Source.name).order_by(Source.name)))
    shown = [
        {
            "id": row.id,
            "kind": row.kind.value,
            "source": name,
            "file": file_name,
            "line": row.line,
            "reason": row.reason,
            "raw": row.raw_text if page.client.sees_pii else mask_free_text(row.raw_text),
            "at": row.created_at,
            "released_at": row.released_at,
        }
        for row, name, file_name in rows[:PAGE_SIZE]
    ]
    if any(mask_free_text(row.raw_text) != row.raw_text for row, _, _ in rows[:PAGE_SIZE]):
        page.log_personal("quarantine", [], ("quarantine.rawText",))  # personal values shown, maybe masked
    return page.render(
        "quarantine/quarantine.html",
        rows=shown,
        total=total,
        sources=sources,
        source=source,
        reason=reason,
        released=released,
        next_before=shown[-1]["id"] if len(rows) > PAGE_SIZE else None,
    )


ROUTES: list[BaseRoute] = [page_route("/quarantine", _quarantine)]

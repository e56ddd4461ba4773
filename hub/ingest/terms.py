"""Filling `search_term` for the records stored before their terms were (migrations call this)."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Connection

from hub.normalize.fields import flatten, search_terms

__all__ = ["backfill_search_terms"]

_BATCH = 20_000


def backfill_search_terms(connection: Connection) -> None:
    """Insert the search terms of every current record version, in batches of records."""
    table = sa.table(
        "search_term",
        sa.column("kind"),
        sa.column("field"),
        sa.column("term"),
        sa.column("record_id"),
        sa.column("version"),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT r.id, r.kind, r.version, v.match, v.features FROM source_record r"
                " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
                " WHERE r.id > :last ORDER BY r.id LIMIT :size"
            ),
            {"last": last, "size": _BATCH},
        ).all()
        if not rows:
            return
        terms = []
        for record_id, kind, version, match, features in rows:
            fields = _loaded(match) if match is not None else flatten(kind, _loaded(features))
            terms += [
                {"kind": kind, "field": f, "term": t, "record_id": record_id, "version": version}
                for f, t in dict.fromkeys(search_terms(kind, fields))
            ]
        if terms:
            connection.execute(table.insert(), terms)
        last = rows[-1][0]


def _loaded(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    loaded: dict[str, Any] = orjson.loads(value) if value else {}
    return loaded

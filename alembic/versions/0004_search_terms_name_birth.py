"""Search terms again: persons are also found by name key with birth date.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:00:00
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_MAX_TERM_LENGTH = 200
_BATCH = 20_000


def _json(value: Any) -> dict[str, Any] | None:
    """A JSON object column's value; None for SQL or JSON null (SQLite keeps the latter as text)."""
    loaded = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded if isinstance(loaded, dict) else None


def upgrade() -> None:
    """Add a `name_birth` term, "name key|birth date", for each current person version with both.

    Read from the stored match fields, or (stored before revision 0002) the features, which name these
    two the same; frozen here like every migration.
    """
    connection = op.get_bind()
    table = sa.table(
        "search_term", sa.column("kind"), sa.column("field"), sa.column("term"), sa.column("record_id"),
        sa.column("version"),
    )  # fmt: skip
    last = 0
    while rows := connection.execute(
        sa.text(
            "SELECT r.id, r.version, v.match, v.features FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " WHERE r.kind = 'person' AND r.id > :last ORDER BY r.id LIMIT :size"
        ),
        {"last": last, "size": _BATCH},
    ).all():
        terms = []
        for record_id, version, match, features in rows:
            fields = _json(match) or _json(features) or {}
            name_key, birth = fields.get("name_key"), fields.get("birth_date")
            if isinstance(name_key, str) and name_key and isinstance(birth, str) and birth:
                term = f"{name_key}|{birth}"[:_MAX_TERM_LENGTH]
                row = {"kind": "person", "field": "name_birth", "term": term, "record_id": record_id}
                terms.append({**row, "version": version})
        if terms:
            connection.execute(table.insert(), terms)
        last = rows[-1][0]


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM search_term WHERE field = 'name_birth'"))

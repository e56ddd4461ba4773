"""Search terms: the keys a record version can be found by, for the API's lookups and searches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_term",
        sa.Column(
            "kind",
            sa.Enum(
                "person", "address", "legal_entity", name="kind", native_enum=False, create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["source_record.id"], name=op.f("fk_search_term_record_id_source_record")
        ),
        sa.PrimaryKeyConstraint("kind", "field", "term", "record_id", "version", name=op.f("pk_search_term")),
    )
    _backfill()


# The fields a record is found by, as of this revision. Frozen here, with how each is read from a
# version's stored match fields or (stored before revision 0002) its features: a migration must do
# the same thing however the application's code changes later.
_FIELDS = {
    "person": ("name_key", "id_any", "phone"),
    "address": ("flat", "room_key", "doorplate"),
    "legal_entity": ("name_core", "uscc_any"),
}
_FROM_FEATURES = {
    "name_key": ("name_key",),
    "id_any": ("id_number",),
    "phone": ("phone",),
    "flat": ("key_flat", "key_road_number"),
    "room_key": ("key_room", "key_road_number"),
    "doorplate": ("doorplate_code",),
    "name_core": ("name_core",),
    "uscc_any": ("uscc",),
}
_MAX_TERM_LENGTH = 200
_BATCH = 20_000


def _json(value: Any) -> dict[str, Any] | None:
    """A JSON object column's value; None for SQL or JSON null (SQLite keeps the latter as text)."""
    loaded = orjson.loads(value) if isinstance(value, str | bytes) else value
    return loaded if isinstance(loaded, dict) else None


def _value(match: dict[str, Any] | None, features: dict[str, Any], field: str) -> Any:
    if match is not None:
        return match.get(field)
    return next((features[name] for name in _FROM_FEATURES[field] if features.get(name)), None)


def _backfill() -> None:
    connection = op.get_bind()
    table = sa.table(
        "search_term", sa.column("kind"), sa.column("field"), sa.column("term"), sa.column("record_id"),
        sa.column("version"),
    )  # fmt: skip
    last = 0
    while rows := connection.execute(
        sa.text(
            "SELECT r.id, r.kind, r.version, v.match, v.features FROM source_record r"
            " JOIN record_version v ON v.record_id = r.id AND v.version = r.version"
            " WHERE r.id > :last ORDER BY r.id LIMIT :size"
        ),
        {"last": last, "size": _BATCH},
    ).all():
        terms = {}
        for record_id, kind, version, match, features in rows:
            stored, parsed = _json(match), _json(features) or {}
            for field in _FIELDS[kind]:
                value = _value(stored, parsed, field)
                if isinstance(value, str) and value:
                    term = value[:_MAX_TERM_LENGTH]
                    row = {"kind": kind, "field": field, "term": term, "record_id": record_id}
                    terms[(kind, field, term, record_id)] = {**row, "version": version}
        if terms:
            connection.execute(table.insert(), list(terms.values()))
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_table("search_term")

"""Search terms: the keys a record version can be found by, for the API's lookups and searches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

from hub.resolve.kinds import flatten, search_terms

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 20_000


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


def _backfill() -> None:
    """Terms of every current version stored before this revision."""
    connection = op.get_bind()
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


def _loaded(value: object) -> dict:  # type: ignore[type-arg]
    if isinstance(value, dict):
        return value
    return orjson.loads(value) if value else {}  # type: ignore[arg-type, no-any-return]


def downgrade() -> None:
    op.drop_table("search_term")

"""Search terms keyed by a small field number: `search_field` names them, `search_term` uses the number.

Every ingested record adds about three search terms, each an insert at a random place of the terms'
index. Keyed by (kind text, field text, term, record, version) that index was the costliest thing
ingestion wrote; keyed by (field number, term, record, version), and on SQLite clustered on that key
(one B-tree instead of a table and its index), the same rows cost less than half as much.
`search_field` keeps the names, so the table still reads with a join.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Frozen here: a field's number never changes; a new search field gets the next number in a migration.
_FIELDS = (
    (1, "person", "id_any"),
    (2, "person", "phone"),
    (3, "person", "name_birth"),
    (4, "person", "name_key"),
    (5, "address", "doorplate"),
    (6, "address", "flat"),
    (7, "address", "room_key"),
    (8, "legal_entity", "uscc_any"),
    (9, "legal_entity", "name_core"),
)


def _kind() -> sa.Enum:
    return sa.Enum(
        "person", "address", "legal_entity", name="kind", native_enum=False, create_constraint=True, length=32
    )


def _set_aside_old_table(old: str) -> None:
    op.rename_table("search_term", old)
    if op.get_bind().dialect.name == "postgresql":  # PostgreSQL names the key's index in the schema
        op.execute(sa.text(f"ALTER INDEX pk_search_term RENAME TO pk_{old}"))


def upgrade() -> None:
    field = op.create_table(
        "search_field",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_field")),
        sa.UniqueConstraint("kind", "field", name=op.f("uq_search_field_kind_field")),
    )
    op.bulk_insert(field, [{"id": i, "kind": kind, "field": name} for i, kind, name in _FIELDS])
    _set_aside_old_table("search_term_by_name")
    op.create_table(
        "search_term",
        sa.Column("field_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["field_id"], ["search_field.id"], name=op.f("fk_search_term_field_id_search_field")),
        sa.ForeignKeyConstraint(
            ["record_id"], ["source_record.id"], name=op.f("fk_search_term_record_id_source_record")
        ),
        sa.PrimaryKeyConstraint("field_id", "term", "record_id", "version", name=op.f("pk_search_term")),
        sqlite_with_rowid=False,
    )
    op.execute(
        sa.text(
            "INSERT INTO search_term (field_id, term, record_id, version)"
            " SELECT f.id, t.term, t.record_id, t.version FROM search_term_by_name t"
            " JOIN search_field f ON f.kind = t.kind AND f.field = t.field"
            " ORDER BY f.id, t.term, t.record_id, t.version"
        )
    )
    op.drop_table("search_term_by_name")


def downgrade() -> None:
    _set_aside_old_table("search_term_by_number")
    op.create_table(
        "search_term",
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["source_record.id"], name=op.f("fk_search_term_record_id_source_record")
        ),
        sa.PrimaryKeyConstraint("kind", "field", "term", "record_id", "version", name=op.f("pk_search_term")),
    )
    op.execute(
        sa.text(
            "INSERT INTO search_term (kind, field, term, record_id, version)"
            " SELECT f.kind, f.field, t.term, t.record_id, t.version FROM search_term_by_number t"
            " JOIN search_field f ON f.id = t.field_id"
        )
    )
    op.drop_table("search_term_by_number")
    op.drop_table("search_field")

"""Search terms without foreign keys: they are an index over record versions, written only by ingestion.

PostgreSQL checks each inserted row's foreign keys with a trigger, and ingestion inserts about three
search terms per record: on the 100k-person frozen-profile city their two checks were a fifth of a
load (35.3 s with them, 27.5 s without). Every term is written by ingestion in the transaction that
wrote its record version, with the record's id and a field number fixed by revision 0009, and
records are never deleted, so the checks could only ever pass. SQLite did not check them during
ingestion either (its bulk session turns foreign keys off).

PostgreSQL drops the two constraints. SQLite cannot drop a constraint in place: the table is built
again, clustered on its key as before, and the terms copied over in key order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 20:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FIELD_KEY = "fk_search_term_field_id_search_field"
_RECORD_KEY = "fk_search_term_record_id_source_record"


def _rebuild_sqlite_table(*, with_keys: bool) -> None:
    """SQLite: the table again, with or without the two foreign keys, holding the same terms."""
    op.rename_table("search_term", "search_term_before")
    keys = (
        [
            sa.ForeignKeyConstraint(["field_id"], ["search_field.id"], name=_FIELD_KEY),
            sa.ForeignKeyConstraint(["record_id"], ["source_record.id"], name=_RECORD_KEY),
        ]
        if with_keys
        else []
    )
    op.create_table(
        "search_term",
        sa.Column("field_id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("record_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *keys,
        sa.PrimaryKeyConstraint("field_id", "term", "record_id", "version", name="pk_search_term"),
        sqlite_with_rowid=False,
    )
    op.execute(
        sa.text(
            "INSERT INTO search_term (field_id, term, record_id, version)"
            " SELECT field_id, term, record_id, version FROM search_term_before"
            " ORDER BY field_id, term, record_id, version"
        )
    )
    op.drop_table("search_term_before")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_table(with_keys=False)
        return
    op.drop_constraint(_FIELD_KEY, "search_term", type_="foreignkey")
    op.drop_constraint(_RECORD_KEY, "search_term", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_table(with_keys=True)
        return
    op.create_foreign_key(_FIELD_KEY, "search_term", "search_field", ["field_id"], ["id"])
    op.create_foreign_key(_RECORD_KEY, "search_term", "source_record", ["record_id"], ["id"])

"""Search terms: the keys a record version can be found by, for the API's lookups and searches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

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


def _backfill() -> None:
    from hub.ingest.terms import backfill_search_terms

    backfill_search_terms(op.get_bind())


def downgrade() -> None:
    op.drop_table("search_term")

"""The change feed: every entity created, changed, merged or split and every link opened or closed,
numbered in commit order, so that a department syncs by asking what changed after the last entry it
saw.

A database that already holds entities starts its feed here: entries before this revision are not
made up after the fact (a department takes the golden records once with `hub export entities`, then
follows the feed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("other_kind", sa.String(length=32), nullable=True),
        sa.Column("other_id", sa.String(length=32), nullable=True),
        sa.Column("relation", sa.String(length=32), nullable=True),
        sa.Column("link_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_event")),
    )


def downgrade() -> None:
    op.drop_table("change_event")

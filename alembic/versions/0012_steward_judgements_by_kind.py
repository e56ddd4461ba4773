"""Stewards' judgements indexed by kind: a kind's newest, and the number withdrawn, are index lookups.

A process keeps each kind's resolver warm between submissions for as long as nothing changed what
it holds (revision 0011). A steward's decision that moves no entity, such as NOT_MATCH on a review
pair already in two entities, writes no change-feed entry, yet the resolver must hold it as a pair
to keep apart: the resolver is compared with the newest steward judgement of its kind and the number
withdrawn too (an undo withdraws one without adding any). The index is partial, so it stays small:
the machine's judgements are nearly all of the table (1.1 million for 1M persons), which a query
without it would read on every submission.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_STEWARDS = sa.text("actor_type = 'steward'")


def upgrade() -> None:
    op.create_index(
        "ix_judgement_steward",
        "judgement",
        ["kind", "id", "deleted_at"],
        sqlite_where=_STEWARDS,
        postgresql_where=_STEWARDS,
    )


def downgrade() -> None:
    op.drop_index("ix_judgement_steward", table_name="judgement")

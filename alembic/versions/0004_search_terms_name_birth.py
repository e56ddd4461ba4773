"""Search terms again: persons are also found by name key with birth date.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from hub.ingest.terms import backfill_search_terms

    op.execute(sa.text("DELETE FROM search_term"))
    backfill_search_terms(op.get_bind())


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM search_term WHERE field = 'name_birth'"))

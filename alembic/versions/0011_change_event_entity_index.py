"""The change feed's entity entries indexed by kind: the newest entry of one kind's entities is an index
lookup.

A process keeps each kind's resolver warm between submissions for as long as nothing changed what
it holds. It used to compare the newest entry of the whole feed, so that an address merged by a
steward, a legal entity submitted by another department or a link opened by the nightly links step
made the next person submission read every person again (seconds at 50k persons, 44 s at 1M). It
now compares the newest entry of its own kind's entities; links are left out, since no kind's
matching reads them (a merge of two addresses moves persons' links to the survivor). Without this
partial index that is a scan of the feed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:59:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


_ENTITIES = sa.text("relation IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_change_event_entity",
        "change_event",
        ["kind", "id"],
        sqlite_where=_ENTITIES,
        postgresql_where=_ENTITIES,
    )


def downgrade() -> None:
    op.drop_index("ix_change_event_entity", table_name="change_event")

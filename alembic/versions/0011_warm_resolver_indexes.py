"""Two small indexes by which a process's warm resolver of a kind knows it is still current.

A process keeps each kind's resolver warm between submissions for as long as nothing changed what
it holds: the kind's records, their entities and its stewards' judgements.

- `ix_change_event_entity`: the change feed's entity entries by kind. The resolver used to be compared
  with the newest entry of the whole feed, so that an address merged by a steward, a legal entity
  submitted by another department or a link opened by the nightly links step made the next person
  submission read every person again (seconds at 50k persons, 44 s at 1M). It is now compared with
  the newest entry of its own kind's entities; links are left out, since no kind's matching reads
  them (a merge of two addresses moves persons' links to the survivor).
- `ix_judgement_steward`: stewards' judgements by kind. A decision that moves no entity (NOT_MATCH on
  a review pair already apart) writes no change-feed entry, yet the resolver must keep the two
  records apart: it is compared with the newest such judgement and the number withdrawn too.

Both are partial, so they stay small: the feed's link entries and the machine's judgements are
most of their tables.

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


_STEWARDS = sa.text("actor_type = 'steward'")


def upgrade() -> None:
    op.create_index(
        "ix_change_event_entity",
        "change_event",
        ["kind", "id"],
        sqlite_where=_ENTITIES,
        postgresql_where=_ENTITIES,
    )
    op.create_index(
        "ix_judgement_steward",
        "judgement",
        ["kind", "id", "deleted_at"],
        sqlite_where=_STEWARDS,
        postgresql_where=_STEWARDS,
    )


def downgrade() -> None:
    op.drop_index("ix_judgement_steward", table_name="judgement")
    op.drop_index("ix_change_event_entity", table_name="change_event")

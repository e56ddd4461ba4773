"""The audit trail holds: one event after each, and no event changed or removed in place.

`prev_hash` becomes unique, so two writers cannot both append after the same event. Triggers refuse
UPDATE and DELETE on `audit_event` on both databases; whoever goes around them (dropping them, or
editing the file) is caught by `hub audit verify`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from hub.audit import append_only_ddl

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_prev_hash"), ["prev_hash"])
    for statement in append_only_ddl(op.get_bind().dialect.name):
        op.execute(sa.text(statement))


def downgrade() -> None:
    from hub.audit import append_only_ddl

    for statement in append_only_ddl(op.get_bind().dialect.name, create=False):
        op.execute(sa.text(statement))
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_prev_hash"), type_="unique")

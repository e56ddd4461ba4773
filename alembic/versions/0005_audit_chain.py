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


# UPDATE and DELETE on audit_event fail, per database (frozen: revision 0006 adds TRUNCATE).
_MESSAGE = "audit_event is append-only"
_CREATE = {
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN RAISE EXCEPTION '{_MESSAGE}'; END $$",
        *(
            f"CREATE TRIGGER audit_event_no_{event} BEFORE {event.upper()} ON audit_event"
            " FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
            for event in ("update", "delete")
        ),
    ],
    "sqlite": [
        f"CREATE TRIGGER audit_event_no_{event} BEFORE {event.upper()} ON audit_event"
        f" BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        for event in ("update", "delete")
    ],
}
_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event",
        "DROP TRIGGER IF EXISTS audit_event_no_delete ON audit_event",
        "DROP FUNCTION IF EXISTS audit_event_append_only()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"],
}


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_prev_hash"), ["prev_hash"])
    for statement in _CREATE[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))


def downgrade() -> None:
    for statement in _DROP[op.get_bind().dialect.name]:
        op.execute(sa.text(statement))
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_prev_hash"), type_="unique")

"""The access log tells what was read and is append-only; TRUNCATE no longer empties either trail.

`access_log` gains `operation_hash` (SHA-256 of the full operation text), `operation_name`,
`variables` and `lookups` (personal values only as digests); rows written before stay, with these
null. Triggers refuse UPDATE and DELETE on `access_log` on both databases, and on PostgreSQL a
statement-level BEFORE TRUNCATE trigger guards `access_log` and `audit_event` (SQLite has no
TRUNCATE).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    from hub.audit import append_only_ddl

    # Plain ADD COLUMN on both databases: a batch rebuild on SQLite would drop the table's triggers.
    op.add_column("access_log", sa.Column("operation_hash", sa.String(length=64), nullable=True))
    op.add_column("access_log", sa.Column("operation_name", sa.String(length=256), nullable=True))
    op.add_column("access_log", sa.Column("variables", _JSON, nullable=True))
    op.add_column("access_log", sa.Column("lookups", _JSON, nullable=True))
    dialect = op.get_bind().dialect.name
    for table in ("audit_event", "access_log"):
        for statement in append_only_ddl(dialect, table):
            op.execute(sa.text(statement))


def downgrade() -> None:
    from hub.audit import append_only_ddl

    dialect = op.get_bind().dialect.name
    for statement in append_only_ddl(dialect, "access_log", create=False):
        op.execute(sa.text(statement))
    if dialect == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event"))
    for column in ("lookups", "variables", "operation_name", "operation_hash"):
        # SQLite ≥ 3.35 drops a column in place (the table has no triggers left to lose).
        op.drop_column("access_log", column)

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


def _guard(dialect: str, table: str) -> list[str]:
    """The statements that make `table` refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE, as of this
    revision. Each trigger is dropped first, so that those revision 0005 made are not doubled."""
    message = f"{table} is append-only"
    if dialect != "postgresql":
        return [
            statement
            for event in ("update", "delete")
            for statement in (
                f"DROP TRIGGER IF EXISTS {table}_no_{event}",
                f"CREATE TRIGGER {table}_no_{event} BEFORE {event.upper()} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{message}'); END",
            )
        ]
    statements = [
        f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS"
        f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
    ]
    for event, each in (("update", "ROW"), ("delete", "ROW"), ("truncate", "STATEMENT")):
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_no_{event} ON {table}",
            f"CREATE TRIGGER {table}_no_{event} BEFORE {event.upper()} ON {table}"
            f" FOR EACH {each} EXECUTE FUNCTION {table}_append_only()",
        ]
    return statements


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: a batch rebuild on SQLite would drop the table's triggers.
    op.add_column("access_log", sa.Column("operation_hash", sa.String(length=64), nullable=True))
    op.add_column("access_log", sa.Column("operation_name", sa.String(length=256), nullable=True))
    op.add_column("access_log", sa.Column("variables", _JSON, nullable=True))
    op.add_column("access_log", sa.Column("lookups", _JSON, nullable=True))
    dialect = op.get_bind().dialect.name
    for table in ("audit_event", "access_log"):
        for statement in _guard(dialect, table):
            op.execute(sa.text(statement))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for event in ("update", "delete", "truncate"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS access_log_no_{event} ON access_log"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS access_log_append_only()"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event"))
    else:
        for event in ("update", "delete"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS access_log_no_{event}"))
    for column in ("lookups", "variables", "operation_name", "operation_hash"):
        # SQLite ≥ 3.35 drops a column in place (the table has no triggers left to lose).
        op.drop_column("access_log", column)

"""Emptying a PostgreSQL test database between tests, shared by the fixtures that reuse one."""

from __future__ import annotations

from sqlalchemy import Engine, text

from hub.store.models import MIGRATION_TABLES, Base


def truncate_all(engine: Engine) -> None:
    """Empty every table of a PostgreSQL test database but the rows the migrations wrote. The
    append-only triggers of the audit trail and the access log refuse TRUNCATE; in replica mode (this
    transaction only, which the tests may take as superuser) ordinary triggers do not fire, so the
    guard stays for every other connection."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name not in MIGRATION_TABLES)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

"""Exports as they come: a source's column mappings, how each run read its file, released quarantine.

`source_mapping` keeps every version of a source's column mapping (a TOML text); `ingest_run`
records the encoding it read the file in, whether it was detected, and the mapping version it
applied; `quarantine` rows get `released_at` and `released_by_run_id`, set when the same file was
ingested again without the row's fault (rows are kept as evidence, never deleted).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_mapping",
        sa.Column("id", _ID, nullable=False),
        sa.Column("source_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(length=512), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], name=op.f("fk_source_mapping_source_id_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_mapping")),
        sa.UniqueConstraint("source_id", "version", name=op.f("uq_source_mapping_source_id_version")),
    )
    # Plain ADD COLUMN on both databases: nullable columns, no table rebuild.
    op.add_column("ingest_run", sa.Column("encoding", sa.String(length=32), nullable=True))
    op.add_column("ingest_run", sa.Column("encoding_detected", sa.Boolean(), nullable=True))
    op.add_column("ingest_run", sa.Column("mapping_version", sa.Integer(), nullable=True))
    op.add_column("quarantine", sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("quarantine", sa.Column("released_by_run_id", _ID, nullable=True))


def downgrade() -> None:
    for column in ("released_by_run_id", "released_at"):
        op.drop_column("quarantine", column)
    for column in ("mapping_version", "encoding_detected", "encoding"):
        op.drop_column("ingest_run", column)
    op.drop_table("source_mapping")

"""Initial schema: sources, versioned records, quarantine, entities, judgements, links, audit.

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 04:57:38.797085
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_event_hash'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('client',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client')),
    sa.UniqueConstraint('name', name=op.f('uq_client_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_client_token_hash'))
    )
    op.create_table('entity',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('active', 'merged', name='entitystatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('merged_into_id', sa.String(length=32), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merged_into_id'], ['entity.id'], name=op.f('fk_entity_merged_into_id_entity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity')),
    sqlite_with_rowid=False
    )
    op.create_table('resolution_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('stats', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolution_run'))
    )
    op.create_table('source',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('trust', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source')),
    sa.UniqueConstraint('name', name=op.f('uq_source_name'))
    )
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('operation', sa.String(length=256), nullable=False),
    sa.Column('entity_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('purpose', sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client.id'], name=op.f('fk_access_log_client_id_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('ingest_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('file_name', sa.String(length=512), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('new', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_ingest_run_source_id_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_run'))
    )
    op.create_table('link',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('relation', sa.Enum('lives_at', 'household_registered_at', 'employed_by', 'legal_representative', 'registered_at', 'operates_at', name='linkrelation', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['object_id'], ['entity.id'], name=op.f('fk_link_object_id_entity')),
    sa.ForeignKeyConstraint(['subject_id'], ['entity.id'], name=op.f('fk_link_subject_id_entity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link'))
    )
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.create_index('ix_link_object', ['object_id', 'relation'], unique=False)
        batch_op.create_index('ix_link_subject', ['subject_id', 'relation'], unique=False)

    op.create_table('source_record',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('key', sa.String(length=256), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['last_run_id'], ['ingest_run.id'], name=op.f('fk_source_record_last_run_id_ingest_run')),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_source_record_source_id_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_record')),
    sa.UniqueConstraint('source_id', 'kind', 'key', name=op.f('uq_source_record_source_id_kind_key'))
    )
    op.create_table('judgement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('record_a_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_b_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('decision', sa.Enum('positive', 'negative', 'unsure', name='decision', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('explanation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actor_type', sa.Enum('rule', 'model', 'steward', 'system', name='actortype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['record_a_id'], ['source_record.id'], name=op.f('fk_judgement_record_a_id_source_record')),
    sa.ForeignKeyConstraint(['record_b_id'], ['source_record.id'], name=op.f('fk_judgement_record_b_id_source_record')),
    sa.ForeignKeyConstraint(['run_id'], ['resolution_run.id'], name=op.f('fk_judgement_run_id_resolution_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judgement'))
    )
    with op.batch_alter_table('judgement', schema=None) as batch_op:
        batch_op.create_index('ix_judgement_pair', ['record_a_id', 'record_b_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_judgement_record_b_id'), ['record_b_id'], unique=False)

    op.create_table('link_evidence',
    sa.Column('link_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['link.id'], name=op.f('fk_link_evidence_link_id_link')),
    sa.ForeignKeyConstraint(['record_id'], ['source_record.id'], name=op.f('fk_link_evidence_record_id_source_record')),
    sa.PrimaryKeyConstraint('link_id', 'record_id', name=op.f('pk_link_evidence'))
    )
    op.create_table('membership',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity_id', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['entity.id'], name=op.f('fk_membership_entity_id_entity')),
    sa.ForeignKeyConstraint(['record_id'], ['source_record.id'], name=op.f('fk_membership_record_id_source_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index('ix_membership_entity_current', ['entity_id', 'valid_to'], unique=False)
        batch_op.create_index('ix_membership_record_current', ['record_id', 'valid_to'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ingest_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw_text', sa.Text(), nullable=False),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ingest_run_id'], ['ingest_run.id'], name=op.f('fk_quarantine_ingest_run_id_ingest_run')),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_quarantine_source_id_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_quarantine_row', ['source_id', 'kind', 'row_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_ingest_run_id'), ['ingest_run_id'], unique=False)

    op.create_table('record_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ingest_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ingest_run_id'], ['ingest_run.id'], name=op.f('fk_record_version_ingest_run_id_ingest_run')),
    sa.ForeignKeyConstraint(['record_id'], ['source_record.id'], name=op.f('fk_record_version_record_id_source_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_version')),
    sa.UniqueConstraint('record_id', 'version', name=op.f('uq_record_version_record_id_version'))
    )
    op.create_table('review_item',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('judgement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('person', 'address', 'legal_entity', name='kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('status', sa.Enum('open', 'claimed', 'decided', name='reviewstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('decision', sa.Enum('positive', 'negative', 'unsure', name='decision', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['judgement_id'], ['judgement.id'], name=op.f('fk_review_item_judgement_id_judgement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_item'))
    )
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_item_judgement_id'), ['judgement_id'], unique=False)

    op.create_table('statement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('record_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('entity_id', sa.String(length=32), nullable=True),
    sa.Column('attribute', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('normalized', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retracted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['entity_id'], ['entity.id'], name=op.f('fk_statement_entity_id_entity')),
    sa.ForeignKeyConstraint(['record_version_id'], ['record_version.id'], name=op.f('fk_statement_record_version_id_record_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement'))
    )
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_record_version_id'), ['record_version_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statement_record_version_id'))
        batch_op.drop_index(batch_op.f('ix_statement_entity_id'))

    op.drop_table('statement')
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_item_judgement_id'))

    op.drop_table('review_item')
    op.drop_table('record_version')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_ingest_run_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index('ix_membership_record_current')
        batch_op.drop_index('ix_membership_entity_current')

    op.drop_table('membership')
    op.drop_table('link_evidence')
    with op.batch_alter_table('judgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judgement_record_b_id'))
        batch_op.drop_index('ix_judgement_pair')

    op.drop_table('judgement')
    op.drop_table('source_record')
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.drop_index('ix_link_subject')
        batch_op.drop_index('ix_link_object')

    op.drop_table('link')
    op.drop_table('ingest_run')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_access_log_client_id'))

    op.drop_table('access_log')
    op.drop_table('source')
    op.drop_table('resolution_run')
    op.drop_table('entity')
    op.drop_table('client')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_audit_event_actor'))

    op.drop_table('audit_event')
    

"""signals: raw payloads, bitemporal case counts, livestream versions, promotions, calendars

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signal_payload',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_payload'))
    )
    with op.batch_alter_table('signal_payload', schema=None) as batch_op:
        batch_op.create_index('ix_signal_payload_source_sha256', ['source', 'sha256'], unique=False)

    op.create_table('calendar_event',
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('region_key', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_calendar_event_batch_id_ingest_batch')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_calendar_event_region_id_region')),
    sa.PrimaryKeyConstraint('source', 'region_key', 'day', 'name', name=op.f('pk_calendar_event'))
    )
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_event_batch_id'), ['batch_id'], unique=False)

    op.create_table('case_correction',
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('source_region', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=True),
    sa.Column('amount', sa.Double(), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_case_correction_batch_id_ingest_batch')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_case_correction_region_id_region')),
    sa.PrimaryKeyConstraint('source', 'source_region', 'day', 'known_at', name=op.f('pk_case_correction'))
    )
    with op.batch_alter_table('case_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_correction_batch_id'), ['batch_id'], unique=False)

    op.create_table('case_count',
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('source_region', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=True),
    sa.Column('new_cases', sa.Double(), nullable=False),
    sa.Column('cumulative', sa.Double(), nullable=True),
    sa.Column('new_cases_per_100k', sa.Double(), nullable=True),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('new_cases >= 0', name=op.f('ck_case_count_new_cases_non_negative')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_case_count_batch_id_ingest_batch')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_case_count_region_id_region')),
    sa.PrimaryKeyConstraint('source', 'source_region', 'day', 'known_at', name=op.f('pk_case_count'))
    )
    with op.batch_alter_table('case_count', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_count_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_count_region_id'), ['region_id'], unique=False)

    op.create_table('livestream_event',
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('host', sa.String(length=256), nullable=False),
    sa.Column('platform', sa.String(length=128), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('utc_offset', sa.String(length=64), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('skus', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=True),
    sa.Column('regions', sa.JSON(), nullable=True),
    sa.Column('expected_viewers', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'cancelled', 'done')", name=op.f('ck_livestream_event_status_known')),
    sa.CheckConstraint('end_at > start_at', name=op.f('ck_livestream_event_ends_after_start')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_livestream_event_batch_id_ingest_batch')),
    sa.PrimaryKeyConstraint('source', 'event_id', 'announced_at', name=op.f('pk_livestream_event'))
    )
    with op.batch_alter_table('livestream_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_livestream_event_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_livestream_event_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_livestream_event_local_day'), ['local_day'], unique=False)

    op.create_table('promotion',
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('promo_id', sa.String(length=128), nullable=False),
    sa.Column('known_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=True),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('end_day', sa.Date(), nullable=False),
    sa.Column('discount', sa.Double(), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('end_day >= start_day', name=op.f('ck_promotion_ends_after_start')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_promotion_batch_id_ingest_batch')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_promotion_region_id_region')),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_promotion_sku_id_sku')),
    sa.PrimaryKeyConstraint('source', 'promo_id', 'known_at', name=op.f('pk_promotion'))
    )
    with op.batch_alter_table('promotion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotion_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotion_sku_id'), ['sku_id'], unique=False)

    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_ingest_batch_payload_id'), ['payload_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_ingest_batch_payload_id_signal_payload'), 'signal_payload', ['payload_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ingest_batch_payload_id_signal_payload'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ingest_batch_payload_id'))
        batch_op.drop_column('payload_id')

    with op.batch_alter_table('promotion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promotion_sku_id'))
        batch_op.drop_index(batch_op.f('ix_promotion_batch_id'))

    op.drop_table('promotion')
    with op.batch_alter_table('livestream_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_livestream_event_local_day'))
        batch_op.drop_index(batch_op.f('ix_livestream_event_host'))
        batch_op.drop_index(batch_op.f('ix_livestream_event_batch_id'))

    op.drop_table('livestream_event')
    with op.batch_alter_table('case_count', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_count_region_id'))
        batch_op.drop_index(batch_op.f('ix_case_count_batch_id'))

    op.drop_table('case_count')
    with op.batch_alter_table('case_correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_correction_batch_id'))

    op.drop_table('case_correction')
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_event_batch_id'))

    op.drop_table('calendar_event')
    with op.batch_alter_table('signal_payload', schema=None) as batch_op:
        batch_op.drop_index('ix_signal_payload_source_sha256')

    op.drop_table('signal_payload')

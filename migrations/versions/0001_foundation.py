"""foundation: sku, region, sales, ingest batches, rejected rows

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ingest_batch',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_accepted', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('rows_inserted', sa.Integer(), nullable=False),
    sa.Column('rows_updated', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.CheckConstraint("status IN ('succeeded', 'partial')", name=op.f('ck_ingest_batch_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_batch'))
    )
    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_batch_kind_sha256', ['kind', 'sha256'], unique=False)

    op.create_table('region',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('parent_id', sa.String(length=128), nullable=True),
    sa.Column('population', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name=op.f('ck_region_not_own_parent')),
    sa.CheckConstraint('population IS NULL OR population >= 0', name=op.f('ck_region_population_non_negative')),
    sa.ForeignKeyConstraint(['parent_id'], ['region.id'], name=op.f('fk_region_parent_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region'))
    )
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_parent_id'), ['parent_id'], unique=False)

    op.create_table('sku',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('category', sa.String(length=128), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sku'))
    )
    with op.batch_alter_table('sku', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sku_category'), ['category'], unique=False)

    op.create_table('rejected_row',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batch.id'], name=op.f('fk_rejected_row_batch_id_ingest_batch'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_row')),
    sa.UniqueConstraint('batch_id', 'line', name='uq_rejected_row_batch_line')
    )
    with op.batch_alter_table('rejected_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_row_batch_id'), ['batch_id'], unique=False)

    op.create_table('sales',
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('units', sa.Double(), nullable=False),
    sa.Column('price', sa.Double(), nullable=True),
    sa.Column('on_promo', sa.Boolean(), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('price IS NULL OR price >= 0', name=op.f('ck_sales_price_non_negative')),
    sa.CheckConstraint('units >= 0', name=op.f('ck_sales_units_non_negative')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_sales_region_id_region')),
    sa.ForeignKeyConstraint(['sku_id'], ['sku.id'], name=op.f('fk_sales_sku_id_sku')),
    sa.PrimaryKeyConstraint('sku_id', 'region_id', 'day', name=op.f('pk_sales')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.create_index('ix_sales_region_id_day', ['region_id', 'day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_region_id_day')

    op.drop_table('sales')
    with op.batch_alter_table('rejected_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_row_batch_id'))

    op.drop_table('rejected_row')
    with op.batch_alter_table('sku', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sku_category'))

    op.drop_table('sku')
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_parent_id'))

    op.drop_table('region')
    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_batch_kind_sha256')

    op.drop_table('ingest_batch')

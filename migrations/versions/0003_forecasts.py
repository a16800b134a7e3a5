"""forecast runs, values, contributions, published pointers and the published_forecast view

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED_FORECAST = """
CREATE VIEW published_forecast AS
SELECT v.sku_id AS sku, v.region_id AS region, v.day, v.yhat, v.lo80, v.hi80, v.lo95, v.hi95,
       v.model, v.run_id, p.published_at
FROM published_series p
JOIN forecast_value v ON v.run_id = p.run_id AND v.sku_id = p.sku_id AND v.region_id = p.region_id
"""


def upgrade() -> None:
    op.create_table('forecast_contribution',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('feature', sa.String(length=64), nullable=False),
    sa.Column('contribution', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'sku_id', 'region_id', 'day', 'feature', name=op.f('pk_forecast_contribution')),
    sqlite_with_rowid=False
    )
    op.create_table('forecast_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cutoff', sa.Date(), nullable=False),
    sa.Column('horizon', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.String(length=8), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('code_version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('duration_seconds', sa.Double(), nullable=True),
    sa.Column('series_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'published', 'failed', 'superseded')", name=op.f('ck_forecast_run_status_known')),
    sa.CheckConstraint('horizon > 0', name=op.f('ck_forecast_run_horizon_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_run'))
    )
    with op.batch_alter_table('forecast_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forecast_run_status'), ['status'], unique=False)

    op.create_table('forecast_value',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('yhat', sa.Double(), nullable=False),
    sa.Column('lo80', sa.Double(), nullable=False),
    sa.Column('hi80', sa.Double(), nullable=False),
    sa.Column('lo95', sa.Double(), nullable=False),
    sa.Column('hi95', sa.Double(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.CheckConstraint('lo95 >= 0 AND lo95 <= lo80 AND lo80 <= yhat AND yhat <= hi80 AND hi80 <= hi95', name=op.f('ck_forecast_value_ordered_non_negative')),
    sa.PrimaryKeyConstraint('run_id', 'sku_id', 'region_id', 'day', name=op.f('pk_forecast_value')),
    sqlite_with_rowid=False
    )
    op.create_table('published_series',
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['forecast_run.id'], name=op.f('fk_published_series_run_id_forecast_run')),
    sa.PrimaryKeyConstraint('sku_id', 'region_id', name=op.f('pk_published_series'))
    )
    with op.batch_alter_table('published_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_series_run_id'), ['run_id'], unique=False)


    op.execute(PUBLISHED_FORECAST)

def downgrade() -> None:
    op.execute("DROP VIEW published_forecast")
    with op.batch_alter_table('published_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_series_run_id'))

    op.drop_table('published_series')
    op.drop_table('forecast_value')
    with op.batch_alter_table('forecast_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forecast_run_status'))

    op.drop_table('forecast_run')
    op.drop_table('forecast_contribution')

"""backtests: runs, forecast rows with actuals, metrics; sales_history for the data as known after a batch

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('backtest_forecast',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('window_no', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('y', sa.Double(), nullable=False),
    sa.Column('yhat', sa.Double(), nullable=False),
    sa.Column('lo80', sa.Double(), nullable=False),
    sa.Column('hi80', sa.Double(), nullable=False),
    sa.Column('lo95', sa.Double(), nullable=False),
    sa.Column('hi95', sa.Double(), nullable=False),
    sa.Column('produced_by', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'window_no', 'sku_id', 'region_id', 'model', 'day', name=op.f('pk_backtest_forecast')),
    sqlite_with_rowid=False
    )
    op.create_table('backtest_metric',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('window_no', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'window_no', 'sku_id', 'region_id', 'model', 'step', 'metric', name=op.f('pk_backtest_metric')),
    sqlite_with_rowid=False
    )
    op.create_table('backtest_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('data_cutoff', sa.Date(), nullable=False),
    sa.Column('data_batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rerun_of', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('series_count', sa.Integer(), nullable=False),
    sa.Column('duration_seconds', sa.Double(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'complete', 'failed')", name=op.f('ck_backtest_run_status_known')),
    sa.ForeignKeyConstraint(['rerun_of'], ['backtest_run.id'], name=op.f('fk_backtest_run_rerun_of_backtest_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backtest_run'))
    )
    op.create_table('sales_history',
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('replaced_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('units', sa.Double(), nullable=False),
    sa.Column('price', sa.Double(), nullable=True),
    sa.Column('on_promo', sa.Boolean(), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('sku_id', 'region_id', 'day', 'replaced_by', name=op.f('pk_sales_history')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('sales_history')
    op.drop_table('backtest_run')
    op.drop_table('backtest_metric')
    op.drop_table('backtest_forecast')

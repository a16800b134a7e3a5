"""scenarios: planned livestreams and case trajectories forecast with and without

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scenario_value',
    sa.Column('scenario_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('baseline_yhat', sa.Double(), nullable=False),
    sa.Column('baseline_lo80', sa.Double(), nullable=False),
    sa.Column('baseline_hi80', sa.Double(), nullable=False),
    sa.Column('baseline_lo95', sa.Double(), nullable=False),
    sa.Column('baseline_hi95', sa.Double(), nullable=False),
    sa.Column('yhat', sa.Double(), nullable=False),
    sa.Column('lo80', sa.Double(), nullable=False),
    sa.Column('hi80', sa.Double(), nullable=False),
    sa.Column('lo95', sa.Double(), nullable=False),
    sa.Column('hi95', sa.Double(), nullable=False),
    sa.Column('uplift', sa.Double(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.CheckConstraint('baseline_lo95 >= 0 AND baseline_lo95 <= baseline_lo80 AND baseline_lo80 <= baseline_yhat AND baseline_yhat <= baseline_hi80 AND baseline_hi80 <= baseline_hi95', name=op.f('ck_scenario_value_baseline_ordered_non_negative')),
    sa.CheckConstraint('lo95 >= 0 AND lo95 <= lo80 AND lo80 <= yhat AND yhat <= hi80 AND hi80 <= hi95', name=op.f('ck_scenario_value_ordered_non_negative')),
    sa.PrimaryKeyConstraint('scenario_id', 'sku_id', 'region_id', 'day', name=op.f('pk_scenario_value')),
    sqlite_with_rowid=False
    )
    op.create_table('scenario',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('cutoff', sa.Date(), nullable=False),
    sa.Column('horizon', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('code_version', sa.String(length=64), nullable=False),
    sa.Column('base_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('series_count', sa.Integer(), nullable=False),
    sa.Column('duration_seconds', sa.Double(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('livestream', 'cases')", name=op.f('ck_scenario_kind_known')),
    sa.CheckConstraint("status IN ('running', 'complete', 'failed')", name=op.f('ck_scenario_status_known')),
    sa.CheckConstraint('horizon > 0', name=op.f('ck_scenario_horizon_positive')),
    sa.ForeignKeyConstraint(['base_run_id'], ['forecast_run.id'], name=op.f('fk_scenario_base_run_id_forecast_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenario'))
    )


def downgrade() -> None:
    op.drop_table('scenario')
    op.drop_table('scenario_value')

"""planner overrides: forecast_override and the published_forecast_adjusted view

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PUBLISHED_FORECAST_ADJUSTED = """
CREATE VIEW published_forecast_adjusted AS
SELECT p.sku, p.region, p.day, p.yhat,
       CASE WHEN o.id IS NULL THEN p.yhat
            WHEN o.kind = 'value' THEN o.amount
            ELSE p.yhat * (1 + o.amount / 100.0) END AS yhat_adjusted,
       o.id AS override_id, o.reason AS override_reason, o.created_by AS override_by,
       p.lo80, p.hi80, p.lo95, p.hi95, p.model, p.run_id, p.published_at
FROM published_forecast p
LEFT JOIN forecast_override o ON o.id = (
    SELECT max(n.id) FROM forecast_override n
    WHERE n.sku_id = p.sku AND n.region_id = p.region AND n.active
      AND n.start_day <= p.day AND p.day <= n.end_day)
"""


def upgrade() -> None:
    op.create_table('forecast_override',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('end_day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Double(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind != 'percent' OR amount >= -100", name=op.f('ck_forecast_override_percent_above_minus_100')),
    sa.CheckConstraint("kind != 'value' OR amount >= 0", name=op.f('ck_forecast_override_value_non_negative')),
    sa.CheckConstraint("kind IN ('value', 'percent')", name=op.f('ck_forecast_override_kind_known')),
    sa.CheckConstraint('end_day >= start_day', name=op.f('ck_forecast_override_range_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_override'))
    )
    with op.batch_alter_table('forecast_override', schema=None) as batch_op:
        batch_op.create_index('ix_forecast_override_series', ['sku_id', 'region_id', 'start_day'], unique=False)
    op.execute(PUBLISHED_FORECAST_ADJUSTED)


def downgrade() -> None:
    op.execute("DROP VIEW published_forecast_adjusted")
    with op.batch_alter_table('forecast_override', schema=None) as batch_op:
        batch_op.drop_index('ix_forecast_override_series')

    op.drop_table('forecast_override')

"""forecast_total: reconciled aggregates of a run, and the published_total view

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLISHED_TOTAL = """
CREATE VIEW published_total AS
SELECT t.level, t.node, t.day, t.yhat, t.lo80, t.hi80, t.lo95, t.hi95, t.base_yhat, t.run_id, r.published_at
FROM forecast_total t
JOIN forecast_run r ON r.id = t.run_id
WHERE t.run_id = (SELECT max(r2.id) FROM forecast_run r2
                  WHERE r2.status = 'published' AND EXISTS (SELECT 1 FROM forecast_total t2 WHERE t2.run_id = r2.id))
"""


def upgrade() -> None:
    op.create_table('forecast_total',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('node', sa.String(length=512), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('yhat', sa.Double(), nullable=False),
    sa.Column('lo80', sa.Double(), nullable=False),
    sa.Column('hi80', sa.Double(), nullable=False),
    sa.Column('lo95', sa.Double(), nullable=False),
    sa.Column('hi95', sa.Double(), nullable=False),
    sa.Column('base_yhat', sa.Double(), nullable=False),
    sa.CheckConstraint('lo95 >= 0 AND lo95 <= lo80 AND lo80 <= yhat AND yhat <= hi80 AND hi80 <= hi95', name=op.f('ck_forecast_total_ordered_non_negative')),
    sa.PrimaryKeyConstraint('run_id', 'level', 'node', 'day', name=op.f('pk_forecast_total')),
    sqlite_with_rowid=False
    )
    op.execute(PUBLISHED_TOTAL)


def downgrade() -> None:
    op.execute("DROP VIEW published_total")
    op.drop_table('forecast_total')

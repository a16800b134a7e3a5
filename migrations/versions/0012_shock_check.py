"""shock_check: regional-shock flags per region and day

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('shock_check',
    sa.Column('checked_on', sa.Date(), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('triggered', sa.Boolean(), nullable=False),
    sa.Column('cases_week_per_100k', sa.Double(), nullable=True),
    sa.Column('case_rise', sa.Double(), nullable=True),
    sa.Column('breakout_series', sa.Integer(), nullable=True),
    sa.Column('breakout_share', sa.Double(), nullable=True),
    sa.Column('breakout_above', sa.Double(), nullable=True),
    sa.Column('raised_on', sa.Date(), nullable=True),
    sa.Column('last_trigger', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('checked_on', 'region_id', name=op.f('pk_shock_check'))
    )


def downgrade() -> None:
    op.drop_table('shock_check')

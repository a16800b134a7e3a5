"""ingest_batch.absent, first_day, last_day (what an absent sales day means); job_run status `partial`

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_JOB = "status IN ('running', 'succeeded', 'failed', 'waiting', 'aborted', 'abandoned')"
NEW_JOB = "status IN ('running', 'succeeded', 'partial', 'failed', 'waiting', 'aborted', 'abandoned')"


def upgrade() -> None:
    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('absent', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('first_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_day', sa.Date(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_ingest_batch_absent_known'),
                                         "absent IS NULL OR absent IN ('zero', 'unknown')")
    # Sales batches stored before this revision came from files with explicit rows: `unknown`.
    op.execute("UPDATE ingest_batch SET absent = 'unknown' WHERE kind = 'sales'")
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_job_run_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_job_run_status_known'), NEW_JOB)


def downgrade() -> None:
    op.execute("UPDATE job_run SET status = 'failed' WHERE status = 'partial'")
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_job_run_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_job_run_status_known'), OLD_JOB)
    with op.batch_alter_table('ingest_batch', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ingest_batch_absent_known'), type_='check')
        batch_op.drop_column('last_day')
        batch_op.drop_column('first_day')
        batch_op.drop_column('absent')

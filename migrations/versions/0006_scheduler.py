"""scheduler: job history, lock, job store, tracked accuracy

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.String(length=191), nullable=False),
    sa.Column('next_run_time', sa.Double(), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('forecast_accuracy',
    sa.Column('sku_id', sa.String(length=128), nullable=False),
    sa.Column('region_id', sa.String(length=128), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('lag', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('yhat', sa.Double(), nullable=False),
    sa.Column('lo80', sa.Double(), nullable=False),
    sa.Column('hi80', sa.Double(), nullable=False),
    sa.Column('lo95', sa.Double(), nullable=False),
    sa.Column('hi95', sa.Double(), nullable=False),
    sa.Column('actual', sa.Double(), nullable=False),
    sa.Column('tracked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku_id', 'region_id', 'day', 'lag', name=op.f('pk_forecast_accuracy')),
    sqlite_with_rowid=False
    )
    op.create_table('job_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('instance', sa.String(length=128), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'waiting', 'aborted', 'abandoned')", name=op.f('ck_job_run_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
    sa.UniqueConstraint('job', 'scheduled_for', 'attempt', name='uq_job_run_job_scheduled_for_attempt')
    )
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.create_index('ix_job_run_job_started_at', ['job', 'started_at'], unique=False)

    op.create_table('scheduler_lock',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=128), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lock'))
    )


def downgrade() -> None:
    op.drop_table('scheduler_lock')
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index('ix_job_run_job_started_at')

    op.drop_table('job_run')
    op.drop_table('forecast_accuracy')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))

    op.drop_table('apscheduler_jobs')

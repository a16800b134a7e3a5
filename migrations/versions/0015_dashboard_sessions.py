"""dashboard_session: sign-ins recorded on the server; app_user.disabled_at

A dashboard sign-in was only a value in the browser session's memory, so nothing could end it when
its user's role or password changed, or the user was disabled or removed. Each sign-in is now a row
(the SHA-256 of a random token the browser's session holds), read on every rerun and planner action.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('dashboard_session',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['username'], ['app_user.username'], name=op.f('fk_dashboard_session_username_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_dashboard_session_token_hash'))
    )
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.create_index('ix_dashboard_session_username', ['username', 'ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dashboard_session', schema=None) as batch_op:
        batch_op.drop_index('ix_dashboard_session_username')
    op.drop_table('dashboard_session')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')

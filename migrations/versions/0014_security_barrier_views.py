"""The published views become security barriers on PostgreSQL

A reader's function in a `WHERE` clause on a plain view may be pushed below the view's own joins and
see every row of the tables under it (drafts, superseded runs). `security_barrier` keeps the view's
conditions first. SQLite has no roles and no such option.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = ("published_forecast", "published_forecast_adjusted", "published_total")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for view in VIEWS:
            op.execute(f"ALTER VIEW {view} SET (security_barrier = true)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for view in VIEWS:
            op.execute(f"ALTER VIEW {view} RESET (security_barrier)")

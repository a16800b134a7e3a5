"""Secrets written before masking are scrubbed: job history, signal payload locations, batch options

Rows stored before locations were masked may hold a URL's password or token (job_run.message, error
and traceback; signal_payload.location; a signal batch's options), and the dashboard shows the job
history to every viewer. Each such text goes through `signals.locations.mask_text`, the masking
every new row gets. The secrets cannot be restored, so the downgrade changes nothing; rotate any
credential that was stored.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from signals.locations import mask_text

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXTS = {"job_run": ("message", "error", "traceback"), "signal_payload": ("location",), "ingest_batch": ("options",)}


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in TEXTS.items():
        t = sa.table(table, sa.column("id"), *(sa.column(c, sa.Text) for c in columns))
        for row in bind.execute(sa.select(t).where(sa.or_(*(t.c[c].like("%://%") for c in columns)))):
            masked = {c: mask_text(row._mapping[c]) for c in columns if row._mapping[c] is not None}
            changed = {c: v for c, v in masked.items() if v != row._mapping[c]}
            if changed:
                bind.execute(sa.update(t).where(t.c.id == row.id).values(**changed))


def downgrade() -> None:
    """Masked secrets stay masked."""

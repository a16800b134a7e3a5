"""What a sales pull came to, for the job history: one status and one line naming each bad file.

A pull whose file was rejected whole is `failed`; one whose files only had rows quarantined to
`rejected_row` (batch status `partial`) is `partial`; otherwise it `succeeded`. The line names the
file and what was wrong, quoting the first quarantined rows' reasons (they name the SKU, region or
value at fault), and points at `demand ingest rejected` for the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from forecast.ingest.pull import PullReport
from forecast.storage import repo
from forecast.storage.schema import IngestBatch

__all__ = ["PullOutcome", "pull_outcome"]

logger = logging.getLogger(__name__)

SHOWN_ROWS = 2
"""Quarantined rows quoted per file (the rest: `demand ingest rejected <batch>`)."""
SHOWN_FILES = 5
"""Bad files named in one line; more are counted."""


@dataclass(frozen=True)
class PullOutcome:
    """A sales pull's status (`succeeded`, `partial` or `failed`), rows accepted and its lines."""

    status: str
    rows: int
    message: str
    """Files and rows counted over every source."""
    error: str | None = None
    """One line: `<file>: <what was wrong>` per bad file, files rejected whole first."""


def pull_outcome(reports: Sequence[PullReport], *, session: Session) -> PullOutcome:
    """Judge the pulls in `reports` (one per source) by their files and new batches.

    Args:
        reports: what each source's pull did.
        session: reads the new batches and their first quarantined rows.
    """
    rejected = [_file_line(name, why) for report in reports for name, why in report.failed.items()]
    partial = [_partial_line(batch, session) for report in reports
               for batch in _batches(report.batches, session) if batch.status == "partial"]
    status = "failed" if rejected else "partial" if partial else "succeeded"
    problems = rejected + partial
    more = f"; and {len(problems) - SHOWN_FILES} more file(s)" if len(problems) > SHOWN_FILES else ""
    rows = sum(r.rows_accepted for r in reports)
    message = (f"{sum(r.files for r in reports)} file(s), {rows:,} rows accepted, "
               f"{sum(r.rows_rejected for r in reports):,} rows rejected, {len(rejected)} file(s) rejected whole")
    error = "; ".join(problems[:SHOWN_FILES]) + more if problems else None
    return PullOutcome(status=status, rows=rows, message=message, error=error)


def _batches(ids: Sequence[int], session: Session) -> list[IngestBatch]:
    return [b for b in (repo.get_batch(session=session, batch_id=i) for i in ids) if b is not None]


def _file_line(name: str, why: str) -> str:
    """`<name>: <why>` on one line, without the name twice (reader errors start with the file's name or path)."""
    first = (why.splitlines() or ["rejected"])[0]
    head, sep, rest = first.partition(": ")
    if sep and (head == name or head.endswith(f"/{name}")):
        first = rest
    return f"{name}: {first}"


def _partial_line(batch: IngestBatch, session: Session) -> str:
    """`<file>: 3 rows rejected (line 4: units 'x' is not a number; ...); see `demand ingest rejected 12``."""
    shown = repo.list_rejected_rows(session=session, batch_id=batch.id, limit=SHOWN_ROWS)
    reasons = "; ".join(f"line {r.line}: {r.reason}" for r in shown)
    more = f"; and {batch.rows_rejected - len(shown):,} more" if batch.rows_rejected > len(shown) else ""
    plural = "s" if batch.rows_rejected != 1 else ""
    return (f"{Path(batch.source).name}: {batch.rows_rejected:,} row{plural} rejected ({reasons}{more}); "
            f"see `demand ingest rejected {batch.id}`")

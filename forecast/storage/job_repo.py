"""The scheduler's job history (`job_run`) and its lock row (`scheduler_lock`). Callers commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased

from forecast.storage.schema import JobRun, SchedulerLock, utcnow

__all__ = ["PROBLEM_STATUSES", "PROVEN_BY_ROWS", "abandon_running", "claim_attempt", "finish_attempt", "job_runs",
           "last_outcomes", "last_success", "lock_holder", "open_problems"]

PROBLEM_STATUSES = ("failed", "partial", "aborted", "abandoned")
"""Attempts that finished without doing all of their work (`waiting` ones still have a retry due)."""
PROVEN_BY_ROWS = ("sales_pull",)
"""Jobs whose success puts earlier problems right only if it took rows: the sales pull's source is its
drop folder (and query), and a pull that found the folder empty proves nothing about the file it rejected."""


def claim_attempt(*, session: Session, job: str, scheduled_for: dt.datetime, attempt: int, instance: str) -> JobRun:
    """Insert the `running` row of one attempt; the unique key makes a second claim fail (IntegrityError)."""
    run = JobRun(job=job, scheduled_for=scheduled_for, attempt=attempt, instance=instance, status="running")
    session.add(run)
    session.flush()
    return run


def finish_attempt(*, session: Session, run_id: int, status: str, rows: int | None = None,
                   message: str | None = None, error: str | None = None, traceback: str | None = None,
                   retry_at: dt.datetime | None = None) -> None:
    """Record how an attempt ended."""
    session.execute(update(JobRun).where(JobRun.id == run_id).values(
        status=status, finished_at=utcnow(), rows=rows, message=message, error=error, traceback=traceback,
        retry_at=retry_at))


def abandon_running(*, session: Session, instance: str | None = None) -> int:
    """Mark `running` rows as `abandoned` (their scheduler died); all of them, or one instance's."""
    where = [JobRun.status == "running"] + ([JobRun.instance == instance] if instance else [])
    result = session.execute(update(JobRun).where(*where).values(
        status="abandoned", finished_at=utcnow(), error="the scheduler running this job stopped before it finished"))
    return result.rowcount or 0


def last_success(*, session: Session, job: str) -> JobRun | None:
    """The newest succeeded attempt of `job`."""
    return session.scalars(select(JobRun).where(JobRun.job == job, JobRun.status == "succeeded")
                           .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).first()


def last_outcomes(*, session: Session) -> dict[str, JobRun]:
    """The newest attempt of every job that ever ran."""
    newest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    rows = session.scalars(select(JobRun).join(newest, JobRun.id == newest.c.id)).all()
    return {r.job: r for r in rows}


def job_runs(*, session: Session, limit: int = 50, job: str | None = None) -> list[JobRun]:
    """The newest attempts first (problems that are still open: `open_problems`)."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def open_problems(*, session: Session, limit: int = 50, job: str | None = None) -> list[JobRun]:
    """Problem attempts (`PROBLEM_STATUSES`) that no later attempt of the same job put right, newest first.

    A later attempt puts them right when it succeeded; for the jobs in `PROVEN_BY_ROWS`, when it
    succeeded having taken rows (a new file from the same source, with no row rejected).
    """
    later = aliased(JobRun)
    put_right = select(later.id).where(
        later.job == JobRun.job, later.id > JobRun.id, later.status == "succeeded",
        or_(later.job.not_in(PROVEN_BY_ROWS), later.rows > 0),
    ).exists()
    query = (select(JobRun).where(JobRun.status.in_(PROBLEM_STATUSES), ~put_right)
             .order_by(JobRun.id.desc()).limit(limit))
    if job:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def lock_holder(*, session: Session, name: str = "scheduler") -> dict[str, Any] | None:
    """Who holds (or last held) the scheduler lock, and until when its lease runs."""
    row = session.get(SchedulerLock, name)
    if row is None:
        return None
    return {"owner": row.owner, "acquired_at": row.acquired_at, "renewed_at": row.renewed_at,
            "expires_at": row.expires_at}

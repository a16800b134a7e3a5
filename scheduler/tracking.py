"""Every job attempt through one wrapper: claim its `job_run` row, run it, record the outcome, retry.

The claim comes first and the row's key is (job, scheduled time, attempt), so two schedulers can
never both run a job for the same scheduled time. A failed attempt schedules the next one in the
persistent job store (backoff x 2^(attempt-1)), so a standby that takes over carries on the retries.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from forecast.errors import DemandError
from forecast.storage import job_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import utcnow
from signals.locations import mask_text

__all__ = ["INSTANCE", "JobAborted", "JobOutcome", "JobWaiting", "SCHEDULED_FOR", "STOP", "check_stop",
           "set_retry_scheduler", "tracked"]

logger = logging.getLogger(__name__)

INSTANCE = f"{socket.gethostname()}:{os.getpid()}"
SCHEDULED_FOR: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("scheduled_for", default=None)
"""The run time APScheduler fired the current job for (set by the service's executor)."""
STOP = threading.Event()
"""Set on SIGTERM/SIGINT: running jobs abort at their next safe point (never mid-publish)."""

_retry_scheduler = None


class JobAborted(DemandError):
    """The scheduler is stopping; the job gave up at a safe point, before writing anything partial."""


class JobWaiting(DemandError):
    """The job's inputs are not ready (a pull failed); it is retried like a failed job."""


@dataclass
class JobOutcome:
    """What a job body reports: rows handled and one line for the history.

    A body that finished but could not take all of its input says so with `status` (`partial`: some
    of it was quarantined; `failed`: some of it was rejected) and `error`, one line naming what was
    wrong. Such an outcome is recorded as it is and not retried: the same input would fail again.
    """

    rows: int | None = None
    message: str | None = None
    status: Literal["succeeded", "partial", "failed"] = "succeeded"
    error: str | None = None


def check_stop(*_: object) -> None:
    """Raise `JobAborted` if the scheduler is stopping (usable as a progress callback)."""
    if STOP.is_set():
        raise JobAborted("the scheduler was asked to stop; the job stopped before writing a partial result")


def set_retry_scheduler(scheduler) -> None:
    """The APScheduler instance retries are added to (None: retries are recorded but not scheduled)."""
    global _retry_scheduler
    _retry_scheduler = scheduler


def _summary(exc: BaseException) -> str:
    """The last frames of the traceback and the error: enough to find the failing line."""
    return mask_text("".join(traceback.format_exception(exc, limit=-6)))[-4000:]


def _retry_delay(attempt: int, backoff: float) -> dt.timedelta:
    return dt.timedelta(seconds=backoff * 2 ** (attempt - 1))


def tracked(job: str, body: Callable[[], JobOutcome], *, engine: Engine, attempt: int = 1,
            scheduled_for: dt.datetime | None = None, retries: int = 0, backoff: float = 60.0,
            retry_func: Callable | None = None, instance: str = INSTANCE) -> str:
    """Run `body` as attempt `attempt` of `job` for `scheduled_for`; returns the status recorded.

    Returns `duplicate` (and runs nothing) when that attempt was already claimed.
    """
    scheduled_for = scheduled_for or SCHEDULED_FOR.get() or utcnow()
    try:
        with session_scope(engine) as session:
            run_id = job_repo.claim_attempt(session=session, job=job, scheduled_for=scheduled_for, attempt=attempt,
                                            instance=instance).id
    except IntegrityError:
        logger.warning("%s for %s attempt %s was already run; skipped", job, scheduled_for, attempt)
        return "duplicate"
    try:
        outcome = body()
    except BaseException as exc:  # noqa: BLE001 - every outcome is recorded, then re-raised if fatal
        aborted = isinstance(exc, JobAborted)
        retry_at = None
        if not aborted and attempt <= retries and retry_func is not None:
            retry_at = utcnow() + _retry_delay(attempt, backoff)
        # `waiting` only while a retry is due; a job that gave up waiting failed.
        status = "aborted" if aborted else "waiting" if isinstance(exc, JobWaiting) and retry_at else "failed"
        error = mask_text(f"{type(exc).__name__}: {exc}".splitlines()[0])[:2000]  # a URL's secrets never stored
        message = f"gave up after {attempt} attempts" if not aborted and retry_at is None and attempt > 1 else None
        with session_scope(engine) as session:
            job_repo.finish_attempt(session=session, run_id=run_id, status=status, error=error, message=message,
                                    traceback=None if isinstance(exc, DemandError) else _summary(exc),
                                    retry_at=retry_at)
        logger.warning("%s attempt %s %s: %s", job, attempt, status, error)
        if retry_at is not None and _retry_scheduler is not None:
            _retry_scheduler.add_job(retry_func, "date", run_date=retry_at, id=f"{job}:retry", name=f"{job} retry",
                                     kwargs={"attempt": attempt + 1, "scheduled_for": scheduled_for.isoformat()},
                                     replace_existing=True, misfire_grace_time=None)
        if not isinstance(exc, Exception):
            raise
        return status
    error = mask_text(outcome.error.splitlines()[0])[:2000] if outcome.error else None
    with session_scope(engine) as session:
        job_repo.finish_attempt(session=session, run_id=run_id, status=outcome.status, rows=outcome.rows,
                                message=outcome.message, error=error)
    if outcome.status == "succeeded":
        logger.info("%s attempt %s succeeded: %s", job, attempt, outcome.message)
    else:
        logger.warning("%s attempt %s %s: %s", job, attempt, outcome.status, error)
    return outcome.status

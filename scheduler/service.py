"""The scheduler service: take the database's lock (or wait as a standby), run the jobs, stop cleanly.

APScheduler 3 with a `SQLAlchemyJobStore` in the service database, UTC, one worker thread (the
jobs form a pipeline and each uses `n_jobs` processes of its own), explicit job ids with
`replace_existing`, `coalesce`, `max_instances=1` and `misfire_grace_time`.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from types import FrameType

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from forecast.errors import DemandError, InvalidInputError
from forecast.settings import Settings, get_settings
from forecast.storage import job_repo
from forecast.storage.engine import session_scope
from scheduler import jobs
from scheduler.lock import make_lock
from scheduler.tracking import INSTANCE, SCHEDULED_FOR, STOP, set_retry_scheduler

__all__ = ["SchedulerBusyError", "SchedulerService", "cron_trigger", "schedules"]

logger = logging.getLogger(__name__)


class SchedulerBusyError(DemandError):
    """Another scheduler is active on this database."""


def cron_trigger(expression: str) -> CronTrigger:
    """A UTC trigger from five cron fields, or six with seconds first.

    Raises:
        InvalidInputError: not a valid cron expression.
    """
    fields = expression.split()
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(expression, timezone=dt.timezone.utc)
        if len(fields) == 6:
            second, minute, hour, day, month, weekday = fields
            return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=weekday,
                               timezone=dt.timezone.utc)
    except ValueError as exc:
        raise InvalidInputError(f"schedule {expression!r}: {exc}; use cron fields such as '0 2 * * *'") from None
    raise InvalidInputError(f"schedule {expression!r} has {len(fields)} fields; give 5 (minute hour day month "
                            "weekday) or 6 (seconds first)")


def schedules(settings: Settings) -> dict[str, CronTrigger]:
    """The enabled jobs and their triggers, from the `schedule_*` settings (empty: disabled)."""
    return {job: cron_trigger(cron) for job in jobs.JOBS
            if (cron := getattr(settings, f"schedule_{job}").strip())}


class _TimedExecutor(ThreadPoolExecutor):
    """APScheduler's thread pool, telling each job the run time it fired for (`SCHEDULED_FOR`)."""

    def _do_submit_job(self, job, run_times):
        def run() -> list:
            events = []
            for run_time in run_times:
                token = SCHEDULED_FOR.set(run_time)
                try:
                    events += run_job(job, job._jobstore_alias, [run_time], self._logger.name)
                finally:
                    SCHEDULED_FOR.reset(token)
            return events

        def done(future) -> None:
            if future.exception() is not None:
                self._run_job_error(job.id, future.exception(), None)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(run).add_done_callback(done)


class SchedulerService:
    """One scheduler instance: `run()` blocks until `stop()` (or SIGTERM/SIGINT)."""

    def __init__(self, engine: Engine | None = None, settings: Settings | None = None, *, standby: bool = False,
                 instance: str = INSTANCE) -> None:
        self.settings = settings or get_settings()
        self.engine = engine or jobs.engine()
        self.standby, self.instance = standby, instance
        self.lock = make_lock(self.engine, instance, self.settings.scheduler_lease_seconds)
        self.scheduler: BackgroundScheduler | None = None
        self.active = threading.Event()
        """Set while this instance holds the lock and runs jobs."""
        self._stop = threading.Event()

    @property
    def poll_seconds(self) -> float:
        """How often the holder renews and a standby retries: a third of the lease."""
        return max(self.settings.scheduler_lease_seconds / 3, 0.2)

    def stop(self, *_: object) -> None:
        """Ask the service to stop: running jobs abort at their next safe point."""
        STOP.set()
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            logger.warning("received %s: stopping after the running job reaches a safe point",
                           signal.Signals(signum).name)
            self.stop()
            signal.signal(signum, signal.SIG_DFL)  # a second signal stops at once

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, handler)

    def _wait_for_lock(self) -> bool:
        """Hold the lock (True), or give up because stopping was asked (False)."""
        while not self._stop.is_set():
            if self.lock.acquire():
                return True
            if not self.standby:
                with session_scope(self.engine) as session:
                    holder = job_repo.lock_holder(session=session)
                who = f"{holder['owner']}, renewed {holder['renewed_at']:%Y-%m-%d %H:%M:%S}" if holder else "unknown"
                raise SchedulerBusyError(f"another scheduler is active on this database ({who}); "
                                         "start this one with --standby to wait and take over when it stops")
            self._stop.wait(self.poll_seconds)
        return False

    def _start_jobs(self, previous_owner: str | None, wanted: dict[str, CronTrigger]) -> BackgroundScheduler:
        if previous_owner and previous_owner != self.instance:
            with session_scope(self.engine) as session:
                abandoned = job_repo.abandon_running(session=session, instance=previous_owner)
            if abandoned:
                logger.warning("marked %s job(s) of %s abandoned", abandoned, previous_owner)
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine)},
            executors={"default": _TimedExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.settings.misfire_grace_seconds},
            timezone=dt.timezone.utc)
        scheduler.start(paused=True)
        for job_id, func in jobs.JOBS.items():
            stored = scheduler.get_job(job_id)
            if job_id not in wanted:
                if stored is not None:
                    scheduler.remove_job(job_id)
                continue
            # An unchanged stored job keeps its next run time, so a run missed while no scheduler was
            # active is caught up (coalesced, within the grace time) instead of skipped.
            if stored is None or str(stored.trigger) != str(wanted[job_id]):
                scheduler.add_job(func, wanted[job_id], id=job_id, name=job_id, replace_existing=True)
        set_retry_scheduler(scheduler)
        scheduler.resume()
        return scheduler

    def run(self, *, install_signal_handlers: bool = True) -> str:
        """Run until stopped; returns why it ended: `stopped` or `lost lock`.

        Raises:
            SchedulerBusyError: another instance is active and this one is not a standby.
        """
        wanted = schedules(self.settings)  # a bad cron expression fails here, before the lock is taken
        STOP.clear()
        if install_signal_handlers:
            self._install_signal_handlers()
        if not self._wait_for_lock():
            return "stopped"
        previous = self.lock.previous_owner
        logger.info("scheduler %s is active (after %s)", self.instance, previous or "nobody")
        self.scheduler = self._start_jobs(previous, wanted)
        self.active.set()
        outcome = "stopped"
        try:
            while not self._stop.wait(self.poll_seconds):
                if not self.lock.renew():
                    logger.error("scheduler %s lost its lock; it stops running jobs", self.instance)
                    outcome = "lost lock"
                    STOP.set()
                    break
        finally:
            self.active.clear()
            self.scheduler.shutdown(wait=True)
            set_retry_scheduler(None)
            STOP.clear()
            if outcome == "stopped":
                self.lock.release()
        logger.info("scheduler %s %s", self.instance, outcome)
        return outcome

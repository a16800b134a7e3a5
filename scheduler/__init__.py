"""The scheduler: an APScheduler service, thin job functions, job tracking with retries, one active instance."""

from __future__ import annotations

from scheduler.jobs import JOBS
from scheduler.service import SchedulerBusyError, SchedulerService

__all__ = ["JOBS", "SchedulerBusyError", "SchedulerService"]

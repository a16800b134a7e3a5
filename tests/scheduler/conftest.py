"""Scheduler fixtures: settings pointed at this test's database, and a service run in a thread."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from forecast.settings import get_settings
from forecast.storage.engine import session_scope
from forecast.storage.schema import JobRun
from scheduler.service import SchedulerService

QUIET = {"DEMAND_SCHEDULE_" + job.upper(): "" for job in ("sales_pull", "signals_pull", "forecast", "backtest",
                                                          "accuracy", "shocks")}


@pytest.fixture
def configure(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Set DEMAND_* settings for this test (every schedule off unless given); settings are re-read."""

    def apply(**values: object) -> None:
        env = {"DEMAND_DATABASE_URL": db_url, "DEMAND_SIGNALS_CONFIG": str(tmp_path / "none.toml"),
               "DEMAND_FORECAST_MODELS": '["SeasonalNaive"]', "DEMAND_FORECAST_HORIZON": "7",
               "DEMAND_JOB_RETRY_BACKOFF_SECONDS": "0.5", "DEMAND_SCHEDULER_LEASE_SECONDS": "2", **QUIET}
        env |= {f"DEMAND_{k.upper()}": str(v) for k, v in values.items()}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    apply()
    yield apply
    get_settings.cache_clear()


class ServiceThread:
    """A `SchedulerService` running in a background thread of this process."""

    def __init__(self, engine: Engine, **kwargs: object) -> None:
        self.service = SchedulerService(engine, **kwargs)
        self.outcome: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.outcome = self.service.run(install_signal_handlers=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.service.stop()
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "the scheduler did not stop"


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands time stamps back without their (UTC) offset."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def job_runs(engine: Engine, job: str | None = None) -> list[JobRun]:
    """Every job_run row (of `job`), oldest first."""
    with session_scope(engine) as session:
        query = select(JobRun).order_by(JobRun.id)
        if job:
            query = query.where(JobRun.job == job)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows

"""The scheduled jobs: thin module-level functions (the job store keeps them by name) calling `forecast`.

Each takes `attempt` and `scheduled_for` (set on retries) and runs its body through `tracked`,
which records the attempt in `job_run` and schedules the retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import lru_cache

from sqlalchemy import Engine

from forecast.backtest.config import BacktestConfig
from forecast.backtest.run import run_backtest
from forecast.errors import InvalidInputError
from forecast.ingest.mapping import resolve_mapping
from forecast.ingest.pull import pull_drop_folder, pull_sql_query
from forecast.ingest.pull_outcome import pull_outcome
from forecast.ingest.signal_config import load_sources
from forecast.ingest.signals import pull_source
from forecast.pipeline.accuracy import track_accuracy
from forecast.pipeline.run import RunOptions, run_forecast
from forecast.pipeline.shock import ShockRules, check_shocks_at
from forecast.settings import get_settings
from forecast.storage import backtest_repo, job_repo
from forecast.storage.engine import make_engine, session_scope
from scheduler.tracking import JobOutcome, JobWaiting, check_stop, tracked
from signals.locations import mask_text

__all__ = ["INPUTS", "JOBS", "accuracy", "backtest", "forecast", "sales_pull", "shocks", "signals_pull"]

logger = logging.getLogger(__name__)

INPUTS = ("sales_pull", "signals_pull")
"""The pulls the forecast reads: when the newest attempt of one failed, the forecast says so (and may wait)."""


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The configured database's engine, one per process and URL."""
    return _engine(get_settings().database_url)


def _sales_pull_body() -> JobOutcome:
    settings = get_settings()
    mapping = resolve_mapping(settings.sales_preset)
    if settings.sales_drop_dir is None and not settings.sales_sql_url:
        return JobOutcome(0, "no sales source configured (DEMAND_SALES_DROP_DIR or DEMAND_SALES_SQL_URL)")
    reports = []
    if settings.sales_drop_dir is not None:
        reports.append(pull_drop_folder(settings.sales_drop_dir, engine(), mapping=mapping,
                                       absent=settings.sales_absent_days))
    if settings.sales_sql_url:
        if not settings.sales_sql_query:
            raise InvalidInputError("DEMAND_SALES_SQL_URL is set without DEMAND_SALES_SQL_QUERY; give the query")
        check_stop()
        reports.append(pull_sql_query(settings.sales_sql_url, settings.sales_sql_query, engine(), mapping=mapping,
                                     absent=settings.sales_absent_days))
    with session_scope(engine()) as session:
        pulled = pull_outcome(reports, session=session)
    return JobOutcome(pulled.rows, pulled.message, status=pulled.status, error=pulled.error)


def _signals_pull_body() -> JobOutcome:
    sources = load_sources(get_settings().signals_config)
    if not sources:
        return JobOutcome(0, f"no signal sources configured in {get_settings().signals_config}")
    stored, failed, notes = 0, [], []
    for source in sources.values():
        check_stop()
        try:
            with session_scope(engine()) as session:
                report = pull_source(source, session=session)
        except ValueError as exc:  # InvalidInputError and SignalError: this source only; the others still run
            failed.append(mask_text(f"{source.name}: {exc}"))
            continue
        stored += report.versions_stored
        notes.append(f"{source.name} {report.status} ({report.versions_stored:,} versions)")
    if failed:
        raise InvalidInputError(f"{len(failed)} of {len(sources)} signal sources failed: " + "; ".join(failed))
    return JobOutcome(stored, ", ".join(notes))


def _input_problems() -> list[str]:
    """One line per input pull whose newest attempt did not succeed."""
    with session_scope(engine()) as session:
        newest = job_repo.last_outcomes(session=session)
        problems = []
        for job in INPUTS:
            run = newest.get(job)
            if run is not None and run.status in ("failed", "waiting", "abandoned"):
                good = job_repo.last_success(session=session, job=job)
                since = f"last good {good.finished_at:%Y-%m-%d %H:%M}" if good else "never succeeded"
                problems.append(f"{job} {run.status} at {run.started_at:%Y-%m-%d %H:%M} ({run.error}; {since})")
    return problems


def _forecast_body() -> JobOutcome:
    settings = get_settings()
    problems = _input_problems()
    if problems and settings.on_input_failure == "wait":
        raise JobWaiting("waiting for inputs: " + "; ".join(problems))
    with session_scope(engine()) as session:
        has_backtest = backtest_repo.latest_complete_run(session=session) is not None
    options = RunOptions.from_settings(
        settings, from_backtest="latest" if settings.forecast_from_backtest and has_backtest else None)
    report = run_forecast(engine(), options, progress=check_stop)
    message = (f"run {report.run_id} {report.status}: {report.series} series x {report.horizon} days from cutoff "
               f"{report.cutoff}")
    if problems:
        message += "; ran on the last good data: " + "; ".join(problems)
    return JobOutcome(report.rows, message)


def _backtest_body() -> JobOutcome:
    settings = get_settings()
    config = BacktestConfig(windows=settings.backtest_windows, horizon=settings.backtest_horizon)
    report = run_backtest(engine(), config, n_jobs=settings.n_jobs, progress=check_stop)
    return JobOutcome(report.series, f"backtest {report.run_id} {report.status}: {report.series} series, "
                                     f"{len(report.cutoffs)} windows")


def _shocks_body() -> JobOutcome:
    checks = check_shocks_at(engine(), rules=ShockRules.from_settings(get_settings()))
    flagged = checks.filter("active")["region"].to_list()
    return JobOutcome(checks.height, f"{checks.height} regions checked; flagged: {', '.join(flagged) or 'none'}")


def _accuracy_body() -> JobOutcome:
    rows = track_accuracy(engine())
    return JobOutcome(rows, f"{rows:,} tracked forecast rows (lags 1, 7, 28) recomputed")


BODIES: dict[str, Callable[[], JobOutcome]] = {
    "sales_pull": _sales_pull_body, "signals_pull": _signals_pull_body, "accuracy": _accuracy_body,
    "forecast": _forecast_body, "backtest": _backtest_body, "shocks": _shocks_body,
}


def _run(job: str, attempt: int, scheduled_for: str | None, retry_func: Callable | None) -> str:
    settings = get_settings()
    when = dt.datetime.fromisoformat(scheduled_for) if scheduled_for else None
    return tracked(job, BODIES[job], engine=engine(), attempt=attempt, scheduled_for=when,
                   retries=settings.job_retries, backoff=settings.job_retry_backoff_seconds, retry_func=retry_func)


def sales_pull(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Ingest the sales drop folder (and/or the source query)."""
    return _run("sales_pull", attempt, scheduled_for, sales_pull)


def signals_pull(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Pull every configured signal source."""
    return _run("signals_pull", attempt, scheduled_for, signals_pull)


def forecast(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Forecast every series and publish the run."""
    return _run("forecast", attempt, scheduled_for, forecast)


def backtest(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Backtest the default models (the nightly forecast chooses from the newest one)."""
    return _run("backtest", attempt, scheduled_for, backtest)


def shocks(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Check every region for a regional shock (the dashboard shows the flags)."""
    return _run("shocks", attempt, scheduled_for, shocks)


def accuracy(*, attempt: int = 1, scheduled_for: str | None = None) -> str:
    """Track the published forecasts against the actuals that arrived."""
    return _run("accuracy", attempt, scheduled_for, accuracy)


JOBS: dict[str, Callable[..., str]] = {
    "sales_pull": sales_pull, "signals_pull": signals_pull, "accuracy": accuracy, "forecast": forecast,
    "backtest": backtest, "shocks": shocks,
}

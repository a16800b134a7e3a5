"""Backtest runs: created `running`, completed with their forecasts and metrics in one transaction, or failed.

Functions take `*, session` and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.storage.bulk import insert_frame
from forecast.storage.schema import BacktestForecast, BacktestMetric, BacktestRun, IngestBatch

__all__ = [
    "ALL_WINDOWS",
    "FORECAST_COLUMNS",
    "METRIC_COLUMNS",
    "POOLED",
    "add_metrics",
    "complete_run",
    "create_run",
    "fail_run",
    "get_run",
    "latest_batch_id",
    "latest_complete_run",
    "list_runs",
    "newest_run_with_metric",
    "read_forecasts",
    "read_metrics",
    "read_run_columns",
    "series_metrics",
]

ALL_WINDOWS = -1
"""`window_no` of the metric rows over every window of a run."""
POOLED = "*"
"""`sku_id` (and `region_id`) of the metric rows pooled over series."""

FORECAST_COLUMNS = ("window_no", "sku_id", "region_id", "model", "day", "step", "y", "yhat", "lo80", "hi80", "lo95",
                    "hi95", "produced_by")
METRIC_COLUMNS = ("window_no", "sku_id", "region_id", "model", "step", "metric", "value")
METRIC_SCHEMA = {"window_no": pl.Int32, "sku_id": pl.String, "region_id": pl.String, "model": pl.String,
                 "step": pl.Int32, "metric": pl.String, "value": pl.Float64}


def latest_batch_id(*, session: Session) -> int:
    """The newest ingest batch (0 when nothing was ingested)."""
    return int(session.scalar(select(func.coalesce(func.max(IngestBatch.id), 0))))


def create_run(*, session: Session, config: dict[str, Any], data_cutoff: dt.date, data_batch_id: int,
               code_version: str, rerun_of: int | None = None) -> BacktestRun:
    """Insert a `running` backtest and return it (with its id)."""
    run = BacktestRun(config=config, data_cutoff=data_cutoff, data_batch_id=data_batch_id, code_version=code_version,
                      status="running", rerun_of=rerun_of)
    session.add(run)
    session.flush()
    return run


def complete_run(*, session: Session, run_id: int, forecasts: pl.DataFrame, metrics: pl.DataFrame,
                 series: int, seconds: float) -> None:
    """Bulk-write the run's forecast rows and metric rows and mark it complete."""
    run = pl.lit(run_id).cast(pl.Int64).alias("run_id")
    insert_frame(session, "backtest_forecast", forecasts.select(run, *FORECAST_COLUMNS))
    insert_frame(session, "backtest_metric", metrics.select(run, *METRIC_COLUMNS))
    session.execute(update(BacktestRun).where(BacktestRun.id == run_id).values(
        status="complete", series_count=series, duration_seconds=round(seconds, 2)))


def fail_run(*, session: Session, run_id: int, error: str, seconds: float) -> None:
    """Mark a running backtest failed with its error."""
    session.execute(update(BacktestRun).where(BacktestRun.id == run_id, BacktestRun.status == "running")
                    .values(status="failed", error=error[:4000], duration_seconds=round(seconds, 2)))


def get_run(*, session: Session, run_id: int) -> BacktestRun:
    """One backtest run.

    Raises:
        InvalidInputError: no run has that id.
    """
    run = session.get(BacktestRun, run_id)
    if run is None:
        raise InvalidInputError(f"no backtest run {run_id}; list them with `demand backtest runs`")
    return run


def latest_complete_run(*, session: Session) -> BacktestRun | None:
    """The newest complete backtest, if any."""
    return session.scalars(select(BacktestRun).where(BacktestRun.status == "complete")
                           .order_by(BacktestRun.id.desc()).limit(1)).first()


def list_runs(*, session: Session, limit: int = 20) -> Sequence[BacktestRun]:
    """Newest backtests first."""
    return session.scalars(select(BacktestRun).order_by(BacktestRun.id.desc()).limit(limit)).all()


def read_forecasts(*, session: Session, run_id: int, model: str) -> pl.DataFrame:
    """One model's forecast rows of a run: FORECAST_COLUMNS, ordered by window, sku, region, day."""
    f = BacktestForecast
    rows = session.execute(select(*(getattr(f, c) for c in FORECAST_COLUMNS)).where(f.run_id == run_id, f.model == model)
                           .order_by(f.window_no, f.sku_id, f.region_id, f.day)).all()
    schema = {"window_no": pl.Int32, "sku_id": pl.String, "region_id": pl.String, "model": pl.String, "day": pl.Date,
              "step": pl.Int32, "y": pl.Float64, "yhat": pl.Float64, "lo80": pl.Float64, "hi80": pl.Float64,
              "lo95": pl.Float64, "hi95": pl.Float64, "produced_by": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def add_metrics(*, session: Session, run_id: int, metrics: pl.DataFrame) -> int:
    """Bulk-write more metric rows (METRIC_COLUMNS) to a complete run, replacing its rows of the same
    models and metrics; returns how many were written."""
    pairs = metrics.select("model", "metric").unique().rows()
    for model, metric in pairs:
        session.execute(delete(BacktestMetric).where(BacktestMetric.run_id == run_id, BacktestMetric.model == model,
                                                     BacktestMetric.metric == metric))
    return insert_frame(session, "backtest_metric", metrics.select(pl.lit(run_id).cast(pl.Int64).alias("run_id"),
                                                                     *METRIC_COLUMNS))


def read_metrics(*, session: Session, run_id: int, pooled_only: bool = False, window: int | None = None,
                 step: int | None = None) -> pl.DataFrame:
    """Metric rows of a run (METRIC_COLUMNS), optionally only the pooled ones (POOLED), one window or one step."""
    m = BacktestMetric
    stmt = select(*(getattr(m, c) for c in METRIC_COLUMNS)).where(m.run_id == run_id)
    if pooled_only:
        stmt = stmt.where(m.sku_id == POOLED)
    if window is not None:
        stmt = stmt.where(m.window_no == window)
    if step is not None:
        stmt = stmt.where(m.step == step)
    rows = session.execute(stmt.order_by(m.window_no, m.model, m.metric, m.sku_id, m.region_id, m.step)).all()
    return pl.DataFrame(rows, schema=METRIC_SCHEMA, orient="row")


def newest_run_with_metric(*, session: Session, metric: str) -> int | None:
    """The newest run that holds rows of `metric` (e.g. the level metrics `demand backtest reconcile`
    adds), if any."""
    m = BacktestMetric
    return session.scalar(select(m.run_id).where(m.metric == metric).order_by(m.run_id.desc()).limit(1))


def read_run_columns(*, session: Session, run_id: int, columns: tuple[str, ...]) -> pl.DataFrame:
    """`columns` (of FORECAST_COLUMNS) of every forecast row of a run, every model, unordered."""
    f = BacktestForecast
    rows = session.execute(select(*(getattr(f, c) for c in columns)).where(f.run_id == run_id)).all()
    return pl.DataFrame(rows, schema=list(columns), orient="row")


def series_metrics(*, session: Session, run_id: int, sku: str, region: str, metrics: list[str]) -> pl.DataFrame:
    """model, metric, value of one series over every window of a run (step 0: the whole horizon)."""
    m = BacktestMetric
    rows = session.execute(select(m.model, m.metric, m.value).where(  # the primary key's prefix: an index seek
        m.run_id == run_id, m.window_no == ALL_WINDOWS, m.sku_id == sku, m.region_id == region, m.step == 0,
        m.metric.in_(metrics))).all()
    return pl.DataFrame(rows, schema={"model": pl.String, "metric": pl.String, "value": pl.Float64}, orient="row")

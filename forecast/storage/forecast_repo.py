"""Forecast runs: draft, write values in bulk, publish in one transaction. Functions never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session

from forecast.errors import DemandError
from forecast.storage.bulk import insert_frame
from forecast.storage.schema import ForecastRun, ForecastValue, PublishedSeries, utcnow

__all__ = [
    "VALUE_COLUMNS",
    "IncompleteRunError",
    "create_run",
    "write_values",
    "write_contributions",
    "publish_run",
    "fail_run",
    "record_duration",
    "record_config",
    "list_runs",
    "read_published",
    "write_totals",
    "read_published_totals",
]

VALUE_COLUMNS = ("sku_id", "region_id", "day", "yhat", "lo80", "hi80", "lo95", "hi95", "model")
TOTAL_COLUMNS = ("level", "node", "day", "yhat", "lo80", "hi80", "lo95", "hi95", "base_yhat")


class IncompleteRunError(DemandError):
    """A run cannot be published because some series lack rows for part of the horizon."""


def create_run(*, session: Session, cutoff: dt.date, horizon: int, frequency: str, config: dict[str, Any],
               code_version: str, kind: str = "forecast") -> ForecastRun:
    """Insert a draft run and return it (with its id)."""
    run = ForecastRun(kind=kind, cutoff=cutoff, horizon=horizon, frequency=frequency, config=config,
                      code_version=code_version, status="draft")
    session.add(run)
    session.flush()
    return run


def write_values(*, session: Session, run_id: int, values: pl.DataFrame) -> int:
    """Bulk-write a run's forecast rows (`VALUE_COLUMNS`); returns how many."""
    frame = values.select(pl.lit(run_id).cast(pl.Int64).alias("run_id"), *VALUE_COLUMNS)
    return insert_frame(session, "forecast_value", frame)


def write_contributions(*, session: Session, run_id: int, contributions: pl.DataFrame) -> int:
    """Bulk-write per-row signal contributions (sku_id, region_id, day, feature, contribution)."""
    frame = contributions.select(pl.lit(run_id).cast(pl.Int64).alias("run_id"), "sku_id", "region_id", "day",
                                 "feature", "contribution")
    return insert_frame(session, "forecast_contribution", frame)


def write_totals(*, session: Session, run_id: int, totals: pl.DataFrame) -> int:
    """Bulk-write a run's reconciled aggregate rows (`TOTAL_COLUMNS`); returns how many."""
    frame = totals.select(pl.lit(run_id).cast(pl.Int64).alias("run_id"), *TOTAL_COLUMNS)
    return insert_frame(session, "forecast_total", frame)


def _check_complete(session: Session, run: ForecastRun) -> int:
    """Number of series in the run; raises when one has fewer or more rows than the horizon."""
    counts = (select(ForecastValue.sku_id, ForecastValue.region_id, func.count().label("n"))
              .where(ForecastValue.run_id == run.id).group_by(ForecastValue.sku_id, ForecastValue.region_id)
              .subquery())
    series, wrong = session.execute(
        select(func.count(), func.sum(case((counts.c.n != run.horizon, 1), else_=0)))
    ).one()
    if not series:
        raise IncompleteRunError(f"run {run.id} has no forecast rows; nothing to publish")
    if wrong:
        raise IncompleteRunError(f"run {run.id}: {int(wrong)} series do not have exactly {run.horizon} rows; "
                                 "the run stays a draft")
    return series


def publish_run(*, session: Session, run_id: int) -> ForecastRun:
    """Point every series of the run at it and mark it published; superseded runs are marked so.

    Everything happens in the caller's transaction, so readers of `published_forecast` switch from the
    old run to the new one for all series at once.
    """
    run = session.get(ForecastRun, run_id, with_for_update=True)
    if run is None or run.kind != "forecast" or run.status != "draft":
        raise DemandError(f"run {run_id} is not a draft forecast run; only drafts can be published")
    run.series_count = _check_complete(session, run)
    now = utcnow()
    dialect = session.get_bind().dialect.name
    upsert = ("INSERT INTO published_series (sku_id, region_id, run_id, published_at) "
              "SELECT DISTINCT sku_id, region_id, :run, :now FROM forecast_value WHERE run_id = :run "
              + ("" if dialect == "postgresql" else "AND true ")
              + "ON CONFLICT (sku_id, region_id) DO UPDATE SET run_id = excluded.run_id, published_at = excluded.published_at")
    session.execute(text(upsert), {"run": run_id, "now": now})
    run.status, run.published_at = "published", now
    still_pointed = select(PublishedSeries.run_id).distinct()
    session.execute(update(ForecastRun).where(ForecastRun.status == "published", ForecastRun.id != run_id,
                                              ForecastRun.id.not_in(still_pointed)).values(status="superseded"))
    session.flush()
    return run


def record_duration(*, session: Session, run_id: int, seconds: float) -> None:
    """Store how long the run took, up to its publish."""
    session.execute(update(ForecastRun).where(ForecastRun.id == run_id).values(duration_seconds=round(seconds, 2)))


def record_config(*, session: Session, run_id: int, **entries: Any) -> None:
    """Add `entries` to the run's config (e.g. how its models were chosen)."""
    run = session.get(ForecastRun, run_id)
    run.config = {**run.config, **entries}  # a new dict, so the JSON column is written


def fail_run(*, session: Session, run_id: int, error: str, duration_seconds: float | None = None) -> None:
    """Mark a draft run failed with its error (one line kept first)."""
    session.execute(update(ForecastRun).where(ForecastRun.id == run_id, ForecastRun.status == "draft")
                    .values(status="failed", error=error[:4000], duration_seconds=duration_seconds))


def list_runs(*, session: Session, limit: int = 20) -> Sequence[ForecastRun]:
    """Newest runs first."""
    return session.scalars(select(ForecastRun).order_by(ForecastRun.id.desc()).limit(limit)).all()


def read_published(*, session: Session, sku: str | None = None, region: str | None = None) -> pl.DataFrame:
    """Rows of the `published_forecast` view (optionally one SKU and/or region), ordered."""
    clauses, params = [], {}
    if sku is not None:
        clauses.append("sku = :sku")
        params["sku"] = sku
    if region is not None:
        clauses.append("region = :region")
        params["region"] = region
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = session.execute(text(f"SELECT sku, region, day, yhat, lo80, hi80, lo95, hi95, model, run_id, published_at "
                                f"FROM published_forecast{where} ORDER BY sku, region, day"), params).all()
    schema = {"sku": pl.String, "region": pl.String, "day": pl.Date, "yhat": pl.Float64, "lo80": pl.Float64,
              "hi80": pl.Float64, "lo95": pl.Float64, "hi95": pl.Float64, "model": pl.String, "run_id": pl.Int64,
              "published_at": pl.String}
    # SQLite returns the view's date and time as text, PostgreSQL as objects
    normal = [(*r[:2], r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(r[2]), *r[3:10], str(r[10]))
              for r in rows]
    return pl.DataFrame(normal, schema=schema, orient="row")


def read_published_totals(*, session: Session, level: str | None = None) -> pl.DataFrame:
    """Rows of the `published_total` view (the newest published run's reconciled aggregates; optionally
    one level), ordered by level, node, day."""
    where, params = ("", {}) if level is None else (" WHERE level = :level", {"level": level})
    rows = session.execute(text(f"SELECT level, node, day, yhat, lo80, hi80, lo95, hi95, base_yhat, run_id "
                                f"FROM published_total{where} ORDER BY level, node, day"), params).all()
    schema = {"level": pl.String, "node": pl.String, "day": pl.Date, "yhat": pl.Float64, "lo80": pl.Float64,
              "hi80": pl.Float64, "lo95": pl.Float64, "hi95": pl.Float64, "base_yhat": pl.Float64, "run_id": pl.Int64}
    normal = [(*r[:2], r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(r[2]), *r[3:]) for r in rows]
    return pl.DataFrame(normal, schema=schema, orient="row")

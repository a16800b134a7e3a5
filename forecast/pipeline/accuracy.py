"""Accuracy tracking: as actuals arrive, put them beside what was published for those days.

For day D and lag k (1, 7, 28 days) the tracked forecast is the newest published run (by cutoff,
then publish time) whose cutoff is at most D - k and which forecast D for that series: what a
warehouse reading `published_forecast` k days ahead would have acted on.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from forecast.storage.bulk import insert_frame
from forecast.storage.engine import session_scope
from forecast.storage.schema import ACCURACY_LAGS, ForecastAccuracy, ForecastRun, ForecastValue, Sales, utcnow

__all__ = ["REVISIT_DAYS", "accuracy_summary", "track_accuracy"]

REVISIT_DAYS = 35
"""Tracked days this recent are recomputed on every pass, so late sales corrections are taken in."""

VALUE_COLUMNS = ["run_id", "model", "yhat", "lo80", "hi80", "lo95", "hi95"]


def _candidates(session: Session, since: dt.date) -> pl.DataFrame:
    """Published forecast rows for days from `since` that have an actual, with their run's cutoff."""
    query = (select(ForecastValue.sku_id, ForecastValue.region_id, ForecastValue.day, ForecastRun.cutoff,
                    ForecastRun.published_at, *(getattr(ForecastValue, c) for c in VALUE_COLUMNS),
                    Sales.units.label("actual"))
             .join(ForecastRun, ForecastRun.id == ForecastValue.run_id)
             .join(Sales, (Sales.sku_id == ForecastValue.sku_id) & (Sales.region_id == ForecastValue.region_id)
                   & (Sales.day == ForecastValue.day))
             .where(ForecastRun.published_at.is_not(None), ForecastValue.day >= since))
    rows = session.execute(query).all()
    schema = {"sku_id": pl.String, "region_id": pl.String, "day": pl.Date, "cutoff": pl.Date,
              "published_at": pl.Datetime("us", "UTC"), "run_id": pl.Int64, "model": pl.String,
              **{c: pl.Float64 for c in ("yhat", "lo80", "hi80", "lo95", "hi95", "actual")}}
    return pl.DataFrame(rows, schema=list(schema), orient="row").cast(schema)


def track_accuracy(engine: Engine) -> int:
    """Recompute the tracked rows of the days since the last pass (less `REVISIT_DAYS`); returns how many.

    Runs in one transaction: readers see the old rows or the new ones.
    """
    with session_scope(engine) as session:
        last = session.scalar(select(func.max(ForecastAccuracy.day)))
        first_cutoff = session.scalar(select(func.min(ForecastRun.cutoff)).where(ForecastRun.published_at.is_not(None)))
        if first_cutoff is None:
            return 0
        since = max(first_cutoff + dt.timedelta(days=1), (last or first_cutoff) - dt.timedelta(days=REVISIT_DAYS))
        rows = _candidates(session, since)
        lead = (pl.col("day") - pl.col("cutoff")).dt.total_days()
        tracked = pl.concat([
            rows.filter(lead >= lag).sort("cutoff", "published_at", "run_id", descending=True)
            .unique(["sku_id", "region_id", "day"], keep="first", maintain_order=True)
            .with_columns(pl.lit(lag).alias("lag"))
            for lag in ACCURACY_LAGS])
        session.execute(delete(ForecastAccuracy).where(ForecastAccuracy.day >= since))
        frame = tracked.select("sku_id", "region_id", "day", "lag", *VALUE_COLUMNS, "actual",
                               pl.lit(utcnow()).alias("tracked_at")).sort("sku_id", "region_id", "day", "lag")
        return insert_frame(session, "forecast_accuracy", frame) if frame.height else 0


def accuracy_summary(*, session: Session, since: dt.date | None = None) -> pl.DataFrame:
    """Per SKU x region x lag over the tracked days (from `since`): days, mae, wape, bias, coverage_80/95.

    `bias` is sum(forecast - actual) / sum(actual); coverage is the share of actuals inside the band.
    """
    query = select(ForecastAccuracy.sku_id, ForecastAccuracy.region_id, ForecastAccuracy.lag,
                   ForecastAccuracy.yhat, ForecastAccuracy.lo80, ForecastAccuracy.hi80, ForecastAccuracy.lo95,
                   ForecastAccuracy.hi95, ForecastAccuracy.actual)
    if since is not None:
        query = query.where(ForecastAccuracy.day >= since)
    rows = session.execute(query).all()
    names = ["sku_id", "region_id", "lag", "yhat", "lo80", "hi80", "lo95", "hi95", "actual"]
    frame = pl.DataFrame(rows, schema=names, orient="row")
    if frame.is_empty():
        return pl.DataFrame(schema={"sku_id": pl.String, "region_id": pl.String, "lag": pl.Int64, "days": pl.UInt32,
                                    "mae": pl.Float64, "wape": pl.Float64, "bias": pl.Float64,
                                    "coverage_80": pl.Float64, "coverage_95": pl.Float64})
    err = pl.col("yhat") - pl.col("actual")
    inside = lambda lo, hi: ((pl.col("actual") >= pl.col(lo)) & (pl.col("actual") <= pl.col(hi))).mean()  # noqa: E731
    return frame.group_by("sku_id", "region_id", "lag").agg(
        pl.len().alias("days"), err.abs().mean().alias("mae"),
        (err.abs().sum() / pl.col("actual").sum()).alias("wape"), (err.sum() / pl.col("actual").sum()).alias("bias"),
        inside("lo80", "hi80").alias("coverage_80"), inside("lo95", "hi95").alias("coverage_95"),
    ).sort("sku_id", "region_id", "lag")

"""Tracked accuracy: published forecasts beside their actuals (`forecast_accuracy`), and the reads the
tracking pass and the dashboard make of them. Functions take `*, session` and never commit."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from forecast.storage.bulk import insert_frame
from forecast.storage.schema import ForecastAccuracy, ForecastRun, ForecastValue, Sales, Sku

__all__ = ["VALUE_COLUMNS", "first_published_cutoff", "last_tracked_day", "published_with_actuals", "read_tracked",
           "replace_tracked", "tracked_with_groups"]

VALUE_COLUMNS = ["run_id", "model", "yhat", "lo80", "hi80", "lo95", "hi95"]
"""The columns of a tracked row taken from the published forecast value."""
BANDS = ("yhat", "lo80", "hi80", "lo95", "hi95")


def last_tracked_day(*, session: Session) -> dt.date | None:
    """The newest tracked day (None before the first pass)."""
    return session.scalar(select(func.max(ForecastAccuracy.day)))


def first_published_cutoff(*, session: Session) -> dt.date | None:
    """The oldest cutoff of a published run (None when nothing was published)."""
    return session.scalar(select(func.min(ForecastRun.cutoff)).where(ForecastRun.published_at.is_not(None)))


def published_with_actuals(*, session: Session, since: dt.date) -> pl.DataFrame:
    """Published forecast rows for days from `since` that have an actual, with their run's cutoff and
    publish time: sku_id, region_id, day, cutoff, published_at, `VALUE_COLUMNS`, actual."""
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
              **{c: pl.Float64 for c in (*BANDS, "actual")}}
    return pl.DataFrame(rows, schema=list(schema), orient="row").cast(schema)


def replace_tracked(*, session: Session, since: dt.date, rows: pl.DataFrame) -> int:
    """Delete the tracked rows of the days from `since` and bulk-write `rows` (the table's columns)."""
    session.execute(delete(ForecastAccuracy).where(ForecastAccuracy.day >= since))
    return insert_frame(session, "forecast_accuracy", rows) if rows.height else 0


def read_tracked(*, session: Session, columns: tuple[str, ...], since: dt.date | None = None,
                 lag: int | None = None) -> pl.DataFrame:
    """`columns` of the tracked rows (of days from `since`, of one `lag`), in the order asked."""
    a = ForecastAccuracy
    query = select(*(getattr(a, c) for c in columns))
    if since is not None:
        query = query.where(a.day >= since)
    if lag is not None:
        query = query.where(a.lag == lag)
    return pl.DataFrame(session.execute(query).all(), schema=list(columns), orient="row")


def tracked_with_groups(*, session: Session) -> pl.DataFrame:
    """Every tracked row with what it can be grouped by: lag, model, category, region, yhat, actual and
    the band limits (rows of SKUs not in the master data left out)."""
    a = ForecastAccuracy
    rows = session.execute(select(a.lag, a.model, Sku.category, a.region_id.label("region"), a.yhat, a.actual,
                                  a.lo80, a.hi80, a.lo95, a.hi95).join(Sku, Sku.id == a.sku_id)).all()
    return pl.DataFrame(rows, schema=["lag", "model", "category", "region", "yhat", "actual", "lo80", "hi80", "lo95",
                                      "hi95"], orient="row")

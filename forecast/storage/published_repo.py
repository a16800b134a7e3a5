"""Reads of forecast runs' values and of what is published: one series' values in a run, the run
published for it and the one before, XGBoost contributions, and the sums the dashboard shows.
Functions take `*, session` and never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from forecast.storage.sales_repo import in_group
from forecast.storage.schema import ForecastContribution, ForecastRun, ForecastValue, PublishedSeries, Region, Sales, Sku

__all__ = ["CONTRIBUTION_SCHEMA", "category_totals", "forecast_runs_between", "run_series_models", "contribution_rows", "daily_forecast_totals", "get_run",
           "group_daily_sums", "latest_published_run", "previous_run_of", "published_run_of", "published_run_ids",
           "read_run_values", "series_index", "series_values"]

CONTRIBUTION_SCHEMA = {"run_id": pl.Int64, "day": pl.Date, "feature": pl.String, "contribution": pl.Float64}


def get_run(*, session: Session, run_id: int) -> ForecastRun | None:
    """Forecast run `run_id` (None when there is none)."""
    return session.get(ForecastRun, run_id)


def latest_published_run(*, session: Session) -> ForecastRun | None:
    """The run published most recently (None before the first publish)."""
    return session.scalars(select(ForecastRun).where(ForecastRun.status == "published")
                           .order_by(ForecastRun.published_at.desc()).limit(1)).first()


def published_run_of(*, session: Session, sku: str, region: str) -> int | None:
    """The run published for one SKU x region (None when nothing is)."""
    return session.scalar(select(PublishedSeries.run_id).where(
        PublishedSeries.sku_id == sku, PublishedSeries.region_id == region))


def previous_run_of(*, session: Session, sku: str, region: str, before: int) -> int | None:
    """The newest published or superseded run before run `before` that forecast one SKU x region."""
    v = ForecastValue
    return session.scalar(select(func.max(v.run_id)).join(ForecastRun, ForecastRun.id == v.run_id).where(
        v.sku_id == sku, v.region_id == region, v.run_id < before, ForecastRun.status.in_(("published", "superseded"))))


def series_values(*, session: Session, run_id: int, sku: str, region: str) -> pl.DataFrame:
    """day, yhat, model of one SKU x region in run `run_id`, by day (empty when the run has none)."""
    v = ForecastValue
    rows = session.execute(select(v.day, v.yhat, v.model).where(v.run_id == run_id, v.sku_id == sku,
                                                                 v.region_id == region).order_by(v.day)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "yhat": pl.Float64, "model": pl.String}, orient="row")


def contribution_rows(*, session: Session, run_ids: list[int], sku: str, region: str,
                      days: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    """run_id, day, feature, contribution of one SKU x region in `run_ids` (optionally over `days`, both
    ends in), with the model of the stored forecast of that day; ordered by run, day, feature."""
    c, v = ForecastContribution, ForecastValue
    query = select(c.run_id, c.day, c.feature, c.contribution, v.model).join(
        v, (v.run_id == c.run_id) & (v.sku_id == c.sku_id) & (v.region_id == c.region_id) & (v.day == c.day)).where(
        c.run_id.in_(run_ids), c.sku_id == sku, c.region_id == region)
    if days is not None:
        query = query.where(c.day.between(*days))
    return pl.DataFrame(session.execute(query.order_by(c.run_id, c.day, c.feature)).all(),
                        schema={**CONTRIBUTION_SCHEMA, "model": pl.String}, orient="row")


def _published_rows() -> Select:
    """`published_forecast` as SQLAlchemy sees it: forecast values of the run each series points to."""
    v, p = ForecastValue, PublishedSeries
    return select().select_from(v).join(p, (p.run_id == v.run_id) & (p.sku_id == v.sku_id)
                                        & (p.region_id == v.region_id))


def published_run_ids(*, session: Session, limit: int) -> list[int]:
    """The ids of the `limit` runs published most recently (superseded ones included), newest first."""
    return list(session.execute(select(ForecastRun.id).where(ForecastRun.published_at.is_not(None))
                                .order_by(ForecastRun.published_at.desc()).limit(limit)).scalars().all())


def read_run_values(*, session: Session, run_ids: list[int]) -> pl.DataFrame:
    """run_id, sku, region, day, yhat of every forecast value of `run_ids`."""
    v = ForecastValue
    rows = session.execute(select(v.run_id, v.sku_id, v.region_id, v.day, v.yhat).where(v.run_id.in_(run_ids))).all()
    return pl.DataFrame(rows, schema=["run_id", "sku", "region", "day", "yhat"], orient="row")


def series_index(*, session: Session) -> pl.DataFrame:
    """Every published series: sku, region, sku_name, category, region_name, parent; by sku, region."""
    published = pl.DataFrame(session.execute(select(PublishedSeries.sku_id, PublishedSeries.region_id)).all(),
                             schema=["sku", "region"], orient="row")
    skus = pl.DataFrame(session.execute(select(Sku.id, Sku.name, Sku.category)).all(),
                        schema=["sku", "sku_name", "category"], orient="row")
    regions = pl.DataFrame(session.execute(select(Region.id, Region.name, Region.parent_id)).all(),
                           schema=["region", "region_name", "parent"], orient="row")
    return published.join(skus, on="sku", how="left").join(regions, on="region", how="left").sort("sku", "region")


def category_totals(*, session: Session, days_back: int) -> pl.DataFrame:
    """Per region x category of the published series: forecast units over the published horizon and
    the units sold over the same days `days_back` days earlier (last_year), both summed in the
    database; empty (no columns) when nothing is published."""
    v, p = ForecastValue, PublishedSeries
    first, last = session.execute(_published_rows().add_columns(func.min(v.day), func.max(v.day))).one()
    if first is None:
        return pl.DataFrame()
    forecast = session.execute(_published_rows().add_columns(v.region_id, Sku.category, func.sum(v.yhat))
                               .join(Sku, Sku.id == v.sku_id, isouter=True).group_by(v.region_id, Sku.category)).all()
    back = dt.timedelta(days=days_back)
    earlier = session.execute(
        select(Sales.region_id, Sku.category, func.sum(Sales.units))
        .join(p, (p.sku_id == Sales.sku_id) & (p.region_id == Sales.region_id))
        .join(Sku, Sku.id == Sales.sku_id, isouter=True)
        .where(Sales.day.between(first - back, last - back))
        .group_by(Sales.region_id, Sku.category)).all()
    keys = {"region": pl.String, "category": pl.String}
    return pl.DataFrame(forecast, schema={**keys, "forecast": pl.Float64}, orient="row").join(
        pl.DataFrame(earlier, schema={**keys, "last_year": pl.Float64}, orient="row"),
        on=["region", "category"], how="left", nulls_equal=True)


def group_daily_sums(*, session: Session, category: str | None, region: str | None) -> pl.DataFrame:
    """The published forecast summed over a category and/or region (None: all) per day: day, yhat, the
    sums of the band limits (lo80, hi80, lo95, hi95) and series (how many)."""
    v = ForecastValue
    sums = [func.sum(c) for c in (v.yhat, v.lo80, v.hi80, v.lo95, v.hi95)]
    query = in_group(_published_rows().add_columns(v.day, *sums, func.count()), v.sku_id, v.region_id,
                     category, region)
    rows = session.execute(query.group_by(v.day).order_by(v.day)).all()
    return pl.DataFrame(rows, schema={"day": pl.Date, "yhat": pl.Float64, "lo80": pl.Float64, "hi80": pl.Float64,
                                      "lo95": pl.Float64, "hi95": pl.Float64, "series": pl.Int64}, orient="row")


def daily_forecast_totals(*, session: Session) -> pl.DataFrame:
    """day, forecast: the `published_forecast` view summed per day, by day."""
    rows = session.execute(text("SELECT day, sum(yhat) FROM published_forecast GROUP BY day ORDER BY day")).all()
    # SQLite returns the view's dates as text, PostgreSQL as objects
    return pl.DataFrame([(d if isinstance(d, dt.date) else dt.date.fromisoformat(d), y) for d, y in rows],
                        schema={"day": pl.Date, "forecast": pl.Float64}, orient="row")


def forecast_runs_between(*, session: Session, oldest: dt.date, before: dt.date) -> Sequence[ForecastRun]:
    """Published (or superseded) nightly runs (kind `forecast`) with cutoffs in [oldest, before), newest first."""
    return session.scalars(select(ForecastRun).where(
        ForecastRun.kind == "forecast", ForecastRun.status.in_(("published", "superseded")),
        ForecastRun.cutoff < before, ForecastRun.cutoff >= oldest).order_by(ForecastRun.id.desc())).all()


def run_series_models(*, session: Session, run_id: int) -> pl.DataFrame:
    """sku, region, model: the distinct models a run's stored values of each series name."""
    v = ForecastValue
    rows = session.execute(select(v.sku_id, v.region_id, v.model).where(v.run_id == run_id).distinct()).all()
    return pl.DataFrame(rows, schema=["sku", "region", "model"], orient="row")

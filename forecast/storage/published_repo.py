"""Reads of forecast runs' values and of what is published: one series' values in a run, the run
published for it and the one before, XGBoost contributions, and the sums the dashboard shows.
Functions take `*, session` and never commit."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from forecast.storage.schema import ForecastContribution, ForecastRun, ForecastValue, PublishedSeries

__all__ = ["CONTRIBUTION_SCHEMA", "contribution_rows", "get_run", "latest_published_run", "previous_run_of",
           "published_run_of", "series_values"]

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


def published_rows() -> Select:
    """`published_forecast` as SQLAlchemy sees it: forecast values of the run each series points to."""
    v, p = ForecastValue, PublishedSeries
    return select().select_from(v).join(p, (p.run_id == v.run_id) & (p.sku_id == v.sku_id)
                                        & (p.region_id == v.region_id))

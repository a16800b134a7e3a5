"""Regional-shock checks (`shock_check`) and the earlier forecasts their breakout trigger reads. Functions never commit."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from forecast.storage.bulk import insert_frame
from forecast.storage.schema import ForecastRun, ForecastValue, ShockCheck

__all__ = ["earlier_bands", "latest_checks", "read_checks", "write_checks"]

_SCHEMA = {"checked_on": pl.Date, "region": pl.String, "active": pl.Boolean, "triggered": pl.Boolean,
           "cases_week_per_100k": pl.Float64, "case_rise": pl.Float64, "breakout_series": pl.Int64,
           "breakout_share": pl.Float64, "breakout_above": pl.Float64, "raised_on": pl.Date, "last_trigger": pl.Date,
           "reason": pl.String}
"""What the read functions return: the day and region of a check, then its columns (`_COLUMNS`)."""
_COLUMNS = tuple(_SCHEMA)[2:]


def write_checks(*, session: Session, checked_on: dt.date, checks: pl.DataFrame) -> int:
    """Store the checks of `checked_on` (region + the shock CHECK_SCHEMA columns), replacing that day's; returns how many."""
    session.execute(delete(ShockCheck).where(ShockCheck.checked_on == checked_on))
    frame = checks.select(pl.lit(checked_on).alias("checked_on"), pl.col("region").alias("region_id"), *_COLUMNS,
                          pl.lit(dt.datetime.now(dt.UTC)).alias("created_at"))
    return insert_frame(session, "shock_check", frame)


def _frame(session: Session, statement: Select) -> pl.DataFrame:
    return pl.DataFrame(session.execute(statement).all(), schema=_SCHEMA, orient="row")


def _selected() -> Select:
    return select(ShockCheck.checked_on, ShockCheck.region_id, *(getattr(ShockCheck, c) for c in _COLUMNS))


def latest_checks(*, session: Session, before: dt.date | None = None) -> pl.DataFrame:
    """Each region's newest check (checked before `before` when given): checked_on, region and the check columns."""
    newest = select(ShockCheck.region_id, func.max(ShockCheck.checked_on).label("day")).group_by(ShockCheck.region_id)
    if before is not None:
        newest = newest.where(ShockCheck.checked_on < before)
    newest = newest.subquery()
    return _frame(session, _selected().join(newest, (ShockCheck.region_id == newest.c.region_id)
                                            & (ShockCheck.checked_on == newest.c.day)).order_by(ShockCheck.region_id))


def read_checks(*, session: Session, since: dt.date | None = None, region: str | None = None) -> pl.DataFrame:
    """Every check from `since` (of `region` when given), oldest first."""
    statement = _selected().order_by(ShockCheck.checked_on, ShockCheck.region_id)
    if since is not None:
        statement = statement.where(ShockCheck.checked_on >= since)
    if region is not None:
        statement = statement.where(ShockCheck.region_id == region)
    return _frame(session, statement)


def earlier_bands(*, session: Session, since: dt.date, until: dt.date, horizon: int) -> pl.DataFrame:
    """sku, region, ds, lo80, hi80: for each series and day in (since, until], the band of the newest
    published (or since superseded) run whose cutoff came before that day, looking back `horizon` days."""
    runs = select(ForecastRun.id, ForecastRun.cutoff).where(
        ForecastRun.status.in_(("published", "superseded")), ForecastRun.cutoff < until,
        ForecastRun.cutoff >= since - dt.timedelta(days=horizon)).subquery()
    statement = select(ForecastValue.sku_id, ForecastValue.region_id, ForecastValue.day, runs.c.cutoff,
                       ForecastValue.lo80, ForecastValue.hi80).join(runs, ForecastValue.run_id == runs.c.id).where(
        ForecastValue.day > since, ForecastValue.day <= until, ForecastValue.day > runs.c.cutoff)
    frame = pl.DataFrame(session.execute(statement).all(), orient="row",
                         schema={"sku": pl.String, "region": pl.String, "ds": pl.Date, "cutoff": pl.Date,
                                 "lo80": pl.Float64, "hi80": pl.Float64})
    return frame.sort("cutoff").unique(["sku", "region", "ds"], keep="last").drop("cutoff")

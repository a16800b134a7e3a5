"""Accuracy tracking: as actuals arrive, put them beside what was published for those days.

For day D and lag k (1, 7, 28 days) the tracked forecast is the newest published run (by cutoff,
then publish time) whose cutoff is at most D - k and which forecast D for that series: what a
warehouse reading `published_forecast` k days ahead would have acted on.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from forecast.storage import accuracy_repo
from forecast.storage.accuracy_repo import VALUE_COLUMNS
from forecast.storage.engine import session_scope
from forecast.storage.schema import ACCURACY_LAGS, utcnow

__all__ = ["REVISIT_DAYS", "accuracy_summary", "track_accuracy"]

REVISIT_DAYS = 35
"""Tracked days this recent are recomputed on every pass, so late sales corrections are taken in."""


def track_accuracy(engine: Engine) -> int:
    """Recompute the tracked rows of the days since the last pass (less `REVISIT_DAYS`); returns how many.

    Runs in one transaction: readers see the old rows or the new ones.
    """
    with session_scope(engine) as session:
        last = accuracy_repo.last_tracked_day(session=session)
        first_cutoff = accuracy_repo.first_published_cutoff(session=session)
        if first_cutoff is None:
            return 0
        since = max(first_cutoff + dt.timedelta(days=1), (last or first_cutoff) - dt.timedelta(days=REVISIT_DAYS))
        rows = accuracy_repo.published_with_actuals(session=session, since=since)
        lead = (pl.col("day") - pl.col("cutoff")).dt.total_days()
        tracked = pl.concat([
            rows.filter(lead >= lag).sort("cutoff", "published_at", "run_id", descending=True)
            .unique(["sku_id", "region_id", "day"], keep="first", maintain_order=True)
            .with_columns(pl.lit(lag).alias("lag"))
            for lag in ACCURACY_LAGS])
        frame = tracked.select("sku_id", "region_id", "day", "lag", *VALUE_COLUMNS, "actual",
                               pl.lit(utcnow()).alias("tracked_at")).sort("sku_id", "region_id", "day", "lag")
        return accuracy_repo.replace_tracked(session=session, since=since, rows=frame)


def accuracy_summary(*, session: Session, since: dt.date | None = None) -> pl.DataFrame:
    """Per SKU x region x lag over the tracked days (from `since`): days, mae, wape, bias, coverage_80/95.

    `bias` is sum(forecast - actual) / sum(actual); coverage is the share of actuals inside the band.
    """
    frame = accuracy_repo.read_tracked(session=session, since=since, columns=(
        "sku_id", "region_id", "lag", "yhat", "lo80", "hi80", "lo95", "hi95", "actual"))
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

"""Accuracy tracking: each actual beside what was published for its day 1, 7 and 28 days ahead."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import Engine, func, select

from forecast.pipeline.accuracy import accuracy_summary, track_accuracy
from forecast.pipeline.run import run_forecast
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastAccuracy, ForecastValue, Sales


def _frame(engine: Engine, *columns) -> pl.DataFrame:
    """The columns' rows, typed by the schema (SQLite keeps days as text)."""
    with session_scope(engine) as session:
        result = session.execute(select(*columns))
        return pl.DataFrame(result.all(), schema=list(result.keys()), orient="row")


def test_tracked_rows_hold_the_newest_run_published_at_least_lag_days_ahead(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    early = run_forecast(loaded, horizon=28, models=["SeasonalNaive"], cutoff=last - dt.timedelta(days=30))
    late = run_forecast(loaded, horizon=28, models=["SeasonalNaive"], cutoff=last - dt.timedelta(days=10))
    written = track_accuracy(loaded)

    tracked = _frame(loaded, *ForecastAccuracy.__table__.columns)
    assert written == tracked.height > 0
    early_cut, late_cut = dt.date.fromisoformat(early.cutoff), dt.date.fromisoformat(late.cutoff)
    expected_run = pl.when(pl.col("day") - pl.duration(days=pl.col("lag")) >= late_cut).then(late.run_id).otherwise(
        early.run_id)
    assert tracked.filter(pl.col("run_id") != expected_run).is_empty()
    # lag 28 exists only for days at least 28 days after a cutoff: the early run's last day
    assert tracked.filter(pl.col("lag") == 28)["day"].unique().to_list() == [early_cut + dt.timedelta(days=28)]
    # lag 1 covers every day after the early cutoff that has an actual
    assert tracked.filter(pl.col("lag") == 1)["day"].n_unique() == 30

    published = _frame(loaded, ForecastValue.run_id, ForecastValue.sku_id, ForecastValue.region_id, ForecastValue.day,
                       ForecastValue.yhat.label("published"))
    joined = tracked.join(published, on=["run_id", "sku_id", "region_id", "day"]).join(
        _frame(loaded, Sales.sku_id, Sales.region_id, Sales.day, Sales.units), on=["sku_id", "region_id", "day"])
    assert joined.height == tracked.height
    assert (joined["yhat"] == joined["published"]).all() and (joined["actual"] == joined["units"]).all()

    assert track_accuracy(loaded) == written  # a second pass recomputes the same rows, nothing doubled
    with session_scope(loaded) as session:
        assert session.scalar(select(func.count()).select_from(ForecastAccuracy)) == written
        summary = accuracy_summary(session=session)
    one = summary.filter(pl.col("lag") == 1).row(0, named=True)
    rows = tracked.filter(pl.col("lag") == 1, pl.col("sku_id") == one["sku_id"],
                          pl.col("region_id") == one["region_id"])
    assert one["days"] == rows.height
    assert abs(one["wape"] - (rows["yhat"] - rows["actual"]).abs().sum() / rows["actual"].sum()) < 1e-12
    assert abs(one["bias"] - (rows["yhat"] - rows["actual"]).sum() / rows["actual"].sum()) < 1e-12


def test_nothing_is_tracked_before_a_run_is_published(loaded: Engine) -> None:
    run_forecast(loaded, horizon=7, models=["SeasonalNaive"], publish=False)
    assert track_accuracy(loaded) == 0

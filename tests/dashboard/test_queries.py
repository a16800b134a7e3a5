"""The dashboard's query layer: forecast value added of overrides, checked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from dashboard.queries import override_value_added
from forecast.pipeline.accuracy import track_accuracy
from forecast.pipeline.run import run_forecast
from forecast.storage.engine import session_scope
from forecast.storage.schema import ForecastAccuracy, ForecastOverride, ForecastValue, Sales


def test_value_added_compares_the_adjusted_with_the_statistical_forecast(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    cutoff = last - dt.timedelta(days=10)
    run_forecast(loaded, horizon=14, models=["SeasonalNaive"], cutoff=cutoff)
    with session_scope(loaded) as session:  # made on the cutoff day, for the days after it
        session.add(ForecastOverride(sku_id="STA-001", region_id="R01", start_day=cutoff + dt.timedelta(days=1),
                                     end_day=last, kind="percent", amount=50.0, reason="fair", created_by="pia",
                                     created_at=dt.datetime.combine(cutoff, dt.time(12), dt.timezone.utc)))
    track_accuracy(loaded)

    added = override_value_added(loaded)
    assert added.select("created_by", "reason", "lag").rows() == [("pia", "fair", 1), ("pia", "fair", 7)]
    with session_scope(loaded) as session:
        rows = pl.DataFrame(session.execute(select(ForecastAccuracy.lag, ForecastAccuracy.yhat, ForecastAccuracy.actual)
                                            .where(ForecastAccuracy.sku_id == "STA-001",
                                                   ForecastAccuracy.region_id == "R01")).all(),
                            schema=["lag", "yhat", "actual"], orient="row")
    lag1 = rows.filter(pl.col("lag") == 1)
    assert added["rows"][0] == lag1.height == 10
    wape = lambda f: float((f - lag1["actual"]).abs().sum() / lag1["actual"].sum())  # noqa: E731
    assert added["wape_statistical"][0] == pytest.approx(wape(lag1["yhat"]))
    assert added["wape_adjusted"][0] == pytest.approx(wape(lag1["yhat"] * 1.5))
    assert added["value_added"][0] == pytest.approx(wape(lag1["yhat"]) - wape(lag1["yhat"] * 1.5))


def test_exceptions_list_the_largest_changes_and_the_worst_tracked_series(loaded: Engine) -> None:
    from dashboard.queries import exceptions

    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
    early = run_forecast(loaded, horizon=28, models=["SeasonalNaive"], cutoff=last - dt.timedelta(days=14)).run_id
    late = run_forecast(loaded, horizon=28, models=["AutoTheta"], cutoff=last).run_id
    track_accuracy(loaded)
    found = exceptions(loaded, limit=5)

    changes = found["changes"]
    assert len(changes) == 5 and changes["change"].abs().is_sorted(descending=True)
    top = changes.row(0, named=True)
    with session_scope(loaded) as session:
        values = pl.DataFrame(session.execute(select(ForecastValue.run_id, ForecastValue.day, ForecastValue.yhat).where(
            ForecastValue.sku_id == top["sku"], ForecastValue.region_id == top["region"])).all(),
            schema=["run_id", "day", "yhat"], orient="row")
    overlap = values.filter(pl.col("day").is_in(values.filter(pl.col("run_id") == early)["day"].implode()))
    assert top["now"] == pytest.approx(overlap.filter(pl.col("run_id") == late)["yhat"].sum())
    assert top["previous"] == pytest.approx(overlap.filter(pl.col("run_id") == early)["yhat"].sum())
    poor = found["poor_accuracy"]
    assert len(poor) == 5 and poor["wape"].is_sorted(descending=True) and (poor["days"] == 14).all()

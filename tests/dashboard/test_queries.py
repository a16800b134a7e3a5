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
from forecast.storage.schema import ForecastAccuracy, ForecastOverride, Sales


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

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
from forecast.storage.schema import ForecastAccuracy, ForecastOverride, ForecastValue, Sales, Sku


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


def test_override_value_added_breaks_down_by_category_and_region(loaded: Engine) -> None:
    with session_scope(loaded) as session:
        last = session.scalar(select(func.max(Sales.day)))
        category = session.scalar(select(Sku.category).where(Sku.id == "STA-001"))
    cutoff = last - dt.timedelta(days=10)
    run_forecast(loaded, horizon=14, models=["SeasonalNaive"], cutoff=cutoff)
    with session_scope(loaded) as session:
        for region in ("R01", "R02"):
            session.add(ForecastOverride(sku_id="STA-001", region_id=region, start_day=cutoff + dt.timedelta(days=1),
                                         end_day=last, kind="percent", amount=-20.0, reason="fair", created_by="pia",
                                         created_at=dt.datetime.combine(cutoff, dt.time(12), dt.timezone.utc)))
    track_accuracy(loaded)
    by_region = override_value_added(loaded, ("region",))
    assert by_region.select("region_id", "lag").rows() == [("R01", 1), ("R01", 7), ("R02", 1), ("R02", 7)]
    by_category = override_value_added(loaded, ("category",))
    assert by_category["category"].to_list() == [category, category]
    lag1 = by_region.filter(pl.col("lag") == 1)
    assert by_category.filter(pl.col("lag") == 1)["rows"].item() == lag1["rows"].sum() == 20


def test_model_value_added_is_seasonal_naives_wape_minus_the_models(loaded: Engine) -> None:
    from dashboard.queries import model_value_added
    from forecast.backtest import BacktestConfig, run_backtest
    from forecast.storage.schema import BacktestForecast

    run_id = run_backtest(loaded, BacktestConfig(windows=2, horizon=7, models=("SeasonalNaive", "AutoTheta"))).run_id
    added = model_value_added(loaded, run_id)
    assert set(added["model"]) == {"AutoTheta", "Selected", "Ensemble"}
    with session_scope(loaded) as session:
        rows = pl.DataFrame(session.execute(select(BacktestForecast.model, BacktestForecast.window_no, BacktestForecast.y,
                                                   BacktestForecast.yhat).where(BacktestForecast.run_id == run_id)).all(),
                            schema=["model", "window", "y", "yhat"], orient="row")
    wape = lambda f: float((f["yhat"] - f["y"]).abs().sum() / f["y"].sum())  # noqa: E731
    theta = added.filter(pl.col("model") == "AutoTheta").row(0, named=True)
    assert theta["wape_model"] == pytest.approx(wape(rows.filter(pl.col("model") == "AutoTheta")))
    assert theta["wape_seasonal_naive"] == pytest.approx(wape(rows.filter(pl.col("model") == "SeasonalNaive")))
    # Selected exists from the second window only: it is compared with SeasonalNaive on that window
    selected = added.filter(pl.col("model") == "Selected").row(0, named=True)
    assert selected["wape_seasonal_naive"] == pytest.approx(
        wape(rows.filter((pl.col("model") == "SeasonalNaive") & (pl.col("window") == 1))))
    by_region = model_value_added(loaded, run_id, "region")
    assert by_region.filter(pl.col("model") == "AutoTheta")["rows"].sum() == theta["rows"]
    assert added["value_added"].to_list() == sorted(added["value_added"].to_list(), reverse=True)
    none = run_backtest(loaded, BacktestConfig(windows=1, horizon=7, models=("AutoTheta",))).run_id
    assert model_value_added(loaded, none).is_empty()


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
    shared = set(values.filter(pl.col("run_id") == early)["day"]) & set(values.filter(pl.col("run_id") == late)["day"])
    assert len(shared) == 14  # both runs over the days both cover, not the earlier run's whole horizon
    overlap = values.filter(pl.col("day").is_in(list(shared)))
    assert top["now"] == pytest.approx(overlap.filter(pl.col("run_id") == late)["yhat"].sum())
    assert top["previous"] == pytest.approx(overlap.filter(pl.col("run_id") == early)["yhat"].sum())
    poor = found["poor_accuracy"]
    assert len(poor) == 5 and poor["wape"].is_sorted(descending=True) and (poor["days"] == 14).all()


def test_group_totals_add_up_the_published_series(loaded: Engine) -> None:
    from dashboard.queries import group_forecast, group_history, region_totals
    from forecast.storage import forecast_repo
    from forecast.storage.schema import Sku

    run_forecast(loaded, horizon=14, models=["SeasonalNaive"])
    with session_scope(loaded) as session:
        published = forecast_repo.read_published(session=session)
        categories = dict(session.execute(select(Sku.id, Sku.category)).all())
        sales = pl.DataFrame(session.execute(select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units)).all(),
                             schema=["sku", "region", "day", "units"], orient="row")
    published = published.with_columns(pl.col("sku").replace_strict(categories).alias("category"))
    sales = sales.with_columns(pl.col("sku").replace_strict(categories).alias("category"))
    category = published["category"][0]

    one = published.filter((pl.col("category") == category) & (pl.col("region") == "R02"))
    summed = group_forecast(loaded, category, "R02")
    assert summed["day"].to_list() == one["day"].unique().sort().to_list()
    by_day = one.group_by("day").agg(pl.col("yhat", "hi95").sum(), pl.len().alias("series")).sort("day")
    assert summed["yhat"].to_list() == pytest.approx(by_day["yhat"].to_list())
    assert summed["hi95"].to_list() == pytest.approx(by_day["hi95"].to_list())
    assert summed["series"].to_list() == by_day["series"].to_list()
    assert group_forecast(loaded, None, None)["yhat"].sum() == pytest.approx(published["yhat"].sum())

    history = group_history(loaded, category, None)
    last = sales["day"].max()
    expected = sales.filter((pl.col("category") == category) & (pl.col("day") > last - dt.timedelta(days=365)))
    assert history.height == 365 and history["units"].sum() == pytest.approx(expected["units"].sum())

    totals = region_totals(loaded)
    first_day, last_day = published["day"].min(), published["day"].max()
    year_ago = sales.filter(pl.col("day").is_between(first_day - dt.timedelta(days=364),
                                                     last_day - dt.timedelta(days=364)))
    row = totals.filter((pl.col("region") == "R02") & (pl.col("category") == category)).row(0, named=True)
    assert row["forecast"] == pytest.approx(one["yhat"].sum())
    assert row["last_year"] == pytest.approx(year_ago.filter((pl.col("region") == "R02")
                                                             & (pl.col("category") == category))["units"].sum())
    assert row["change_pct"] == pytest.approx(round((row["forecast"] / row["last_year"] - 1) * 100, 1))

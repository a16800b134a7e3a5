"""ProphetAdapter: output contract, regressors, holidays, fallback, errors, and accuracy on real data."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forecast.models.base import FORECAST_SCHEMA, ModelAdapter, ModelSpec
from forecast.models.prophet_adapter import FALLBACK_MODEL, ProphetAdapter

START = dt.date(2022, 1, 3)
SPEC = [ModelSpec("Prophet")]


def _days(n: int, start: dt.date = START) -> pl.Series:
    return pl.date_range(start, start + dt.timedelta(days=n - 1), eager=True)


def _series(uid: str, y: np.ndarray, start: dt.date = START, **extra: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"unique_id": uid, "ds": _days(len(y), start), "y": y, **extra})


@pytest.fixture(scope="module")
def weekly_history() -> pl.DataFrame:
    """3 daily series x 2 years with weekly seasonality, different levels."""
    rng = np.random.default_rng(7)
    t = np.arange(730)
    week = np.array([0, 2, 4, 6, 8, 14, 10], dtype=float)[t % 7]
    return pl.concat([_series(f"s{i}", level + week + 0.005 * t + rng.normal(0, 2, t.size))
                      for i, level in enumerate((10.0, 40.0, 100.0))])


@pytest.fixture(scope="module")
def weekly_forecast(weekly_history: pl.DataFrame) -> pl.DataFrame:
    return ProphetAdapter().forecast(weekly_history, None, h=14, freq="D", specs=SPEC).forecasts


def test_contract_on_weekly_series(weekly_forecast: pl.DataFrame) -> None:
    fc = weekly_forecast
    assert isinstance(ProphetAdapter(), ModelAdapter)
    assert fc.schema == pl.Schema(FORECAST_SCHEMA)
    assert fc.height == 3 * 14
    assert fc["model"].unique().to_list() == ["Prophet"]
    assert fc.group_by("unique_id").agg(pl.col("ds").min())["ds"].unique().to_list() == [START + dt.timedelta(days=730)]
    assert (fc["yhat"] >= 0).all() and (fc["lo95"] >= 0).all()
    bounds = fc.select("lo95", "lo80", "yhat", "hi80", "hi95").to_numpy()
    assert (np.diff(bounds, axis=1) >= 0).all()
    assert ((fc["hi95"] - fc["lo95"]) > (fc["hi80"] - fc["lo80"])).all()
    # The planted weekly pattern comes through: peak weekday (index 5 from a Monday start) beats the trough.
    s1 = fc.filter(pl.col("unique_id") == "s1").with_columns(pl.col("ds").dt.weekday().alias("wd"))
    assert s1.filter(pl.col("wd") == 6)["yhat"].mean() - s1.filter(pl.col("wd") == 1)["yhat"].mean() > 10


def test_two_processes_give_the_same_seeded_forecast(weekly_history: pl.DataFrame,
                                                     weekly_forecast: pl.DataFrame) -> None:
    adapter = ProphetAdapter(n_jobs=2)
    parallel = adapter.forecast(weekly_history, None, h=14, freq="D", specs=SPEC).forecasts
    assert parallel.equals(weekly_forecast)
    assert adapter.fit_seconds > 0 and adapter.predict_seconds > 0


def test_extra_regressor_effect_is_recovered(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(11)
    n, h = 400, 28
    x = (rng.random(n + h) < 0.3).astype(float)
    history = _series("a", 20 + 15 * x[:n] + rng.normal(0, 2, n), x=x[:n], const=np.ones(n))
    future = pl.DataFrame({"unique_id": "a", "ds": _days(h, START + dt.timedelta(days=n)), "x": x[n:],
                           "const": np.ones(h)})
    with caplog.at_level(logging.DEBUG, logger="forecast.models.prophet_adapter"):
        fc = ProphetAdapter().forecast(history, future, h=h, freq="D", specs=SPEC).forecasts
    assert "skipping constant regressor(s) ['const']" in caplog.text
    assert fc["model"].unique().to_list() == ["Prophet"]
    fc = fc.join(future.select("ds", "x"), on="ds")
    lift = fc.filter(pl.col("x") == 1)["yhat"].mean() - fc.filter(pl.col("x") == 0)["yhat"].mean()
    assert lift == pytest.approx(15, abs=4)


def test_regional_holidays_lift_their_series_only() -> None:
    rng = np.random.default_rng(3)
    n, h = 730, 21
    dates = _days(n)
    promo = [d for d in dates.to_list() if d.day == 15]
    target = START + dt.timedelta(days=n + 9)
    spike = np.where(dates.is_in(promo).to_numpy(), 30.0, 0.0)
    history = pl.concat([_series("a", 50 + spike + rng.normal(0, 2, n)), _series("b", 50 + rng.normal(0, 2, n))])
    holidays = pl.DataFrame({"unique_id": "a", "ds": [*promo, target], "holiday": "promo"})
    spec = [ModelSpec("Prophet", {"holidays": holidays})]
    fc = ProphetAdapter().forecast(history, None, h=h, freq="D", specs=spec).forecasts
    on_day = fc.filter(pl.col("ds") == target)
    others = fc.filter(pl.col("ds") != target).group_by("unique_id").agg(pl.col("yhat").median().alias("base"))
    lift = dict(on_day.join(others, on="unique_id").select("unique_id", pl.col("yhat") - pl.col("base")).iter_rows())
    assert lift["a"] > 20
    assert abs(lift["b"]) < 5


def test_failed_series_falls_back_to_recent_mean(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(5)
    history = pl.concat([_series("ok", 30 + rng.normal(0, 1, 120)), _series("single", np.array([5.0]))])
    with caplog.at_level(logging.WARNING, logger="forecast.models.prophet_adapter"):
        fc = ProphetAdapter().forecast(history, None, h=7, freq="D", specs=SPEC).forecasts
    assert "Prophet failed on series 'single'" in caplog.text
    single = fc.filter(pl.col("unique_id") == "single")
    assert single.height == 7 and single["model"].unique().to_list() == [FALLBACK_MODEL]
    assert single.select(pl.col("yhat", "lo80", "hi80", "lo95", "hi95") == 5.0).to_numpy().all()
    assert single["ds"].min() == START + dt.timedelta(days=1)
    ok = fc.filter(pl.col("unique_id") == "ok")
    assert ok["model"].unique().to_list() == ["Prophet"] and ok.height == 7


def test_regressor_missing_from_future_is_named() -> None:
    history = _series("a", np.arange(30.0), promo=np.tile([0.0, 1.0], 15))
    future = pl.DataFrame({"unique_id": "a", "ds": _days(7, START + dt.timedelta(days=30))})
    with pytest.raises(ValueError, match=r"future lacks regressor column\(s\) \['promo'\]"):
        ProphetAdapter().forecast(history, future, h=7, freq="D", specs=SPEC)
    with pytest.raises(ValueError, match=r"future lacks regressor column\(s\) \['promo'\]"):
        ProphetAdapter().forecast(history, None, h=7, freq="D", specs=SPEC)
    short = future.head(5).with_columns(promo=pl.lit(1.0))
    message = r"future has no value of regressor 'promo' for 2 horizon row\(s\) \(unique_id 'a'\)"
    with pytest.raises(ValueError, match=message):
        ProphetAdapter().forecast(history, short, h=7, freq="D", specs=SPEC)


def test_bad_arguments_are_named() -> None:
    history = _series("a", np.arange(30.0))
    with pytest.raises(ValueError, match=r"freq 'H' is not supported"):
        ProphetAdapter().forecast(history, None, h=7, freq="H", specs=SPEC)
    with pytest.raises(ValueError, match=r"knows only the model 'Prophet'"):
        ProphetAdapter().forecast(history, None, h=7, freq="D", specs=[ModelSpec("AutoETS")])
    with pytest.raises(ValueError, match=r"unknown Prophet parameter\(s\) \['n_changepoint'\]"):
        ProphetAdapter().forecast(history, None, h=7, freq="D", specs=[ModelSpec("Prophet", {"n_changepoint": 3})])
    with pytest.raises(ValueError, match=r"n_jobs must be at least 1"):
        ProphetAdapter(n_jobs=0)


def test_monthly_retail_sales_accuracy(shared_data: Path) -> None:
    sales = pl.read_csv(shared_data / "prophet_example_retail_sales.csv", try_parse_dates=True)
    frame = sales.select(pl.lit("retail").alias("unique_id"), pl.col("ds").cast(pl.Date), pl.col("y").cast(pl.Float64))
    train, test = frame.head(frame.height - 12), frame.tail(12)
    fc = ProphetAdapter().forecast(train, None, h=12, freq="MS", specs=SPEC).forecasts
    assert fc["ds"].to_list() == test["ds"].to_list()
    mape = float((abs(fc["yhat"] - test["y"]) / test["y"]).mean())
    print(f"retail sales, last 12 months held out: MAPE {mape:.2%}")
    assert mape < 0.10

"""StatisticalAdapter on small seeded synthetic series: contract, intervals, fallbacks, regressors, window."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from statsforecast.models import AutoETS

from forecast.models import statistical
from forecast.models.base import FORECAST_SCHEMA, ModelAdapter, ModelSpec
from forecast.models.statistical import StatisticalAdapter

START = dt.date(2023, 1, 2)
H = 14
ALL_MODELS = list(StatisticalAdapter.models)


def _series(uid: str, y: np.ndarray, start: dt.date = START, **exog: np.ndarray) -> pl.DataFrame:
    ds = pl.date_range(start, start + dt.timedelta(days=len(y) - 1), eager=True)
    return pl.DataFrame({"unique_id": uid, "ds": ds, "y": np.asarray(y, dtype=float), **exog})


def _specs(*names: str) -> list[ModelSpec]:
    return [ModelSpec(n) for n in names]


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    """Smooth weekly-seasonal, intermittent Poisson(0.2), all-zero and a 10-point series (200 days)."""
    rng = np.random.default_rng(42)
    t = np.arange(200)
    return pl.concat([
        _series("smooth", 50 + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, t.size)),
        _series("intermittent", rng.poisson(0.2, t.size)),
        _series("zero", np.zeros(t.size)),
        _series("short", rng.poisson(5, 10), start=START + dt.timedelta(days=190)),
    ])


@pytest.fixture(scope="module")
def all_models(panel: pl.DataFrame) -> pl.DataFrame:
    return StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=_specs(*ALL_MODELS)).forecasts


def _rows(out: pl.DataFrame, uid: str, model: str) -> pl.DataFrame:
    return out.filter((pl.col("unique_id") == uid) & (pl.col("model") == model)).sort("ds")


def test_is_a_model_adapter() -> None:
    assert isinstance(StatisticalAdapter(), ModelAdapter)
    assert StatisticalAdapter.family == "statsforecast"


def test_schema_and_row_counts(all_models: pl.DataFrame) -> None:
    assert all_models.schema == pl.Schema(FORECAST_SCHEMA)
    assert all_models.height == 4 * H * len(ALL_MODELS)
    counts = all_models.group_by("unique_id", "model").len()
    assert counts.height == 4 * len(ALL_MODELS) and counts["len"].to_list() == [H] * counts.height
    assert set(all_models["model"]) == set(ALL_MODELS)  # nothing fell back on this panel


def test_every_row_is_non_negative_finite_and_ordered(all_models: pl.DataFrame) -> None:
    cols = ["lo95", "lo80", "yhat", "hi80", "hi95"]
    assert all_models.select(pl.all_horizontal(pl.col(cols).is_finite())).to_series().all()
    assert (all_models["lo95"] >= 0).all()
    for lower, upper in zip(cols, cols[1:]):
        assert (all_models[lower] <= all_models[upper]).all(), f"{lower} > {upper}"


def test_dates_follow_each_series(all_models: pl.DataFrame, panel: pl.DataFrame) -> None:
    last = dict(panel.group_by("unique_id").agg(pl.col("ds").max()).iter_rows())
    for uid, end in last.items():
        ds = _rows(all_models, uid, "AutoETS")["ds"].to_list()
        assert ds == [end + dt.timedelta(days=k) for k in range(1, H + 1)]


def test_seasonal_naive_repeats_last_season(all_models: pl.DataFrame, panel: pl.DataFrame) -> None:
    y = panel.filter(pl.col("unique_id") == "smooth")["y"].to_numpy()
    yhat = _rows(all_models, "smooth", "SeasonalNaive")["yhat"].to_numpy()
    expected = [y[-7 + (k % 7)] for k in range(H)]
    np.testing.assert_allclose(yhat, expected)


def test_zero_forecast_and_zero_series(all_models: pl.DataFrame) -> None:
    zero_model = all_models.filter(pl.col("model") == "ZeroForecast")
    assert zero_model.select(pl.sum_horizontal("yhat", "lo80", "hi80", "lo95", "hi95")).to_series().eq(0).all()
    assert all_models.filter(pl.col("unique_id") == "zero")["hi95"].max() == pytest.approx(0.0, abs=1e-9)


def test_conformal_intervals_and_short_series(all_models: pl.DataFrame) -> None:
    for model in ("CrostonOptimized", "ADIDA", "IMAPA", "TSB"):
        long = _rows(all_models, "intermittent", model)
        assert (long["hi95"] > long["yhat"]).all(), model  # conformal intervals were computed
        short = _rows(all_models, "short", model)          # 10 points < 2 * H + 1: point forecast only
        assert (short["yhat"] > 0).all()
        assert short.select((pl.col("lo95") == pl.col("yhat")) & (pl.col("hi95") == pl.col("yhat"))).to_series().all()


class _FailsOnHighLevel(AutoETS):
    """AutoETS that raises for series above 500 and returns NaN for series above 200 (in `forecast`,
    and in `fit`/`predict`, which the adapter uses to keep the fits)."""

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: ANN001, ANN201
        if y.mean() > 500:
            raise RuntimeError("boom")
        if y.mean() > 200:
            return {"mean": np.full(h, np.nan)}
        return super().forecast(y=y, h=h, X=X, X_future=X_future, level=level, fitted=fitted)

    def fit(self, y, X=None):  # noqa: ANN001, ANN201
        if y.mean() > 500:
            raise RuntimeError("boom")
        self.level_ = y.mean()
        return super().fit(y=y, X=X)

    def predict(self, h, X=None, level=None):  # noqa: ANN001, ANN201
        if self.level_ > 200:
            return {"mean": np.full(h, np.nan)}
        return super().predict(h=h, X=X, level=level)


def test_failed_series_fall_back_and_others_keep_their_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(statistical._FACTORIES, "AutoETS", lambda m, p: _FailsOnHighLevel(**{"season_length": m, **p}))
    rng = np.random.default_rng(3)
    t = np.arange(60)
    history = pl.concat([
        _series("ok", 20 + rng.normal(0, 1, t.size)),
        _series("raises", 1000 + 50 * np.sin(2 * np.pi * t / 7)),
        _series("nan", 300 + rng.normal(0, 1, t.size)),
        _series("tiny", np.full(5, 600.0), start=START + dt.timedelta(days=55)),  # shorter than a season
    ])
    out = StatisticalAdapter().forecast(history, None, h=7, freq="D", specs=_specs("AutoETS", "SeasonalNaive")).forecasts
    models = dict(out.filter(pl.col("model").str.contains("AutoETS")).group_by("unique_id")
                  .agg(pl.col("model").first()).iter_rows())
    assert models == {"ok": "AutoETS", "raises": "SeasonalNaive (fallback from AutoETS)",
                      "nan": "SeasonalNaive (fallback from AutoETS)", "tiny": "HistoricAverage (fallback from AutoETS)"}
    fallback = _rows(out, "raises", "SeasonalNaive (fallback from AutoETS)")["yhat"].to_numpy()
    np.testing.assert_allclose(fallback, _rows(out, "raises", "SeasonalNaive")["yhat"].to_numpy())
    assert _rows(out, "tiny", "HistoricAverage (fallback from AutoETS)")["yhat"].to_list() == [600.0] * 7
    # SeasonalNaive itself cannot cover 7 steps from 5 points: it falls back to the mean, not to itself.
    assert set(out.filter(pl.col("unique_id") == "tiny")["model"]) == {
        "HistoricAverage (fallback from AutoETS)", "HistoricAverage (fallback from SeasonalNaive)"}
    assert out.height == 4 * 7 * 2


def _promo_panel(n: int, h: int, seed: int = 5) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.binomial(1, 0.3, n + h).astype(float)
    y = 5 + 10 * x[:n] + rng.normal(0, 0.5, n)
    ds = pl.date_range(START, START + dt.timedelta(days=n + h - 1), eager=True)
    frame = pl.DataFrame({"unique_id": "promo", "ds": ds, "x": x, "always_on": 1, "note": "free text"})
    history = frame.head(n).with_columns(y=pl.Series(y))
    return history, frame.tail(h), x[n:]


def test_exogenous_regressor_moves_arima() -> None:
    history, future, x_future = _promo_panel(n=120, h=H)
    out = StatisticalAdapter().forecast(history, future, h=H, freq="D", specs=_specs("ARIMA", "AutoETS")).forecasts
    arima = _rows(out, "promo", "ARIMA")["yhat"].to_numpy()
    np.testing.assert_allclose(arima, 5 + 10 * x_future, atol=1.0)  # tracks the known-ahead regressor
    ets = _rows(out, "promo", "AutoETS")["yhat"].to_numpy()
    assert np.ptp(ets) < 2.0  # AutoETS never sees x


def test_max_train_bounds_the_window() -> None:
    rng = np.random.default_rng(11)
    y = np.concatenate([np.full(300, 1000.0), 10 + rng.normal(0, 0.5, 730)])
    history = _series("shift", y)
    spec = _specs("ARIMA")  # ARIMA(0,0,0) with mean: the forecast is the mean of the window
    bounded = StatisticalAdapter().forecast(history, None, h=7, freq="D", specs=spec).forecasts
    assert bounded["yhat"].to_numpy() == pytest.approx(10.0, abs=0.5)
    unbounded = StatisticalAdapter(max_train=None).forecast(history, None, h=7, freq="D", specs=spec).forecasts
    assert unbounded["yhat"].mean() > 250


@pytest.mark.parametrize(("freq", "step"), [("W", 7), ("MS", None)])
def test_weekly_and_monthly_dates(freq: str, step: int | None) -> None:
    n = 60  # more than one 52-week season
    if step:
        ds = [START + dt.timedelta(days=step * i) for i in range(n)]
    else:
        ds = pl.date_range(dt.date(2021, 1, 1), dt.date(2023, 6, 1), interval="1mo", eager=True).to_list()
    history = pl.DataFrame({"unique_id": "s", "ds": ds, "y": np.arange(len(ds), dtype=float)})
    out = StatisticalAdapter().forecast(history, None, h=3, freq=freq, specs=_specs("SeasonalNaive")).forecasts
    expected = ([ds[-1] + dt.timedelta(days=step * k) for k in (1, 2, 3)] if step
                else [dt.date(2023, 7, 1), dt.date(2023, 8, 1), dt.date(2023, 9, 1)])
    assert out["ds"].to_list() == expected
    assert out["model"].to_list() == ["SeasonalNaive"] * 3


def test_parallel_matches_single_process(panel: pl.DataFrame) -> None:
    specs = _specs("SeasonalNaive", "CrostonOptimized", "AutoTheta")
    one = StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=specs).forecasts
    two = StatisticalAdapter(n_jobs=2).forecast(panel, None, h=H, freq="D", specs=specs).forecasts
    assert one.equals(two)


def test_bad_frequency_is_rejected(panel: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"unsupported frequency 'H'; supported: D, W, MS"):
        StatisticalAdapter().forecast(panel, None, h=H, freq="H", specs=_specs("AutoETS"))


def test_future_missing_a_history_column_is_rejected() -> None:
    history, future, _ = _promo_panel(n=60, h=H)
    with pytest.raises(ValueError, match=r"future lacks column\(s\) \['x'\] that history has"):
        StatisticalAdapter().forecast(history, future.drop("x"), h=H, freq="D", specs=_specs("ARIMA"))


def test_future_missing_steps_or_absent_is_rejected() -> None:
    history, future, _ = _promo_panel(n=60, h=H)
    with pytest.raises(ValueError, match=r"future has no value of \['x', 'always_on'\] for 4 row\(s\).*\['promo'\]"):
        StatisticalAdapter().forecast(history, future.head(H - 4), h=H, freq="D", specs=_specs("ARIMA"))
    with pytest.raises(ValueError, match=r"need `future`"):
        StatisticalAdapter().forecast(history, None, h=H, freq="D", specs=_specs("ARIMA"))


def test_unknown_model_and_bad_arguments_are_rejected(panel: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"unknown statsforecast model\(s\) \['Prophet'\]"):
        StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=_specs("Prophet"))
    with pytest.raises(ValueError, match=r"unique names"):
        StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=_specs("TSB", "TSB"))
    with pytest.raises(ValueError, match=r"h must be a positive"):
        StatisticalAdapter().forecast(panel, None, h=0, freq="D", specs=_specs("TSB"))
    with pytest.raises(ValueError, match=r"max_train must be"):
        StatisticalAdapter(max_train=0)


def test_bad_history_is_rejected_and_no_specs_gives_no_rows(panel: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"history lacks column\(s\) \['y'\]"):
        StatisticalAdapter().forecast(panel.drop("y"), None, h=H, freq="D", specs=_specs("TSB"))
    with pytest.raises(ValueError, match=r"history has no rows"):
        StatisticalAdapter().forecast(panel.clear(), None, h=H, freq="D", specs=_specs("TSB"))
    empty = StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=[]).forecasts
    assert empty.is_empty() and empty.schema == pl.Schema(FORECAST_SCHEMA)


def test_zero_when_every_fallback_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from statsforecast.models import NaNModel

    monkeypatch.setitem(statistical._FACTORIES, "HistoricAverage", lambda m, p: NaNModel(**p))
    history = _series("tiny", np.full(5, 3.0))  # SeasonalNaive cannot cover a week from 5 points either
    out = StatisticalAdapter().forecast(history, None, h=7, freq="D", specs=_specs("SeasonalNaive")).forecasts
    assert out["model"].unique().to_list() == ["ZeroForecast (fallback from SeasonalNaive)"]
    assert out.height == 7 and out["hi95"].max() == 0.0


def test_point_only_gives_the_same_point_forecasts_without_bands(panel: pl.DataFrame, all_models: pl.DataFrame) -> None:
    names = ["AutoETS", "AutoTheta", "SeasonalNaive", "CrostonOptimized", "TSB"]
    point = StatisticalAdapter().forecast(panel, None, h=H, freq="D", specs=_specs(*names), point_only=True).forecasts
    full = all_models.filter(pl.col("model").is_in(names)).sort("unique_id", "model", "ds")
    assert point.select("unique_id", "model", "ds").equals(full.select("unique_id", "model", "ds"))
    assert np.allclose(point["yhat"], full["yhat"])
    assert (point["hi95"] == point["yhat"]).all() and (point["lo95"] == point["yhat"]).all()
    assert (full["hi95"] > full["yhat"]).any()  # the full run does have bands

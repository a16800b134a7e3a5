"""GradientBoostingAdapter: global XGBoost through mlforecast, on seeded synthetic panels."""

from __future__ import annotations

import copy
import datetime as dt
import logging

import numpy as np
import polars as pl
import pytest

from forecast.errors import InvalidInputError
from forecast.models.base import CONTRIBUTION_SCHEMA, FORECAST_SCHEMA, ModelAdapter, ModelSpec
from forecast.models.gradient import XGB_DEFAULTS, GradientBoostingAdapter, _xgb_params
from forecast.models.gradient_features import find_missing_future

H = 28
# One xgboost thread: with two, OpenMP spin-waits made a 4 s fit take 130 s whenever another process
# competed for this machine's 2 cores (measured). Only the thread count differs from the defaults.
SPEC = [ModelSpec("XGBoost", {"n_jobs": 1})]
START = dt.date(2022, 1, 3)


def _panel(n_series: int, n_days: int, *, seed: int, promo_rate: float = 0.0, effect: float = 0.9) -> pl.DataFrame:
    """Daily Poisson counts: base_i x weekly pattern x exp(effect x promo), promo a 0/1 column."""
    rng = np.random.default_rng(seed)
    days = pl.date_range(START, START + dt.timedelta(days=n_days - 1), "1d", eager=True)
    weekly = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(n_days) / 7)
    base = rng.uniform(5, 30, size=(n_series, 1))
    promo = (rng.random((n_series, n_days)) < promo_rate).astype(np.int8)
    y = rng.poisson(base * weekly * np.exp(effect * promo)).astype(float)
    return pl.DataFrame({
        "unique_id": np.repeat([f"sku{i:02d}" for i in range(n_series)], n_days),
        "ds": np.tile(days.to_numpy(), n_series),
        "y": y.ravel(),
        "promo": promo.ravel(),
    })


def _split(panel: pl.DataFrame, h: int = H) -> tuple[pl.DataFrame, pl.DataFrame]:
    cut = panel.get_column("ds").max() - dt.timedelta(days=h - 1)  # type: ignore[operator]
    return panel.filter(pl.col("ds") < cut), panel.filter(pl.col("ds") >= cut)


def _check_contract(forecasts: pl.DataFrame, n_rows: int) -> None:
    assert forecasts.schema == pl.Schema(FORECAST_SCHEMA)
    assert forecasts.height == n_rows
    assert forecasts.get_column("model").unique().to_list() == ["XGBoost"]
    values = forecasts.select("lo95", "lo80", "yhat", "hi80", "hi95")
    assert values.null_count().sum_horizontal().item() == 0
    assert not values.select(pl.all().is_nan().any()).row(0).count(True)
    assert (values.min_horizontal() >= 0).all()
    ordered = forecasts.select(
        (pl.col("lo95") <= pl.col("lo80")) & (pl.col("lo80") <= pl.col("yhat"))
        & (pl.col("yhat") <= pl.col("hi80")) & (pl.col("hi80") <= pl.col("hi95"))
    )
    assert ordered.to_series().all()


@pytest.fixture(scope="module")
def promo_run() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One fit on 30 series x 400 days with a known-ahead promo; (forecasts, contributions, future)."""
    history, future = _split(_panel(30, 400 + H, seed=7, promo_rate=0.1))
    out = GradientBoostingAdapter().forecast(history, future.drop("y"), h=H, freq="D", specs=SPEC)
    assert out.contributions is not None
    return out.forecasts, out.contributions, future


def test_adapter_follows_the_model_interface() -> None:
    adapter = GradientBoostingAdapter()
    assert isinstance(adapter, ModelAdapter)
    assert adapter.family == "mlforecast"
    assert adapter.models == ("XGBoost",)


def test_spec_params_override_the_defaults() -> None:
    params = _xgb_params(ModelSpec("XGBoost", {"max_depth": 3, "objective": "reg:tweedie"}))
    assert params == XGB_DEFAULTS | {"max_depth": 3, "objective": "reg:tweedie"}
    assert XGB_DEFAULTS["objective"] == "count:poisson" and XGB_DEFAULTS["n_jobs"] == 2


def test_forecasts_follow_the_contract(promo_run: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    forecasts, _, future = promo_run
    _check_contract(forecasts, 30 * H)
    assert forecasts.select("unique_id", "ds").sort("unique_id", "ds").equals(future.select("unique_id", "ds").sort("unique_id", "ds"))
    assert (forecasts.get_column("hi95") > forecasts.get_column("lo95")).mean() > 0.9  # intervals were fitted


def test_promo_days_get_clearly_higher_forecasts(promo_run: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    forecasts, _, future = promo_run
    by_series = (
        forecasts.join(future.select("unique_id", "ds", "promo"), on=["unique_id", "ds"])
        .group_by("unique_id")
        .agg(on=pl.col("yhat").filter(pl.col("promo") == 1).mean(), off=pl.col("yhat").filter(pl.col("promo") == 0).mean())
        .drop_nulls()
    )
    assert by_series.height >= 20
    assert (by_series.get_column("on") / by_series.get_column("off")).mean() > 1.5


def test_promo_contribution_is_the_log_effect(promo_run: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    forecasts, contributions, future = promo_run
    assert contributions.schema == pl.Schema(CONTRIBUTION_SCHEMA)
    assert contributions.height == forecasts.height  # one exogenous feature
    assert contributions.get_column("feature").unique().to_list() == ["promo"]
    joined = contributions.join(future.select("unique_id", "ds", "promo"), on=["unique_id", "ds"])
    on = joined.filter(pl.col("promo") == 1).get_column("contribution")
    off = joined.filter(pl.col("promo") == 0).get_column("contribution")
    assert (on > 0).all()
    assert (off < 0.05).all()
    # SHAP is relative to the training average: on ~ 0.9 x (1 - promo rate), measured 0.74.
    assert abs(on.mean() - 0.9) < 0.3  # type: ignore[operator]


def test_variants_share_one_fit(promo_run: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    """The same future gives the one-future forecast; turning promotions off lowers exactly those days."""
    forecasts, _, future = promo_run
    history, _ = _split(_panel(30, 400 + H, seed=7, promo_rate=0.1))
    no_promo = future.drop("y").with_columns(pl.lit(0, dtype=pl.Int8).alias("promo"))
    out = GradientBoostingAdapter().forecast_variants(history, {"as planned": future.drop("y"), "no promo": no_promo},
                                                      h=H, freq="D", specs=SPEC)
    assert out["as planned"].forecasts.equals(forecasts)
    both = out["as planned"].forecasts.join(out["no promo"].forecasts, on=["unique_id", "ds"], suffix="_off").join(
        future.select("unique_id", "ds", "promo"), on=["unique_id", "ds"])
    first_promo = both.filter(pl.col("promo") == 1).sort("ds").group_by("unique_id").first()
    assert (first_promo["yhat"] > 1.5 * first_promo["yhat_off"]).mean() > 0.9
    before_any = both.filter(pl.col("ds") < both.filter(pl.col("promo") == 1)["ds"].min())
    assert before_any["yhat"].to_list() == pytest.approx(before_any["yhat_off"].to_list(), rel=0.05)


def test_95_band_covers_most_held_out_actuals() -> None:
    history, actuals = _split(_panel(20, 400, seed=11))
    out = GradientBoostingAdapter(contributions="off").forecast(history.drop("promo"), None, h=H, freq="D", specs=SPEC)
    assert out.contributions is None
    checked = out.forecasts.join(actuals, on=["unique_id", "ds"])
    assert checked.height == 20 * H
    covered = checked.select(((pl.col("y") >= pl.col("lo95")) & (pl.col("y") <= pl.col("hi95"))).mean()).item()
    assert covered >= 0.8


def test_short_history_gives_point_bounds_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    history, future = _split(_panel(6, 60 + H, seed=3, promo_rate=0.2))
    with caplog.at_level(logging.WARNING, logger="forecast.models.gradient"):
        out = GradientBoostingAdapter(contributions="approx").forecast(history, future.drop("y"), h=H, freq="D", specs=SPEC)
    _check_contract(out.forecasts, 6 * H)
    assert out.forecasts.select((pl.col("lo95") == pl.col("yhat")) & (pl.col("hi95") == pl.col("yhat"))).to_series().all()
    assert "without intervals" in caplog.text
    assert out.contributions is not None and out.contributions.height == 6 * H


def test_string_signal_is_encoded_and_other_types_ignored() -> None:
    history, future = _split(_panel(5, 120 + H, seed=5, promo_rate=0.2))
    hosts = pl.when(pl.col("promo") == 1).then(pl.lit("ann")).otherwise(pl.lit(None, dtype=pl.String)).alias("host")
    extra = [hosts, pl.col("ds").alias("announced"), pl.lit("north").alias("region")]
    history = history.with_columns(*extra)
    future = future.with_columns(hosts).drop("y")  # region only in history: ignored
    spec = [ModelSpec("XGBoost", {"objective": "reg:tweedie", "tweedie_variance_power": 1.3, "n_estimators": 60, "n_jobs": 1})]
    out = GradientBoostingAdapter(contributions="approx").forecast(history, future, h=H, freq="D", specs=spec)
    _check_contract(out.forecasts, 5 * H)
    assert out.contributions is not None
    assert sorted(out.contributions.get_column("feature").unique()) == ["host", "promo"]


@pytest.mark.parametrize(("freq", "interval", "n_periods", "h"), [("W", "1w", 130, 8), ("MS", "1mo", 60, 6)])
def test_weekly_and_monthly_panels(freq: str, interval: str, n_periods: int, h: int) -> None:
    rng = np.random.default_rng(0)
    dates = pl.date_range(dt.date(2018, 1, 1), dt.date(2030, 1, 1), interval, eager=True)[: n_periods + h]
    panel = pl.concat([
        pl.DataFrame({"unique_id": f"s{i}", "ds": dates, "y": rng.poisson(20 + 5 * i, n_periods + h).astype(float)})
        for i in range(4)
    ])
    history = panel.filter(pl.col("ds") < dates[n_periods])
    out = GradientBoostingAdapter().forecast(history, None, h=h, freq=freq, specs=[ModelSpec("XGBoost", {"n_estimators": 50, "n_jobs": 1})])
    _check_contract(out.forecasts, 4 * h)
    assert out.forecasts.filter(pl.col("unique_id") == "s0").get_column("ds").to_list() == dates[n_periods:].to_list()
    assert out.contributions is not None and out.contributions.is_empty()


def test_missing_future_exogenous_column_raises() -> None:
    history, future = _split(_panel(3, 100, seed=1, promo_rate=0.1))
    with pytest.raises(InvalidInputError, match=r"future is missing exogenous column\(s\) \['promo'\]"):
        GradientBoostingAdapter().forecast(history, future.drop("y", "promo"), h=H, freq="D", specs=SPEC)
    with pytest.raises(ValueError, match=r"missing exogenous column\(s\) \['promo'\]"):
        GradientBoostingAdapter().forecast(history, None, h=H, freq="D", specs=SPEC)


def test_missing_or_duplicated_future_rows_raise() -> None:
    history, future = _split(_panel(3, 100, seed=1, promo_rate=0.1))
    short = future.drop("y").filter(pl.col("ds") < pl.col("ds").max())
    assert find_missing_future(history, short, h=H, freq="D").height == 3
    assert find_missing_future(history, future, h=H, freq="D").is_empty()
    with pytest.raises(InvalidInputError, match=r"future lacks 3 horizon row\(s\) .* for series sku00, sku01, sku02"):
        GradientBoostingAdapter().forecast(history, short, h=H, freq="D", specs=SPEC)
    doubled = pl.concat([future, future.filter(pl.col("unique_id") == "sku01").head(2)]).drop("y")
    with pytest.raises(InvalidInputError, match=r"future has 4 duplicated \(unique_id, ds\) row\(s\) for series sku01"):
        GradientBoostingAdapter().forecast(history, doubled, h=H, freq="D", specs=SPEC)


@pytest.mark.parametrize("bad", [None, float("nan"), -1.0])
def test_missing_or_negative_y_raises(bad: float | None) -> None:
    history = _panel(3, 60, seed=0).drop("promo")
    history = history.with_columns(pl.when(pl.int_range(pl.len()) == 70).then(bad).otherwise(pl.col("y")).alias("y"))
    with pytest.raises(InvalidInputError, match=r"history has 1 row\(s\) with y missing, not finite or negative \(series sku01\)"):
        GradientBoostingAdapter().forecast(history, None, h=7, freq="D", specs=SPEC)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"freq": "H"}, r"freq 'H' is not supported"),
        ({"h": 0}, r"h must be a positive number of periods, got 0"),
        ({"specs": [ModelSpec("AutoETS")]}, r"exactly one ModelSpec named 'XGBoost', got \['AutoETS'\]"),
        ({"specs": [ModelSpec("XGBoost", {"objective": "reg:squarederror"})]}, r"objective 'reg:squarederror' is not supported"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], match: str) -> None:
    history = _panel(2, 60, seed=0).drop("promo")
    call = {"h": 7, "freq": "D", "specs": SPEC} | kwargs
    with pytest.raises(InvalidInputError, match=match):
        GradientBoostingAdapter().forecast(history, None, **call)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "match"), [({"n_windows": 1}, r"n_windows must be at least 2"),
                                               ({"contributions": "shap"}, r"contributions must be"),
                                               ({"max_train": 0}, r"max_train must be a positive")])
def test_bad_adapter_options_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        GradientBoostingAdapter(**kwargs)  # type: ignore[arg-type]


def test_point_only_is_the_same_fit_without_intervals_or_contributions() -> None:
    history, actuals = _split(_panel(6, 200, seed=3, promo_rate=0.1))
    future = actuals.drop("y")
    adapter = GradientBoostingAdapter(contributions="approx")
    full = adapter.forecast(history, future, h=H, freq="D", specs=SPEC)
    point = adapter.forecast(history, future, h=H, freq="D", specs=SPEC, point_only=True)
    assert point.forecasts["yhat"].to_list() == full.forecasts["yhat"].to_list()
    assert (point.forecasts["hi95"] == point.forecasts["yhat"]).all() and point.contributions is None
    assert (full.forecasts["hi95"] > full.forecasts["yhat"]).any() and not full.contributions.is_empty()


def test_max_train_fits_on_the_last_rows_of_each_series_only() -> None:
    """Bounded training is the same fit as on the series' last `max_train` days, and not the unbounded one."""
    history, future = _split(_panel(5, 300 + H, seed=4, promo_rate=0.1))
    history = history.with_columns(pl.when(pl.col("ds") < START + dt.timedelta(days=100)).then(pl.col("y") * 5)
                                   .otherwise(pl.col("y")).alias("y"))  # an old level the bound must forget
    spec = [ModelSpec("XGBoost", {"n_estimators": 40, "n_jobs": 1})]
    fit = lambda adapter, hist: adapter.forecast(hist, future.drop("y"), h=H, freq="D", specs=spec).forecasts  # noqa: E731
    bounded = fit(GradientBoostingAdapter(max_train=150), history)
    on_tail = fit(GradientBoostingAdapter(max_train=None), history.group_by("unique_id", maintain_order=True).tail(150))
    unbounded = fit(GradientBoostingAdapter(max_train=None), history)
    assert bounded.select("unique_id", "ds", "yhat").equals(on_tail.select("unique_id", "ds", "yhat"))
    assert not bounded["yhat"].equals(unbounded["yhat"])


def test_a_kept_model_forecasts_the_next_days_without_refitting() -> None:
    """Given its own fitted model and one more day of actuals, the adapter forecasts from the same
    booster and conformal scores, with lags from the longer history (mlforecast's `new_df`)."""
    panel = _panel(6, 300 + H + 1, seed=5, promo_rate=0.1)
    last = panel["ds"].max()
    history, future = _split(panel.filter(pl.col("ds") < last))
    adapter = GradientBoostingAdapter(contributions="approx")
    first = adapter.forecast(history, future.drop("y"), h=H, freq="D", specs=SPEC)
    kept = first.kept
    assert kept is not None and kept.trained_through == history["ds"].max()
    booster = kept.mlf.models_["XGBoost"]
    longer = panel.filter(pl.col("ds") <= history["ds"].max() + dt.timedelta(days=1))
    next_future = panel.filter(pl.col("ds") > longer["ds"].max()).drop("y")
    expected = copy.deepcopy(kept.mlf).predict(H, new_df=longer, X_df=next_future)

    again = adapter.forecast(longer, next_future, h=H, freq="D", specs=SPEC, kept=kept)
    assert again.kept is kept and kept.mlf.models_["XGBoost"] is booster  # updated, not refitted
    assert kept.trained_through == history["ds"].max()
    assert again.forecasts.height == 6 * H
    assert again.forecasts["ds"].min() == longer["ds"].max() + dt.timedelta(days=1)
    np.testing.assert_allclose(again.forecasts.sort("unique_id", "ds")["yhat"].to_numpy(),
                               expected.sort("unique_id", "ds")["XGBoost"].to_numpy(), rtol=1e-6)
    assert again.contributions is not None and again.contributions.height == 6 * H
    _check_contract(again.forecasts, 6 * H)
    width = lambda out: (out.forecasts["hi95"] - out.forecasts["lo95"]).mean()  # noqa: E731
    assert width(again) > 0 and abs(width(again) / width(first) - 1) < 0.25  # the fit's conformal scores


@pytest.mark.parametrize("change", ["a series gone", "other parameters"])
def test_a_kept_model_is_refitted_when_the_data_it_learned_changed(change: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    panel = _panel(4, 200 + H + 1, seed=6)
    last = panel["ds"].max()
    history, future = _split(panel.filter(pl.col("ds") < last))
    kept = GradientBoostingAdapter().forecast(history, future.drop("y"), h=H, freq="D", specs=SPEC).kept
    longer = panel.filter(pl.col("ds") <= history["ds"].max() + dt.timedelta(days=1))
    next_future = panel.filter(pl.col("ds") > longer["ds"].max()).drop("y")
    spec = SPEC
    if change == "a series gone":
        longer = longer.filter(pl.col("unique_id") != "sku03")
        next_future = next_future.filter(pl.col("unique_id") != "sku03")
    else:
        spec = [ModelSpec("XGBoost", {"n_jobs": 1, "max_depth": 3})]
    with caplog.at_level(logging.INFO, logger="forecast.models.gradient"):
        out = GradientBoostingAdapter().forecast(longer, next_future, h=H, freq="D", specs=spec, kept=kept)
    assert out.kept is not kept and out.kept.trained_through == longer["ds"].max()
    assert "refitting instead of updating the kept model" in caplog.text

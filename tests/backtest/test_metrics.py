"""Backtest metrics give the same bits on every call; band factors calibrate the chosen bands."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from forecast.backtest.metrics import pooled_metrics
from forecast.pipeline.selection import band_factors, rescale_bands


def _frame(series: int, days: int) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    n = series * days
    y = rng.gamma(1.2, 3.0, n)
    yhat = y * rng.uniform(0.5, 1.5, n) + rng.normal(0, 1, n).clip(0)
    spread = rng.uniform(0.5, 4.0, n)
    return pl.DataFrame({
        "unique_id": np.repeat([f"s{i:04d}" for i in range(series)], days),
        "cutoff": [dt.date(2024, 1, 1)] * n,
        "ds": np.tile(pl.date_range(dt.date(2024, 1, 2), dt.date(2024, 1, 1) + dt.timedelta(days=days), eager=True)
                      .to_numpy(), series),
        "y": y, "model": "M", "yhat": yhat, "lo80": (yhat - spread).clip(0), "hi80": yhat + spread,
        "lo95": (yhat - 2 * spread).clip(0), "hi95": yhat + 2 * spread,
    })


def test_pooled_metrics_are_bit_for_bit_the_same_on_every_call() -> None:
    frame = _frame(series=2_000, days=28)  # 56,000 rows in one pooled group: polars would sum it on threads
    per_series = pl.DataFrame(schema={"unique_id": pl.String, "cutoff": pl.Date, "model": pl.String,
                                      "metric": pl.String, "value": pl.Float64})
    runs = [pooled_metrics(frame.sample(fraction=1.0, shuffle=True, seed=seed), per_series).sort("metric")
            for seed in range(6)]
    assert all(run["value"].to_list() == runs[0]["value"].to_list() for run in runs)
    wape = runs[0].filter(pl.col("metric") == "wape")["value"][0]
    assert abs(wape - float(np.abs(frame["yhat"] - frame["y"]).sum() / frame["y"].sum())) < 1e-12


def test_band_factors_by_hand() -> None:
    # half-widths 2 (80%) and 4 (95%) on both sides of yhat = 10; actual misses of 0, 1, 3, 6 and 8
    scored = pl.DataFrame({"y": [10.0, 11.0, 7.0, 16.0, 2.0], "yhat": [10.0] * 5, "lo80": [8.0] * 5,
                           "hi80": [12.0] * 5, "lo95": [6.0] * 5, "hi95": [14.0] * 5})
    factors = band_factors(scored)
    # needed factors at 80%: 0, 0.5, 1.5, 3, 4 -> the 80% quantile (higher) is 3; at 95%: 0 .. 2 -> 2
    assert factors == {80: 3.0, 95: 2.0}
    widened = rescale_bands(pl.DataFrame({"yhat": [10.0, 1.0], "lo80": [8.0, 0.5], "hi80": [12.0, 1.5],
                                          "lo95": [6.0, 0.0], "hi95": [14.0, 2.0]}), factors)
    assert widened.row(0) == (10.0, 4.0, 16.0, 2.0, 18.0)
    assert widened.row(1) == (1.0, 0.0, 2.5, 0.0, 3.0)  # clipped at 0; 95% stays outside 80%
    assert band_factors(scored.with_columns(pl.col("yhat").alias("lo80"), pl.col("yhat").alias("hi80"),
                                            pl.col("yhat").alias("lo95"), pl.col("yhat").alias("hi95"))) == \
        {80: 1.0, 95: 1.0}  # no band with a width: nothing to scale


def test_rescaled_bands_cover_what_the_earlier_windows_asked() -> None:
    rng = np.random.default_rng(11)
    earlier = _frame(series=300, days=28).with_columns(y=(pl.col("yhat") + rng.normal(0, 6, 300 * 28)).clip(0))
    later = _frame(series=300, days=28).with_columns(y=(pl.col("yhat") + rng.normal(0, 6, 300 * 28)).clip(0))
    covered = lambda f, lvl: ((f["y"] >= f[f"lo{lvl}"]) & (f["y"] <= f[f"hi{lvl}"])).mean()  # noqa: E731
    assert covered(later, 80) < 0.6  # the raw bands are far too narrow for this noise
    fixed = rescale_bands(later, band_factors(earlier))
    assert abs(covered(fixed, 80) - 0.80) < 0.03 and abs(covered(fixed, 95) - 0.95) < 0.02

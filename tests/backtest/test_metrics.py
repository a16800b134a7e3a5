"""Backtest metrics give the same bits on every call, however large the pooled group."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from forecast.backtest.metrics import pooled_metrics


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

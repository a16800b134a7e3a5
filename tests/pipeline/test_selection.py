"""Ensembles add their members up in one fixed order, so a rerun gives the same bits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from forecast.pipeline.selection import combine, rank_models


MODELS = ("AutoETS", "AutoTheta", "CrostonOptimized", "SeasonalNaive")


def _panel(seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """40 series x 14 days x 4 models of seeded forecasts, and a score per series and model."""
    rng = np.random.default_rng(seed)
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in range(14)]
    keys = [(f"S{s}", m, d) for s in range(40) for m in MODELS for d in days]
    yhat = rng.uniform(0, 20, len(keys))
    forecasts = pl.DataFrame(keys, schema=["unique_id", "model", "ds"], orient="row").with_columns(
        pl.Series("yhat", yhat), pl.Series("lo95", yhat * 0.3), pl.Series("lo80", yhat * 0.6),
        pl.Series("hi80", yhat * 1.4), pl.Series("hi95", yhat * 1.9))
    scores = pl.DataFrame([(f"S{s}", m) for s in range(40) for m in MODELS], schema=["unique_id", "model"],
                          orient="row").with_columns(pl.Series("value", rng.uniform(0.5, 1.5, 40 * len(MODELS))))
    return forecasts, scores


def test_an_inverse_error_ensemble_has_the_same_bits_whatever_the_row_order() -> None:
    forecasts, scores = _panel()
    members = rank_models(scores, ["unique_id"], size=3)
    first = combine(forecasts, members, ["unique_id"], method="inverse_error")
    for seed in range(5):  # the rows as a join or a parallel read may hand them over
        shuffled = forecasts.sample(fraction=1.0, shuffle=True, seed=seed)
        again = combine(shuffled, members.sample(fraction=1.0, shuffle=True, seed=seed), ["unique_id"],
                        method="inverse_error")
        assert again.equals(first), (again.join(first, on=["unique_id", "ds"]).select(
            (pl.col("yhat") - pl.col("yhat_right")).abs().max()).item())

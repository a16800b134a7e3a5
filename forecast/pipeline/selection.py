"""Model choice per series from backtest metrics: the best model, or an ensemble of the best few.

Used twice, the same way: by a forecast run that selects from a stored backtest
(`forecast.pipeline.from_backtest`) and inside a backtest (window k chooses on windows before k, so
the choice is scored on data it never saw). The names of the chosen rows (`SELECTED`, `ENSEMBLE`)
and of the comparison rows without signals (`NO_SIGNALS`) live here with it.

An ensemble combines its members' point forecasts and bounds the same way: the median of each, or a
weighted mean with weights 1 / score (the lower a model's error, the more it counts). Combining
bounds quantile by quantile (Vincentization) keeps them ordered, but not calibrated: averaged
bands of under-covering members under-cover too. So the chosen forecasts' bands are then widened
(or narrowed) by one factor per level, the split-conformal quantile of how far the actuals fell
outside the bands on earlier windows (`band_factors`, `rescale_bands`). The backtest's coverage
rows of "Selected" and "Ensemble" show the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

__all__ = ["ENSEMBLE", "NO_SIGNALS", "SELECTED", "band_factors", "combine", "rank_models", "rescale_bands"]

SELECTED, ENSEMBLE = "Selected", "Ensemble"
"""Model names of the chosen rows: each series' best model, and the combination of its best few."""
NO_SIGNALS = " (no signals)"
"""Suffix of a signal-reading model run without its signals (a backtest's comparison, never chosen)."""
VALUES = ("yhat", "lo80", "hi80", "lo95", "hi95")
LEVELS = (80, 95)


def rank_models(scores: pl.DataFrame, keys: Sequence[str], *, size: int) -> pl.DataFrame:
    """The best `size` models of each series and their inverse-error weights.

    Args:
        scores: `keys`, model, value: one score per series and model (lower is better); null,
            NaN and infinite scores are not ranked.
        keys: the series key columns.
        size: members per series.

    Returns:
        `keys`, model, rank (1 = best), score, weight (sums to 1 per series; a score of 0 takes it all).
    """
    usable = scores.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    ranked = usable.sort([*keys, "value", "model"]).with_columns(
        pl.int_range(1, pl.len() + 1).over(keys).alias("rank")).filter(pl.col("rank") <= size)
    perfect = (pl.col("value") == 0).any().over(keys)
    raw = pl.when(perfect).then((pl.col("value") == 0).cast(pl.Float64)).otherwise(1.0 / pl.col("value"))
    return ranked.with_columns(raw.alias("weight")).with_columns(
        (pl.col("weight") / pl.col("weight").sum().over(keys)).alias("weight")).select(
        *keys, "model", "rank", pl.col("value").alias("score"), "weight")


def combine(forecasts: pl.DataFrame, members: pl.DataFrame, keys: Sequence[str], *, method: str) -> pl.DataFrame:
    """Each series' members combined into one forecast per day.

    Args:
        forecasts: `keys`, ds, model, and the VALUES columns.
        members: `keys`, model, weight (from `rank_models`).
        keys: the series key columns.
        method: `median` or `inverse_error`.

    Returns:
        `keys`, ds, VALUES, and `produced_by` naming the members (with their weights).
    """
    # a join keeps no row order and float sums depend on it: members add up in model order, so a
    # rerun gives the same bits
    joined = forecasts.join(members.select(*keys, "model", "weight"), on=[*keys, "model"]).sort(*keys, "ds", "model")
    if method == "median":
        values = [pl.col(c).median() for c in VALUES]
        label = pl.lit("median of ") + pl.col("model").sort().str.join(", ")
    else:
        values = [((pl.col(c) * pl.col("weight")).sum() / pl.col("weight").sum()).alias(c) for c in VALUES]
        share = pl.format("{} {}", pl.col("model"), (pl.col("weight") / pl.col("weight").sum()).round(2))
        label = pl.lit("weighted ") + share.sort_by(pl.col("weight"), descending=True).str.join(", ")
    return joined.group_by(*keys, "ds").agg(*values, label.alias("produced_by")).sort(*keys, "ds")


def band_factors(scored: pl.DataFrame) -> dict[int, float]:
    """Per level: the factor on each band's half-widths that would have covered `level`% of the actuals.

    For every row the factor that just covers its actual is |y - yhat| / (the half-width on its
    side); the result is the smallest of those that covers `level`% of the rows (split conformal).
    Rows whose band has no width on the actual's side are left out (no factor widens them). No
    usable row: factor 1.

    Args:
        scored: y, yhat, lo80, hi80, lo95, hi95 of earlier forecasts.
    """
    factors = {}
    for level in LEVELS:
        lo, hi = pl.col(f"lo{level}"), pl.col(f"hi{level}")
        below = pl.col("y") < pl.col("yhat")
        width = pl.when(below).then(pl.col("yhat") - lo).otherwise(hi - pl.col("yhat"))
        need = scored.select(((pl.col("y") - pl.col("yhat")).abs() / width).alias("need"), width.alias("width"))
        usable = need.filter((pl.col("width") > 0) & pl.col("need").is_finite())["need"].sort()
        # the smallest factor that covers at least level% of the rows
        factors[level] = float(usable[math.ceil(level / 100 * usable.len()) - 1]) if usable.len() else 1.0
    return factors


def rescale_bands(forecasts: pl.DataFrame, factors: dict[int, float]) -> pl.DataFrame:
    """The bands' half-widths times each level's factor, clipped at 0 and kept ordered (95 outside 80)."""
    scaled = forecasts.with_columns(
        *[(pl.col("yhat") - (pl.col("yhat") - pl.col(f"lo{level}")) * factor).clip(lower_bound=0.0).alias(f"lo{level}")
          for level, factor in factors.items()],
        *[(pl.col("yhat") + (pl.col(f"hi{level}") - pl.col("yhat")) * factor).alias(f"hi{level}")
          for level, factor in factors.items()])
    return scaled.with_columns(pl.min_horizontal("lo95", "lo80").alias("lo95"),
                               pl.max_horizontal("hi95", "hi80").alias("hi95"))

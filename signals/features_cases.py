"""Case-count features of `signals.features`: trailing means, growth, lags and the projection after the data."""

from __future__ import annotations

import datetime as dt
import polars as pl

from signals.features_common import latest_visible

__all__ = ["CASE_COLUMNS", "SCENARIOS", "case_features"]

CASE_COLUMNS = (
    "cases_7d_per_100k",
    "cases_wow_growth",
    "cases_7d_per_100k_lag7",
    "cases_7d_per_100k_lag14",
    "cases_projected",
)
SCENARIOS = ("hold", "rising", "falling")


def case_features(
    region_days: pl.LazyFrame,
    cases: pl.LazyFrame,
    *,
    cutoff: dt.date,
    ancestors: pl.LazyFrame,
    last_day: dt.date,
    scenario: str,
    weekly_rate: float,
) -> pl.LazyFrame:
    """Case features for each distinct `region, day` of the panel.

    Args:
        region_days: distinct `region, day` rows of the panel.
        cases: a frame with CASES_SCHEMA.
        cutoff: the last day whose knowledge is used.
        ancestors: `region, source, depth` (see `ancestor_pairs`); a region uses its nearest source with data.
        last_day: the panel's last day (projections run up to it).
        scenario: "hold", "rising" or "falling".
        weekly_rate: growth (rising) or decline (falling) per week of the projection.

    Returns:
        `region, day` plus CASE_COLUMNS, null-free.
    """
    visible = latest_visible(cases.filter(pl.col("region").is_not_null()), cutoff, ["region", "day"])
    values = visible.filter(pl.col("new_cases_per_100k").is_not_null()).select(
        pl.col("region").alias("source"), "day", pl.col("new_cases_per_100k").alias("value")
    )
    resolved = (
        ancestors.join(values.select("source").unique(), on="source", how="semi")
        .sort("region", "depth")
        .unique("region", keep="first", maintain_order=True)
        .select("region", "source")
    )
    used = values.join(resolved.select("source").unique(), on="source", how="semi")
    series = _extended_series(used, last_day=last_day, scenario=scenario, weekly_rate=weekly_rate)
    joined = region_days.join(resolved, on="region", how="left").join(series, on=["source", "day"], how="left")
    return joined.select(
        "region",
        "day",
        *(pl.col(col).fill_null(0.0) for col in CASE_COLUMNS[:-1]),
        pl.col("cases_projected").fill_null(0).cast(pl.Int8),
    )


def _extended_series(values: pl.LazyFrame, *, last_day: dt.date, scenario: str, weekly_rate: float) -> pl.LazyFrame:
    """Per source region and day, from its first data day to `last_day` (or its last): CASE_COLUMNS."""
    bounds = values.group_by("source").agg(pl.col("day").min().alias("first"), pl.col("day").max().alias("last"))
    end = pl.max_horizontal("last", pl.lit(last_day, dtype=pl.Date))
    grid = (
        bounds.with_columns(pl.date_ranges("first", end).alias("day"))
        .explode("day")
        .join(values, on=["source", "day"], how="left")
        .sort("source", "day")
        .with_columns((pl.col("day") - pl.col("first")).dt.total_days().alias("_pos"))
    )
    window = [_back(pl.col("value"), k) for k in range(7)]
    total = pl.sum_horizontal(w.fill_null(0.0) for w in window)
    count = pl.sum_horizontal(w.is_not_null().cast(pl.Int32) for w in window)
    observed = pl.when((count > 0) & (pl.col("day") <= pl.col("last"))).then(total / count)
    base = observed.forward_fill().over("source")
    weeks_ahead = (pl.col("day") - pl.col("last")).dt.total_days().clip(lower_bound=0) / 7.0
    factor = {"hold": 1.0, "rising": 1.0 + weekly_rate, "falling": 1.0 - weekly_rate}[scenario]
    level = base * pl.lit(factor).pow(weeks_ahead) if factor != 1.0 else base
    grid = grid.with_columns(level.alias("cases_7d_per_100k"))
    lag7 = _back(pl.col("cases_7d_per_100k"), 7).fill_null(0.0)
    lag14 = _back(pl.col("cases_7d_per_100k"), 14).fill_null(0.0)
    growth = ((pl.col("cases_7d_per_100k") + 1.0) / (lag7 + 1.0)).log()
    return grid.select(
        "source",
        "day",
        "cases_7d_per_100k",
        growth.alias("cases_wow_growth"),
        lag7.alias("cases_7d_per_100k_lag7"),
        lag14.alias("cases_7d_per_100k_lag14"),
        (pl.col("day") > pl.col("last")).cast(pl.Int8).alias("cases_projected"),
    )


def _back(expr: pl.Expr, days: int) -> pl.Expr:
    """`expr` `days` rows (= days) earlier in a complete daily grid sorted by series; null before the start."""
    return pl.when(pl.col("_pos") >= days).then(expr.shift(days))

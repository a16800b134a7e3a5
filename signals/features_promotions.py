"""Promotion and "immediate" sales features of `signals.features` (only y on days <= cutoff is read)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from signals.features_common import DAYS_CAP, SERIES, days_to_nearest, latest_visible

__all__ = ["PROMOTION_COLUMNS", "promotion_features"]

PROMOTION_COLUMNS = (
    "promo_on",
    "promo_discount",
    "promo_days_to_next",
    "sales_7d_before_promo",
    "sales_last_week",
)


def promotion_features(panel: pl.LazyFrame, promotions: pl.LazyFrame, *, cutoff: dt.date) -> pl.LazyFrame:
    """Promotion features and trailing sales for each `sku, region, day` of the panel.

    Args:
        panel: distinct `sku, region, day` rows with `y`.
        promotions: a frame with PROMOTION_SCHEMA (possibly several versions per promo_id).
        cutoff: the last day whose knowledge (promotions known, y observed) is used.

    Returns:
        `sku, region, day` plus PROMOTION_COLUMNS.
    """
    keys = panel.select(*SERIES, "day")
    promos = _applied_promotions(keys.select(SERIES).unique(), promotions, cutoff)
    daily = promos.with_columns(pl.date_ranges("start", "end").alias("day")).explode("day")
    on_days = daily.group_by(*SERIES, "day").agg(
        pl.col("discount").max().alias("promo_discount"), pl.col("start").min().alias("_running_start")
    )
    out = keys.join(on_days, on=[*SERIES, "day"], how="left").with_columns(
        pl.col("_running_start").is_not_null().cast(pl.Int8).alias("promo_on"),
        pl.col("promo_discount").fill_null(0.0),
    )
    out = days_to_nearest(out, daily, forward=True, name="promo_days_to_next", cap=DAYS_CAP)
    starts = promos.select(*SERIES, pl.col("start").alias("day"))
    out = days_to_nearest(out, starts, forward=True, name="_to_start", cap=DAYS_CAP + 1)
    next_start = pl.when(pl.col("_to_start") <= DAYS_CAP).then(pl.col("day") + pl.duration(days=pl.col("_to_start")))
    out = out.with_columns(pl.coalesce("_running_start", next_start).alias("_promo_start"))
    out = _sales_features(out, _trailing_sums(panel, cutoff), cutoff)
    return out.select(*SERIES, "day", *PROMOTION_COLUMNS)


def _sales_features(frame: pl.LazyFrame, sums: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame:
    """Add `sales_last_week` and `sales_7d_before_promo` (the run-up to the day in `_promo_start`)."""
    last_week_day = pl.min_horizontal(pl.col("day") - pl.duration(days=1), pl.lit(cutoff, dtype=pl.Date))
    before_day = pl.col("_promo_start") - pl.duration(days=1)
    frame = frame.with_columns(
        last_week_day.alias("_last_week_day"),
        pl.when(before_day <= cutoff).then(before_day).alias("_before_day"),
    )
    frame = _look_up(frame, sums, "_last_week_day", "sales_last_week")
    frame = _look_up(frame, sums, "_before_day", "sales_7d_before_promo")
    return frame.with_columns(
        pl.col("sales_last_week").fill_null(0.0),
        pl.when(pl.col("_before_day").is_not_null()).then(pl.col("sales_7d_before_promo").fill_null(0.0)),
    )


def _applied_promotions(series: pl.LazyFrame, promotions: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame:
    """One row per (promotion, sku, region) of the panel, latest version known at the cutoff."""
    promos = latest_visible(promotions, cutoff, ["promo_id"]).filter(
        pl.col("start").is_not_null() & pl.col("end").is_not_null() & (pl.col("end") >= pl.col("start"))
    )
    promos = promos.select(
        "promo_id", "sku", "region", "start", "end", pl.col("discount").fill_null(0.0).alias("discount")
    )
    everywhere = promos.filter(pl.col("region").is_null()).drop("region").join(series, on="sku")
    listed = promos.filter(pl.col("region").is_not_null()).join(series, on=SERIES, how="semi")
    return pl.concat([everywhere, listed], how="diagonal").select("promo_id", *SERIES, "start", "end", "discount")


def _trailing_sums(panel: pl.LazyFrame, cutoff: dt.date) -> pl.LazyFrame:
    """Per series and day: the sum of y over that day and the 6 before, y after `cutoff` counted as 0.

    Covers each series from its first day to 6 days after its last y that may be non-zero; days outside
    that range have a sum of 0.
    """
    bounds = panel.group_by(SERIES).agg(pl.col("day").min().alias("first"), pl.col("day").max().alias("last"))
    end = pl.min_horizontal(pl.col("last"), pl.lit(cutoff, dtype=pl.Date)) + pl.duration(days=6)
    y = pl.when(pl.col("day") <= cutoff).then(pl.col("y")).fill_null(0.0)
    observed = panel.select(*SERIES, "day", y.alias("_y"))
    grid = (
        bounds.with_columns(pl.date_ranges("first", end).alias("day"))
        .select(*SERIES, "first", "day")
        .explode("day")
        .drop_nulls("day")
        .join(observed, on=[*SERIES, "day"], how="left")
        .sort(*SERIES, "day")
        .with_columns((pl.col("day") - pl.col("first")).dt.total_days().alias("_pos"))
    )  # complete and sorted: k rows back within a series is k days back
    total = pl.sum_horizontal(pl.when(pl.col("_pos") >= k).then(pl.col("_y").shift(k)).fill_null(0.0) for k in range(7))
    return grid.select(*SERIES, "day", total.alias("_sum7"))


def _look_up(frame: pl.LazyFrame, sums: pl.LazyFrame, day_col: str, name: str) -> pl.LazyFrame:
    """Add `name`: the trailing 7-day sum of the series at the day in `day_col` (null when not found)."""
    right = sums.rename({"day": day_col, "_sum7": name})
    return frame.join(right, on=[*SERIES, day_col], how="left")

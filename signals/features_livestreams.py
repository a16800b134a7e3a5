"""Livestream features of `signals.features`: which scheduled events apply to each SKU x region x day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from signals.features_common import DAYS_CAP, SERIES, days_to_nearest, latest_visible
from signals.features_hosts import host_uplift

__all__ = ["LIVESTREAM_COLUMNS", "applied_events", "host_uplifts", "livestream_features"]

LIVESTREAM_COLUMNS = (
    "ls_on_air",
    "ls_hours",
    "ls_expected_viewers",
    "ls_discount",
    "ls_days_to_next",
    "ls_days_since_last",
    "ls_host",
    "ls_host_uplift",
)


def livestream_features(
    keys: pl.LazyFrame,
    livestreams: pl.LazyFrame,
    *,
    cutoff: dt.date,
    sku_categories: Mapping[str, str] | None,
    hosts: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Livestream features for each distinct `sku, region, day` of the panel.

    Args:
        keys: distinct `sku, region, day` rows with their `y` (read up to the cutoff only, for the
            hosts' past uplift).
        livestreams: a frame with LIVESTREAM_SCHEMA (all versions of each event).
        cutoff: the last day whose knowledge is used; the latest version known then counts.
        sku_categories: sku -> category, for events that feature a whole category.
        hosts: `host_uplifts` of a larger panel that `keys` is part of (default: of `keys`).

    Returns:
        `sku, region, day` plus LIVESTREAM_COLUMNS.
    """
    applied = applied_events(keys.select(SERIES).unique(), livestreams, cutoff, sku_categories)
    sales = keys.select(*SERIES, "day", "y")
    keys = keys.select(*SERIES, "day")
    daily = applied.group_by(*SERIES, "day").agg(
        pl.lit(1, dtype=pl.Int8).alias("ls_on_air"),
        pl.col("hours").sum().alias("ls_hours"),
        pl.col("viewers").sum().cast(pl.Float64).alias("ls_expected_viewers"),
        pl.col("discount").max().alias("ls_discount"),
        pl.col("host")
        .sort_by(["viewers", "event_id"], descending=[True, False])
        .first()
        .alias("ls_host"),
    )
    out = keys.join(daily, on=[*SERIES, "day"], how="left").with_columns(
        pl.col("ls_on_air").fill_null(0),
        pl.col("ls_hours", "ls_expected_viewers", "ls_discount").fill_null(0.0),
    )
    out = days_to_nearest(out, applied, forward=True, name="ls_days_to_next", cap=DAYS_CAP)
    out = days_to_nearest(out, applied, forward=False, name="ls_days_since_last", cap=DAYS_CAP)
    if hosts is None:
        hosts = host_uplift(out.select(pl.col("ls_host").alias("host"), "day").unique(), sales, applied, cutoff=cutoff)
    out = out.join(hosts.rename({"host": "ls_host"}), on=["ls_host", "day"], how="left", nulls_equal=True).with_columns(
        pl.col("ls_host_uplift").fill_null(0.0))
    return out.select(*SERIES, "day", *LIVESTREAM_COLUMNS)


def host_uplifts(keys: pl.LazyFrame, livestreams: pl.LazyFrame, *, cutoff: dt.date,
                 sku_categories: Mapping[str, str] | None) -> pl.LazyFrame:
    """`host, day, ls_host_uplift` for every host and day of a livestream that applies to the panel
    `keys` (`sku, region, day, y`): the values `livestream_features` joins, for a panel built in parts."""
    applied = applied_events(keys.select(SERIES).unique(), livestreams, cutoff, sku_categories)
    return host_uplift(applied.select("host", "day").unique(), keys.select(*SERIES, "day", "y"), applied,
                       cutoff=cutoff)


def applied_events(
    series: pl.LazyFrame,
    livestreams: pl.LazyFrame,
    cutoff: dt.date,
    sku_categories: Mapping[str, str] | None,
) -> pl.LazyFrame:
    """One row per (event, sku, region) of `series` that a live (not cancelled) event known at `cutoff` applies to.

    Args:
        series: distinct `sku, region` rows.
        livestreams: a frame with LIVESTREAM_SCHEMA (all versions of each event).
        cutoff: the last day whose knowledge is used.
        sku_categories: sku -> category, for events that feature a whole category.

    Returns:
        `event_id, sku, region, day, hours, viewers, discount, host`.
    """
    events = latest_visible(livestreams, cutoff, ["event_id"]).filter(
        pl.col("status").is_null() | (pl.col("status") != "cancelled")
    )
    hours = (pl.col("end_at") - pl.col("start_at")).dt.total_seconds() / 3600.0
    events = events.select(
        "event_id",
        "skus",
        "category",
        "regions",
        pl.col("local_day").alias("day"),
        hours.clip(lower_bound=0.0).fill_null(0.0).alias("hours"),
        pl.col("expected_viewers").fill_null(0).alias("viewers"),
        pl.col("discount").fill_null(0.0).alias("discount"),
        "host",
    ).filter(pl.col("day").is_not_null())
    named = pl.col("skus").list.len().fill_null(0) > 0
    explicit = events.filter(named).explode("skus").rename({"skus": "sku"})
    categories = pl.LazyFrame(
        {"sku": list((sku_categories or {}).keys()), "category": list((sku_categories or {}).values())},
        schema={"sku": pl.String, "category": pl.String},
    )
    by_category = events.filter(~named & pl.col("category").is_not_null()).drop("skus").join(categories, on="category")
    featured = pl.concat([explicit.drop("category"), by_category.drop("category")], how="diagonal")
    featured = featured.filter(pl.col("sku").is_not_null()).unique(["event_id", "sku"], maintain_order=True)
    everywhere = featured.filter(pl.col("regions").is_null()).drop("regions").join(series, on="sku")
    listed = (
        featured.filter(pl.col("regions").is_not_null())
        .explode("regions")
        .rename({"regions": "region"})
        .join(series, on=SERIES, how="semi")
    )
    applied = pl.concat([everywhere, listed], how="diagonal").unique(["event_id", *SERIES], maintain_order=True)
    return applied.select("event_id", *SERIES, "day", "hours", "viewers", "discount", "host")

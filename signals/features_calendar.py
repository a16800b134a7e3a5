"""Calendar features of `signals.features`: holidays, events and SNAP days of a region and its ancestors."""

from __future__ import annotations

import datetime as dt
import polars as pl

from signals.frames import as_of_instant

__all__ = ["CALENDAR_COLUMNS", "EVENT_KINDS", "calendar_features"]

CALENDAR_COLUMNS = ("cal_holiday", "cal_event", "cal_snap", "cal_names")
EVENT_KINDS = ("sporting", "cultural", "national", "religious", "custom")
"""Kinds counted by `cal_event`."""


def calendar_features(
    region_days: pl.LazyFrame,
    calendar: pl.LazyFrame,
    *,
    cutoff: dt.date,
    ancestors: pl.LazyFrame,
) -> pl.LazyFrame:
    """Calendar features for each distinct `region, day` of the panel.

    Rows known at the cutoff apply to their region and every region below it; rows with a null
    region apply everywhere.

    Args:
        region_days: distinct `region, day` rows of the panel.
        calendar: a frame with CALENDAR_SCHEMA.
        cutoff: the last day whose knowledge is used.
        ancestors: `region, source, depth` (see `ancestor_pairs`).

    Returns:
        `region, day` plus CALENDAR_COLUMNS.
    """
    visible = calendar.filter(pl.col("known_at") < as_of_instant(cutoff)).select("region", "day", "name", "kind")
    applies = ancestors.select("region", "source")
    specific = visible.filter(pl.col("region").is_not_null()).rename({"region": "source"}).join(applies, on="source")
    everywhere = visible.filter(pl.col("region").is_null()).drop("region").join(
        applies.select("region").unique(), how="cross"
    )
    rows = pl.concat([specific.drop("source"), everywhere], how="diagonal").join(
        region_days, on=["region", "day"], how="semi"
    )
    names = pl.col("name").drop_nulls().unique().sort()
    daily = rows.group_by("region", "day").agg(
        (pl.col("kind") == "holiday").any().cast(pl.Int8).alias("cal_holiday"),
        pl.col("kind").is_in(list(EVENT_KINDS)).any().cast(pl.Int8).alias("cal_event"),
        (pl.col("kind") == "snap").any().cast(pl.Int8).alias("cal_snap"),
        pl.when(names.len() > 0).then(names.str.join("; ")).alias("cal_names"),
    )
    return region_days.join(daily, on=["region", "day"], how="left").select(
        "region",
        "day",
        *(pl.col(col).fill_null(0) for col in CALENDAR_COLUMNS[:-1]),
        "cal_names",
    )

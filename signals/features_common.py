"""Helpers shared by the feature families of `signals.features`: visibility, versions, regions, distances."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from signals.frames import as_of_instant

__all__ = [
    "DAYS_CAP",
    "SERIES",
    "ancestor_chain",
    "ancestor_pairs",
    "conform",
    "days_to_nearest",
    "latest_visible",
]

DAYS_CAP = 60
"""Cap (and neutral value) of every "days to next / since last" feature."""

SERIES = ["sku", "region"]
"""The key of one panel series."""


def conform(frame: pl.DataFrame | None, schema: Mapping[str, pl.DataType], name: str) -> pl.LazyFrame:
    """Return `frame` reduced to the columns of `schema` with its dtypes (lazily); an empty frame for None.

    Raises:
        ValueError: when a column is missing or cannot be cast to the contract's dtype.
    """
    if frame is None:
        return pl.LazyFrame(schema=dict(schema))
    missing = [col for col in schema if col not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}; build it with the schema in signals.frames")
    try:
        return frame.select(pl.col(col).cast(dtype) for col, dtype in schema.items()).lazy()
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"{name} does not match its schema in signals.frames ({exc}); cast it first") from exc


def latest_visible(frame: pl.LazyFrame, cutoff: dt.date, key: Sequence[str]) -> pl.LazyFrame:
    """The latest version (max `known_at`) per `key` among the rows known at `cutoff`.

    Ties on `known_at` go to the row that comes later in `frame`.
    """
    visible = frame.filter(pl.col("known_at") < as_of_instant(cutoff))
    ordered = visible.sort([*key, "known_at"], maintain_order=True)
    return ordered.unique(subset=list(key), keep="last", maintain_order=True)


def ancestor_chain(region: str, parents: Mapping[str, str | None] | None) -> list[str]:
    """`region` followed by its ancestors, nearest first.

    Raises:
        ValueError: when `parents` contains a cycle.
    """
    chain = [region]
    parent = (parents or {}).get(region)
    while parent is not None:
        if parent in chain:
            raise ValueError(f"region_parents has a cycle through {parent!r}; make it a tree")
        chain.append(parent)
        parent = (parents or {}).get(parent)
    return chain


def ancestor_pairs(regions: Sequence[str], parents: Mapping[str, str | None] | None) -> pl.LazyFrame:
    """`region, source, depth`: each region with itself (depth 0) and every ancestor (depth 1, 2, ...)."""
    rows = [
        (region, source, depth) for region in regions for depth, source in enumerate(ancestor_chain(region, parents))
    ]
    schema = {"region": pl.String, "source": pl.String, "depth": pl.Int32}
    return pl.LazyFrame(rows, schema=schema, orient="row")


def days_to_nearest(
    keys: pl.LazyFrame, event_days: pl.LazyFrame, *, forward: bool, name: str, cap: int = DAYS_CAP
) -> pl.LazyFrame:
    """Add `name`: days from each key row to the nearest event day of its series, capped at `cap`.

    Args:
        keys: distinct `sku, region, day` rows.
        event_days: `sku, region, day` rows of the days an event happens.
        forward: look at the next event (on or after the day) when True, else the last one (on or before).
        name: the output column.
        cap: the cap, also used when there is no such event.
    """
    events = event_days.select(*SERIES, pl.col("day").alias("_event_day")).unique().sort("_event_day")
    joined = keys.sort("day").join_asof(
        events,
        left_on="day",
        right_on="_event_day",
        by=SERIES,
        strategy="forward" if forward else "backward",
        check_sortedness=False,
    )
    distance = (pl.col("_event_day") - pl.col("day")).dt.total_days().abs()
    return joined.with_columns(distance.clip(upper_bound=cap).fill_null(cap).cast(pl.Int32).alias(name)).drop(
        "_event_day"
    )

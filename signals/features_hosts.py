"""The host's past uplift, a livestream feature of `signals.features` learned from the sales history.

A tree model sees a few hundred livestream days among hundreds of thousands of ordinary ones and
learns their effect only in part (measured on the demo: about 80% of the planted uplift, whatever
the depth or the number of trees). Measured directly, the effect is plain: sales on a featured day
against the same weekday in the weeks before. This module measures it for every past event and
hands the model each host's running average as a number it can use at once.

For an applied event cell (event, sku, region, day) with the day on or before the cutoff:

- `baseline` is the mean of y on the same weekday 1 to 4 weeks before, over the days that no
  event featured (at least 2 of them; cells without are skipped), and cells with a baseline below
  `MIN_BASELINE` units are skipped (their ratios are mostly noise);
- the cell's uplift is log((y + 1) / (baseline + 1)); an event's uplift is the mean over its cells.

The host's uplift on day D is the mean over the host's events before D (never D itself, so a
training row never sees its own outcome), shrunk toward the mean of every host's events before D
with the weight of `PRIOR_EVENTS` events: (sum + k * overall) / (n + k). A host with no past event
gets the overall mean; before any event at all it is 0.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from signals.features_common import SERIES

__all__ = ["MIN_BASELINE", "PRIOR_EVENTS", "host_uplift"]

MIN_BASELINE = 1.0
PRIOR_EVENTS = 2.0
_WEEKS = (1, 2, 3, 4)


def host_uplift(days: pl.LazyFrame, sales: pl.LazyFrame, applied: pl.LazyFrame, *, cutoff: dt.date) -> pl.LazyFrame:
    """`ls_host_uplift` (log scale) for each `host, day` of `days`.

    Args:
        days: distinct `host, day` rows to value (host null = no livestream).
        sales: `sku, region, day, y` of the panel (y after the cutoff is ignored).
        applied: `event_id, sku, region, day, host` of every event known at the cutoff (`applied_events`).
        cutoff: the last day whose sales count.

    Returns:
        `host, day, ls_host_uplift`: 0 where host is null.
    """
    per_day = _event_uplifts(sales, applied, cutoff=cutoff).group_by("host", "day").agg(
        pl.col("uplift").sum().alias("total"), pl.len().cast(pl.Float64).alias("count"))
    by_host = per_day.sort("host", "day").with_columns(
        pl.col("total").cum_sum().over("host").alias("host_total"),
        pl.col("count").cum_sum().over("host").alias("host_count"),
    ).select("host", "day", "host_total", "host_count")
    overall = per_day.group_by("day").agg(pl.col("total", "count").sum()).sort("day").select(
        "day", pl.col("total").cum_sum().alias("all_total"), pl.col("count").cum_sum().alias("all_count"))
    asked = days.filter(pl.col("host").is_not_null()).sort("day")
    valued = (asked.join_asof(overall, on="day", strategy="backward", allow_exact_matches=False)
              .join_asof(by_host.sort("day"), on="day", by="host", strategy="backward", allow_exact_matches=False,
                         check_sortedness=False))
    mean_all = pl.when(pl.col("all_count") > 0).then(pl.col("all_total") / pl.col("all_count")).otherwise(0.0)
    shrunk = ((pl.col("host_total").fill_null(0.0) + PRIOR_EVENTS * mean_all)
              / (pl.col("host_count").fill_null(0.0) + PRIOR_EVENTS))
    return days.join(valued.select("host", "day", shrunk.alias("ls_host_uplift")), on=["host", "day"], how="left").with_columns(pl.col("ls_host_uplift").fill_null(0.0).fill_nan(0.0))


def _event_uplifts(sales: pl.LazyFrame, applied: pl.LazyFrame, *, cutoff: dt.date) -> pl.LazyFrame:
    """`event_id, host, day, uplift`: the mean log uplift of each past event over its measurable cells."""
    known = sales.filter((pl.col("day") <= cutoff) & pl.col("y").is_not_null()).select(*SERIES, "day", "y")
    featured = applied.select(*SERIES, "day").unique()
    ordinary = known.join(featured, on=[*SERIES, "day"], how="anti")
    cells = applied.filter(pl.col("day") <= cutoff).select("event_id", "host", *SERIES, "day").unique()
    cells = cells.join(known, on=[*SERIES, "day"])
    before = pl.concat([
        cells.select("event_id", *SERIES, "day", (pl.col("day") - pl.duration(weeks=w)).alias("before"))
        for w in _WEEKS
    ]).join(ordinary.rename({"day": "before", "y": "y_before"}), on=[*SERIES, "before"])
    baseline = before.group_by("event_id", *SERIES, "day").agg(
        pl.col("y_before").mean().alias("baseline"), pl.len().alias("weeks"))
    measured = cells.join(baseline, on=["event_id", *SERIES, "day"]).filter(
        (pl.col("weeks") >= 2) & (pl.col("baseline") >= MIN_BASELINE))
    ratio = ((pl.col("y") + 1.0) / (pl.col("baseline") + 1.0)).log()
    return measured.group_by("event_id", "host", "day").agg(ratio.mean().alias("uplift"))

"""The shape of each stored sales series at a cutoff, and the one regular panel every model sees.

Real feeds are ragged: days without a row, series that stop reporting a few days early, series
that stopped selling long ago. `series_shapes` states, per SKU x region, what its rows mean at a
cutoff (policy `zero` or `unknown` from its newest batch, how far it is reported, its holes, how
late it is, whether it is inactive); `regular_panel` turns the rows into one row per series and
day by that statement (utilsforecast's `fill_gaps`), so that no model ever sees a missing day it
has to guess about. The policies are documented in docs/forecasting.md.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from utilsforecast.preprocessing import fill_gaps

__all__ = ["SERIES_STATUSES", "SHAPE_SCHEMA", "regular_panel", "series_shapes", "zero_spans"]

SERIES_STATUSES = ("live", "late", "inactive")
"""`live`: reported through the cutoff; `late`: last reported before it (forecast from its own last
day); `inactive`: no sale for `inactive_after` days or more (forecast zero, not modelled)."""

SHAPE_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String, "region": pl.String, "absent": pl.String, "first_day": pl.Date, "last_row": pl.Date,
    "last_sale": pl.Date, "reported_through": pl.Date, "rows": pl.UInt32, "absent_days": pl.Int64,
    "holes": pl.UInt32, "days_late": pl.Int64, "days_without_sale": pl.Int64, "status": pl.String,
}  # fmt: skip
"""One row per series: the absent-days policy of its newest batch, first and last stored row, last
day with a sale, the last day its rows speak for (`reported_through`: the last row, or the last day
a `zero` batch of the series covers), days in its span without a row and the stretches they form,
days late at the cutoff, days since its last sale (since its first day when it never sold), status."""


def series_shapes(rows: pl.DataFrame, batches: pl.DataFrame, *, cutoff: dt.date, inactive_after: int) -> pl.DataFrame:
    """The shape of every series of `rows` at `cutoff` (`SHAPE_SCHEMA`).

    Args:
        rows: sku, region, day, y, batch_id of every stored sale up to `cutoff`.
        batches: batch_id, absent (`zero`/`unknown`, null: unknown), last_day of the sales batches.
        inactive_after: days without a sale from which a series is `inactive`.
    """
    if rows.is_empty():
        return pl.DataFrame(schema=SHAPE_SCHEMA)
    covered = rows.lazy().join(batches.lazy(), on="batch_id", how="left")
    per = covered.group_by("sku", "region").agg(
        pl.col("absent").sort_by("day").last().fill_null("unknown"),
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_row"),
        pl.col("day").filter(pl.col("y") > 0).max().alias("last_sale"),
        pl.col("last_day").filter(pl.col("absent") == "zero").max().alias("_covered"),
        pl.len().cast(pl.UInt32).alias("rows"),
        (pl.col("day").sort().diff().dt.total_days() > 1).sum().cast(pl.UInt32).alias("holes"),
    )
    covered_to = pl.when(pl.col("_covered").is_not_null()).then(pl.min_horizontal("_covered", pl.lit(cutoff)))
    shaped = per.with_columns(pl.max_horizontal("last_row", covered_to).alias("reported_through"))
    idle = (pl.lit(cutoff) - pl.coalesce(pl.col("last_sale"), pl.col("first_day"))).dt.total_days()
    shaped = shaped.with_columns(
        ((pl.col("last_row") - pl.col("first_day")).dt.total_days() + 1 - pl.col("rows")).alias("absent_days"),
        (pl.lit(cutoff) - pl.col("reported_through")).dt.total_days().alias("days_late"),
        idle.alias("days_without_sale"),
    ).with_columns(
        pl.when(pl.col("days_without_sale") >= inactive_after).then(pl.lit("inactive"))
        .when(pl.col("days_late") > 0).then(pl.lit("late")).otherwise(pl.lit("live")).alias("status"))
    return shaped.select(list(SHAPE_SCHEMA)).sort("sku", "region").collect().cast(SHAPE_SCHEMA)


def zero_spans(rows: pl.DataFrame, batches: pl.DataFrame) -> pl.DataFrame:
    """sku, region, first_day, last_day: the days each `zero` batch that wrote a series covers (an
    absent day of the series inside one is no sale; elsewhere it was not reported)."""
    zero = batches.filter(pl.col("absent") == "zero").select("batch_id", "first_day", "last_day")
    return rows.lazy().select("sku", "region", "batch_id").unique().join(zero.lazy(), on="batch_id").drop(
        "batch_id").collect()


def regular_panel(rows: pl.DataFrame, shapes: pl.DataFrame, spans: pl.DataFrame, *, end: dt.date | None) -> pl.DataFrame:
    """One row per series and day, from its first day through `end` (None: through `reported_through`),
    sorted by sku, region, day.

    Days up to `reported_through` are `reported`: a stored row, or an absent day that is 0 inside a
    `zero` span of the series (`zero_spans`) and null (not known) elsewhere. Later days (a late
    series' days up to the cutoff, and the horizon) have y and price null. Only the series with
    absent days go through `fill_gaps`; the others' rows are taken as they are (at 10,000 series
    filling every series cost 1.5 GiB more peak memory than this).

    Args:
        rows: sku, region, day, y and any other columns (null on the days added).
        shapes: `series_shapes` of the series to keep (others are left out).
        spans: `zero_spans` of the series.
        end: the last day of every series (the cutoff plus the horizon and the lateness allowance).
    """
    series = ["sku", "region"]
    history = rows.lazy()  # lazily: the kept rows are not copied before the one sort
    left_out = rows.select(series).unique().join(shapes.select(series), on=series, how="anti")
    if left_out.height:
        history = history.join(left_out.lazy(), on=series, how="anti")
    gapped = shapes.filter((pl.col("absent_days") > 0) | (pl.col("reported_through") > pl.col("last_row")))
    if gapped.height:
        holed = gapped.select(series).lazy()
        history = pl.concat([history.join(holed, on=series, how="anti"),
                             _filled(rows.join(gapped.select(series), on=series, how="semi"), gapped, spans).lazy()],
                            how="vertical_relaxed")
    parts = [history.with_columns(pl.lit(True).alias("reported"))]
    if end is not None:
        days = pl.date_ranges(pl.col("reported_through") + dt.timedelta(days=1), pl.lit(end)).alias("day")
        parts.append(shapes.lazy().select(*series, days).explode("day").drop_nulls("day").with_columns(
            pl.lit(False).alias("reported")))
    return pl.concat(parts, how="diagonal_relaxed").select(*rows.columns, "reported").sort(*series, "day").collect()


def _filled(rows: pl.DataFrame, shapes: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """`rows` of the series of `shapes` with every day from each one's first to its `reported_through`:
    absent days 0 inside a `zero` span of the series, null elsewhere (fill_gaps). The days are filled
    on an integer series id, the names joined back after (names in the grid cost GiBs at 10,000 series)."""
    keys = shapes.select("sku", "region", "last_row", "reported_through").with_row_index("_sid")
    stored = rows.join(keys.select("sku", "region", "_sid"), on=["sku", "region"]).drop("sku", "region")
    # a row at the last reported day of each series whose files cover days after its last row, so that
    # fill_gaps' per-series end is that day
    ends = keys.filter(pl.col("reported_through") > pl.col("last_row")).select(
        "_sid", pl.col("reported_through").alias("day"), pl.lit(True).alias("_end"))
    filled = fill_gaps(pl.concat([stored, ends], how="diagonal_relaxed"), freq="1d", start="per_serie",
                       end="per_serie", id_col="_sid", time_col="day")
    coded = spans.join(keys.select("sku", "region", "_sid"), on=["sku", "region"]).drop("sku", "region")
    absent = filled.filter(pl.col("y").is_null()).select("_sid", "day")
    zero_days = absent.join(coded, on="_sid").filter(pl.col("day").is_between("first_day", "last_day")).select(
        "_sid", "day").unique().with_columns(pl.lit(True).alias("_zero"))
    return filled.join(zero_days, on=["_sid", "day"], how="left").with_columns(
        pl.when(pl.col("_zero")).then(0.0).otherwise(pl.col("y")).alias("y")).join(
        keys.select("_sid", "sku", "region"), on="_sid").select(rows.columns)

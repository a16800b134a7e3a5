"""WRMSSE, the M5 competition's accuracy measure, over its 12 aggregation levels.

Written by hand: utilsforecast has RMSSE per series but neither M5's hierarchy nor its weights,
and hierarchicalforecast aggregates but does not score this way. Following the M5 guide
(Makridakis et al., "The M5 competition: Background, organization, and implementation", 2022):

- every bottom series (item x store) is summed up to 12 levels: total, state, store, category,
  department, state x category, state x department, store x category, store x department, item,
  item x state, item x store (42,840 series in the full M5; forecasts are summed the same way);
- each aggregated series gets RMSSE = sqrt(mean squared forecast error over the horizon / scale),
  where scale = mean of (y_t - y_{t-1})^2 over its history from its first non-zero value on;
- its weight is its share of the level's revenue (units x sell price) over the last 28 days before
  the cutoff, so each level's weights sum to 1;
- WRMSSE = the mean over the 12 levels of sum(weight x RMSSE).

A series whose scale is 0 (never two different values after its first sale) has no RMSSE; it is
left out and the level's other weights are not rescaled (it had no revenue variation to speak of).
"""

from __future__ import annotations

import polars as pl

__all__ = ["BOTTOM", "HIERARCHY_COLUMNS", "LEVELS", "wrmsse"]

LEVELS: dict[str, tuple[str, ...]] = {
    "L1 total": (),
    "L2 state": ("state",),
    "L3 store": ("store",),
    "L4 category": ("cat",),
    "L5 department": ("dept",),
    "L6 state x category": ("state", "cat"),
    "L7 state x department": ("state", "dept"),
    "L8 store x category": ("store", "cat"),
    "L9 store x department": ("store", "dept"),
    "L10 item": ("item",),
    "L11 item x state": ("item", "state"),
    "L12 item x store": ("item", "store"),
}
"""M5's levels: name -> the hierarchy columns that identify one aggregated series."""
BOTTOM = ("item", "store")
HIERARCHY_COLUMNS = ("item", "store", "state", "cat", "dept")
WEIGHT_DAYS = 28
_ALL = "_all"


def wrmsse(history: pl.DataFrame, forecasts: pl.DataFrame, hierarchy: pl.DataFrame, *,
           models: list[str], weight_days: int = WEIGHT_DAYS) -> pl.DataFrame:
    """WRMSSE of each model, in total and per level.

    Args:
        history: item, store, ds, y, price (price null = not on sale: no revenue) up to the cutoff.
        forecasts: item, store, ds, y (the actuals) and one column of point forecasts per model,
            over the horizon after the cutoff; every bottom series of `hierarchy` needs every day.
        hierarchy: item, store, state, cat, dept, one row per bottom series.
        models: the forecast columns to score.
        weight_days: days before the cutoff whose revenue sets the weights.

    Returns:
        model, level (the 12 names of LEVELS and "WRMSSE" for their mean), value.

    Raises:
        ValueError: a bottom series without a hierarchy row, or forecasts with missing days.
    """
    _check(history, forecasts, hierarchy, models)
    everything = pl.lit("total").alias(_ALL)
    # sorted after the joins (which do not keep row order) so every sum adds in the same order
    hist = history.join(hierarchy, on=list(BOTTOM)).with_columns(everything).sort(*BOTTOM, "ds")
    fc = forecasts.join(hierarchy, on=list(BOTTOM)).with_columns(everything).sort(*BOTTOM, "ds")
    cutoff = hist["ds"].max()
    recent = hist.filter(pl.col("ds") > pl.lit(cutoff) - pl.duration(days=weight_days))
    rows = []
    for level, columns in LEVELS.items():
        keys = list(columns) or [_ALL]
        scored = _mse(fc, keys, models).join(_scales(hist, keys), on=keys, how="left").join(
            _weights(recent, keys), on=keys, how="left").sort(keys)
        for model in models:
            rmsse = pl.when(pl.col("scale") > 0).then((pl.col(f"mse_{model}") / pl.col("scale")).sqrt())
            value = scored.select((rmsse * pl.col("weight").fill_null(0.0)).sort().sum()).item()
            rows.append((model, level, float(value)))
    per_level = pl.DataFrame(rows, schema={"model": pl.String, "level": pl.String, "value": pl.Float64}, orient="row")
    total = per_level.group_by("model", maintain_order=True).agg(pl.col("value").sort().mean()).with_columns(
        pl.lit("WRMSSE").alias("level")).select(per_level.columns)
    return pl.concat([per_level, total])


def _check(history: pl.DataFrame, forecasts: pl.DataFrame, hierarchy: pl.DataFrame, models: list[str]) -> None:
    missing = [c for c in HIERARCHY_COLUMNS if c not in hierarchy.columns]
    if missing:
        raise ValueError(f"hierarchy lacks column(s) {missing}; it needs {', '.join(HIERARCHY_COLUMNS)}")
    absent = [m for m in models if m not in forecasts.columns]
    if absent:
        raise ValueError(f"forecasts lack model column(s) {absent}")
    unknown = history.select(BOTTOM).unique().join(hierarchy.select(BOTTOM), on=list(BOTTOM), how="anti")
    if unknown.height:
        raise ValueError(f"{unknown.height} bottom series have no hierarchy row, e.g. {unknown.row(0)}")
    days = forecasts["ds"].n_unique()
    short = forecasts.group_by(BOTTOM).len().filter(pl.col("len") != days)
    if short.height or forecasts.select(BOTTOM).unique().height != hierarchy.height:
        raise ValueError("forecasts must cover every bottom series of the hierarchy on every horizon day")


def _scales(hist: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """keys, scale: mean squared one-step change from the first non-zero value on (that value's own
    change from before is not counted). Days are contiguous from the first sale on."""
    agg = hist.group_by(*keys, "ds").agg(pl.col("y").sort().sum()).sort(*keys, "ds")
    active = agg.filter(((pl.col("y") > 0).cast(pl.Int32).cum_sum() > 0).over(keys))
    changes = active.with_columns(pl.col("y").diff().over(keys).alias("_diff"),
                                  pl.int_range(pl.len()).over(keys).alias("_pos")).filter(pl.col("_pos") > 0)
    return changes.group_by(keys).agg((pl.col("_diff") ** 2).sort().mean().alias("scale"))


def _weights(recent: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """keys, weight: share of the level's revenue over the recent days."""
    revenue = recent.group_by(keys).agg((pl.col("y") * pl.col("price").fill_null(0.0)).sort().sum().alias("_revenue"))
    total = revenue["_revenue"].sort().sum()
    return revenue.select(*keys, (pl.col("_revenue") / total if total else pl.lit(0.0)).alias("weight"))


def _mse(fc: pl.DataFrame, keys: list[str], models: list[str]) -> pl.DataFrame:
    """keys, mse_<model>: mean squared error of the summed forecasts over the horizon."""
    agg = fc.group_by(*keys, "ds").agg(pl.col(c).sort().sum() for c in ("y", *models))
    return agg.group_by(keys).agg([((pl.col(m) - pl.col("y")) ** 2).sort().mean().alias(f"mse_{m}") for m in models])

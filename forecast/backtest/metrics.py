"""Backtest metrics through utilsforecast's losses, per series and pooled, per window and per horizon step.

Every loss is utilsforecast's (`mae`, `rmse`, `mase`, `rmsse`, `wape`, `bias`, `smape`, `coverage`,
`mqloss`), computed per `unique_id` x `cutoff` (its cross-validation layout). Choices:

- MASE (seasonal, `season_length`) and RMSSE (one-step, as in M5) are scaled on the history up to
  each cutoff from the series' first non-zero value on; a series with no such history has none.
- sMAPE is utilsforecast's: mean |y - yhat| / (|y| + |yhat|), in 0..1.
- pinball is the mean pinball loss over the quantiles 2.5%, 10%, 50%, 90%, 97.5% (the 95% and 80%
  bounds and the point forecast as the median).
- Pooled rows (`unique_id` "*") sum errors over every series (MAE, RMSE, WAPE, bias, sMAPE,
  coverage, pinball over all rows) and average the scaled ones (MASE, RMSSE) over series.
- Per step, a series' MASE and RMSSE use the same scale as its window (its MAE / MASE and
  MSE / RMSSE^2), so step rows add up to the window's.
- Rows are put in a fixed order before every sum, so a rerun on the same data gives the same bits
  (polars joins do not keep row order, and float sums depend on it). The pooled sums, one group of
  every row, and the per-series metrics go through utilsforecast's pandas path, which sums in row
  order.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import polars as pl
from utilsforecast.losses import bias, coverage, mae, mase, mqloss, rmse, rmsse, smape, wape

from forecast.storage.backtest_repo import POOLED

__all__ = ["METRICS", "pooled_metrics", "series_metrics", "step_metrics"]

METRICS = ("mae", "rmse", "mase", "rmsse", "wape", "bias", "smape", "coverage_80", "coverage_95", "pinball")
SCALED = ("mase", "rmsse")
QUANTILES = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
BOUNDS = {"lo95": "lo-95", "lo80": "lo-80", "hi80": "hi-80", "hi95": "hi-95"}
LONG = {"unique_id": pl.String, "cutoff": pl.Date, "model": pl.String, "metric": pl.String, "value": pl.Float64}


def _wide(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """utilsforecast's layout: one column per model (`m`, `m-lo-80`, ...) from long rows."""
    models = frame["model"].unique(maintain_order=True).to_list()
    index = ["unique_id", "cutoff", "ds", "y", *(["_series"] if "_series" in frame.columns else [])]
    wide = frame.pivot(on="model", index=index, values="yhat")
    for column, suffix in BOUNDS.items():
        part = frame.pivot(on="model", index=index, values=column)
        wide = wide.join(part.rename({m: f"{m}-{suffix}" for m in models}), on=index)
    return wide.sort(index), models  # a fixed row order: sums over rows give the same bits every run


def _long(result: pl.DataFrame, models: list[str], metric: str) -> pl.DataFrame:
    return result.unpivot(index=["unique_id", "cutoff"], on=models, variable_name="model").with_columns(
        pl.lit(metric).alias("metric")).select(list(LONG)).cast(LONG)


def _unscaled(wide: pl.DataFrame, models: list[str]) -> dict[str, pl.DataFrame]:
    intervals = {m: [f"{m}-lo-95", f"{m}-lo-80", m, f"{m}-hi-80", f"{m}-hi-95"] for m in models}
    return {
        "mae": mae(wide, models), "rmse": rmse(wide, models), "wape": wape(wide, models), "bias": bias(wide, models),
        "smape": smape(wide, models), "coverage_80": coverage(wide, models, level=80),
        "coverage_95": coverage(wide, models, level=95), "pinball": mqloss(wide, intervals, quantiles=QUANTILES),
    }


def active_history(train: pl.DataFrame) -> pl.DataFrame:
    """unique_id, ds, y from each series' first non-zero value on (M5's scaling rule)."""
    ordered = train.select("unique_id", "ds", "y").sort("unique_id", "ds")
    return ordered.filter(((pl.col("y") > 0).cast(pl.Int32).cum_sum() > 0).over("unique_id"))


def series_metrics(frame: pl.DataFrame, train: pl.DataFrame, *, season_length: int) -> pl.DataFrame:
    """Every metric per series x window x model.

    Args:
        frame: unique_id, cutoff, ds, y, model, yhat, lo80, hi80, lo95, hi95 (one row per model).
        train: unique_id, ds, y of the history (every cutoff's history; each uses its days <= cutoff).
        season_length: MASE's season (7 for daily data).

    Returns:
        unique_id, cutoff, model, metric, value.
    """
    wide, models = _wide(frame)
    # pandas, like the pooled sums: polars' group_by sums a series' rows in an order that depends on
    # its threads (per-series MASE and RMSSE changed in their last bits between reruns of M5)
    wide, active = wide.to_pandas(), active_history(train).to_pandas()
    results = _unscaled(wide, models) | {
        "mase": partial(mase, seasonality=season_length)(wide, models, train_df=active),
        "rmsse": partial(rmsse, seasonality=1)(wide, models, train_df=active),
    }
    long = pl.concat([_long(pl.from_pandas(result), models, metric) for metric, result in results.items()])
    return _forecast_only(long, frame, ["unique_id", "cutoff", "model"])


def _forecast_only(metrics: pl.DataFrame, frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The metric rows of the (series or window) x model pairs `frame` has forecasts for.

    The wide layout has a column per model on every row, null where a model made no forecast (the
    Selected rows of the first window, say); utilsforecast would score those nulls as zero error.
    """
    return metrics.join(frame.select(keys).unique(), on=keys, how="semi")


def pooled_metrics(frame: pl.DataFrame, per_series: pl.DataFrame, *, by: str | None = None) -> pl.DataFrame:
    """Metrics over every series, per window x model (and per value of `by`, e.g. the step).

    Returns:
        unique_id ("*"), cutoff, model, [by,] metric, value.
    """
    keys = ["cutoff", *([by] if by else [])]
    tagged = frame.with_columns(pl.col("unique_id").alias("_series"), pl.concat_str(
        pl.lit(POOLED), *([pl.lit("|"), pl.col(by).cast(pl.String)] if by else [])).alias("unique_id"))
    wide, models = _wide(tagged)
    # One group of every row: polars sums a group that large on several threads, in an order that
    # varies from run to run (the last bits of WAPE and pinball changed between reruns). pandas sums
    # it in row order, so a rerun gives the same bits.
    unscaled = _unscaled(wide.to_pandas(), models)
    pooled = pl.concat([_long(pl.from_pandas(r), models, m) for m, r in unscaled.items()])
    if by:
        pooled = pooled.with_columns(pl.col("unique_id").str.split("|").list.get(1).cast(frame.schema[by]).alias(by),
                                     pl.lit(POOLED).alias("unique_id"))
    pooled = _forecast_only(pooled, frame, [*keys, "model"])
    scaled = per_series.filter(pl.col("metric").is_in(SCALED))
    if by:
        scaled = _scaled_by(frame, per_series, by)
    mean_scaled = scaled.group_by(*keys, "model", "metric").agg(pl.col("value").sort().mean()).with_columns(
        pl.lit(POOLED).alias("unique_id"))
    return pl.concat([pooled, mean_scaled.select(pooled.columns)])


def _scaled_by(frame: pl.DataFrame, per_series: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per series x `by`: |e| / MASE scale and sqrt(e^2 / RMSSE scale), the scales from the window's values."""
    wide = per_series.filter(pl.col("metric").is_in(["mae", "rmse", *SCALED])).pivot(
        on="metric", index=["unique_id", "cutoff", "model"], values="value")
    scales = wide.select("unique_id", "cutoff", "model", (pl.col("mae") / pl.col("mase")).alias("mase_scale"),
                         (pl.col("rmse") ** 2 / pl.col("rmsse") ** 2).alias("rmsse_scale"))
    joined = frame.join(scales, on=["unique_id", "cutoff", "model"]).sort("unique_id", "cutoff", "model", by, "ds")
    err = joined.group_by("unique_id", "cutoff", "model", by).agg(
        ((pl.col("yhat") - pl.col("y")).abs().mean() / pl.col("mase_scale").first()).alias("mase"),
        (((pl.col("yhat") - pl.col("y")) ** 2).mean() / pl.col("rmsse_scale").first()).sqrt().alias("rmsse"))
    return err.unpivot(index=["unique_id", "cutoff", "model", by], on=list(SCALED), variable_name="metric")


def step_metrics(frame: pl.DataFrame, per_series: pl.DataFrame) -> pl.DataFrame:
    """Pooled metrics per window x model x horizon step (`frame` has a `step` column, 1-based)."""
    return pooled_metrics(frame, per_series, by="step")

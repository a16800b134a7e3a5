"""One backtest window: the data as known at its origin, every model's forecast, and the actuals.

Each window is fitted on the sales up to its origin (cutoff) with the signal features exactly as
they were known at that origin: case counts reported by then and projected after, livestreams and
promotions as announced by then. The libraries' own cross-validation (statsforecast's and
mlforecast's `cross_validation`) reads exogenous values from one frame, so realised future case
counts would leak into every window; it also refits per window, so a loop of fits at each origin,
through the same `Forecaster` the nightly run uses, costs the same and tests what is run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from forecast.backtest.config import SIGNAL_MODELS, BacktestConfig
from forecast.features import build_panel_features, load_signals, read_sales, sales_panel
from forecast.models.distributed import Execution
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.frames import DEFAULT_EXOG, ModelFrames, keyed, model_frames
from forecast.pipeline.selection import NO_SIGNALS
from forecast.pipeline.series_report import inactive_zeros
from forecast.storage import repo
from forecast.storage.engine import session_scope

__all__ = ["WindowResult", "hierarchy", "run_window"]

VALUES = ("yhat", "lo80", "hi80", "lo95", "hi95")
BLIND_EXOG: dict[str, list[str]] = {family: [] for family in DEFAULT_EXOG}


@dataclass(frozen=True)
class WindowResult:
    """Forecast rows with actuals (sku, region, ds, step, model, VALUES, produced_by, y) and the history."""

    window: int
    cutoff: dt.date
    forecasts: pl.DataFrame
    history: pl.DataFrame
    """sku, region, ds, y, price up to the cutoff, for the scales and the WRMSSE weights."""


def run_window(engine: Engine, config: BacktestConfig, *, window: int, cutoff: dt.date, max_batch: int,
               n_jobs: int, execution: Execution = "local", dask_address: str | None = None) -> WindowResult:
    """Fit every model at `cutoff` on the data as known after `max_batch`, forecast, attach actuals.

    `execution="dask"` fits on the Dask cluster at `dask_address` (see `Forecaster`).
    """
    h = config.horizon
    with session_scope(engine) as session:
        sales = read_sales(session=session, cutoff=cutoff, horizon=h, max_batch=max_batch)
        signals = load_signals(session=session, cutoff=cutoff, max_batch=max_batch)
        known = sales_panel(session=session, cutoff=cutoff + dt.timedelta(days=h), max_batch=max_batch,
                            keep_inactive=True)
    frames = model_frames(build_panel_features(sales.frame, signals), cutoff=cutoff)
    where = {"n_jobs": n_jobs, "execution": execution, "dask_address": dask_address}
    parts = [_forecasts(Forecaster(list(config.models), exog=DEFAULT_EXOG, **where), frames, h=h)]
    blind = [m for m in config.models if m in SIGNAL_MODELS]
    if config.compare_signals and blind:
        parts.append(_forecasts(Forecaster(blind, exog=BLIND_EXOG, **where), frames, h=h, suffix=NO_SIGNALS))
    forecasts = keyed(pl.concat(parts), frames.series, "model", *VALUES, "produced_by")
    # inactive series at the cutoff are forecast zero, as a run publishes them, by every model
    idle = inactive_zeros(sales.shapes, cutoff=cutoff, horizon=h).rename({"model": "produced_by"})
    names = forecasts.select("model").unique()
    forecasts = pl.concat([forecasts, idle.join(names, how="cross").select(forecasts.columns)],
                          how="vertical_relaxed").rename({"sku_id": "sku", "region_id": "region", "day": "ds"})
    actuals = known.filter(pl.col("day") > cutoff).select("sku", "region", pl.col("day").alias("ds"), "y")
    forecasts = forecasts.join(actuals, on=["sku", "region", "ds"], how="left").with_columns(
        pl.col("y").fill_null(0.0),  # no sales row on a day of a series that has history: nothing sold
        ((pl.col("ds") - pl.lit(cutoff)).dt.total_days()).cast(pl.Int32).alias("step"))
    history = known.filter(pl.col("day") <= cutoff).rename({"day": "ds"})
    return WindowResult(window, cutoff, forecasts.sort("sku", "region", "model", "ds"), history)


def _forecasts(forecaster: Forecaster, frames: ModelFrames, *, h: int, suffix: str = "") -> pl.DataFrame:
    """unique_id, ds, model (as asked, plus `suffix`), VALUES, produced_by."""
    out, _ = forecaster.forecast_each(frames.history, frames.future, h=h)
    return out.select("unique_id", "ds", (pl.col("asked") + suffix).alias("model"), *VALUES,
                      pl.col("model").alias("produced_by"))


def hierarchy(engine: Engine, series: pl.DataFrame) -> pl.DataFrame:
    """M5 hierarchy columns of each (sku, region): item, store, state (region parent), cat, dept.

    A SKU without a `dept` attribute uses its category; without a category, "uncategorised"; a
    region without a parent is its own state.
    """
    with session_scope(engine) as session:
        skus = pl.DataFrame([(s, c, (a or {}).get("dept")) for s, c, a in repo.sku_rows(session=session)],
                            schema={"item": pl.String, "cat": pl.String, "dept": pl.String}, orient="row")
        regions = pl.DataFrame(list(repo.region_parents(session=session).items()),
                               schema={"store": pl.String, "state": pl.String}, orient="row")
    frame = series.select(pl.col("sku").alias("item"), pl.col("region").alias("store")).unique()
    return frame.join(skus, on="item", how="left").join(regions, on="store", how="left").select(
        "item", "store", pl.coalesce("state", "store").alias("state"),
        pl.col("cat").fill_null("uncategorised"), pl.coalesce("dept", "cat", pl.lit("uncategorised")).alias("dept"))

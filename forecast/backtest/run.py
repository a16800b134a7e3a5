"""A rolling-origin backtest from storage: windows, metrics, selection and ensembles, stored for reruns.

The run records the newest ingest batch when it started; its windows read the sales and signals as
they were after that batch (`sales_history` undoes later corrections, later signal rows are left
out), so `rerun_backtest` gives the same numbers whatever was ingested since.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine

from forecast.backtest.config import BacktestConfig, window_cutoffs
from forecast.backtest.metrics import pooled_metrics, series_metrics, step_metrics
from forecast.backtest.windows import VALUES, WindowResult, hierarchy, run_window
from forecast.backtest.wrmsse import wrmsse
from forecast.errors import InvalidInputError
from forecast.models.base import FREQUENCIES
from forecast.models.distributed import Execution, dask_engine
from forecast.pipeline.frames import series_ids
from forecast.pipeline.selection import ENSEMBLE, SELECTED, band_factors, combine, rank_models, rescale_bands
from forecast.version import code_version
from forecast.storage import backtest_repo, sales_repo
from forecast.storage.backtest_repo import ALL_WINDOWS, POOLED
from forecast.storage.engine import session_scope

__all__ = ["BacktestReport", "rerun_backtest", "run_backtest"]

logger = logging.getLogger(__name__)

SUMMARY_METRICS = ("wrmsse", "rmsse", "mase", "wape", "bias", "coverage_80", "coverage_95", "pinball")
Progress = Callable[[str, int, int], None]


@dataclass
class BacktestReport:
    """What one backtest did, with each model's metrics over the windows every model has."""

    run_id: int
    status: str
    data_cutoff: str
    data_batch_id: int
    cutoffs: list[str]
    series: int = 0
    seconds: float = 0.0
    rerun_of: int | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


def rerun_backtest(engine: Engine, run_id: int, *, n_jobs: int = 1, progress: Progress | None = None,
                   execution: Execution = "local", dask_address: str | None = None) -> BacktestReport:
    """Run a stored backtest again: its config, its data cutoff, the data as it was known then."""
    with session_scope(engine) as session:
        run = backtest_repo.get_run(session=session, run_id=run_id)
        config, cutoff, batch = BacktestConfig.from_dict(run.config), run.data_cutoff, run.data_batch_id
    return run_backtest(engine, config, data_cutoff=cutoff, max_batch=batch, n_jobs=n_jobs, progress=progress,
                        rerun_of=run_id, execution=execution, dask_address=dask_address)


def run_backtest(engine: Engine, config: BacktestConfig, *, data_cutoff: dt.date | None = None,
                 max_batch: int | None = None, n_jobs: int = 1, progress: Progress | None = None,
                 rerun_of: int | None = None, execution: Execution = "local",
                 dask_address: str | None = None) -> BacktestReport:
    """Backtest `config` on the stored data and store every forecast and metric.

    Args:
        execution: `local`, or `dask` to fit every window on the Dask cluster at `dask_address`
            (not part of the stored config: a rerun chooses its own engine).

    Raises:
        InvalidInputError: no sales, too little history for the windows asked, or an unusable Dask
            engine (nothing is written).
    """
    started = time.perf_counter()
    dask_engine(execution, dask_address)  # connect (or fail) before anything is written
    data_cutoff, max_batch, cutoffs = _plan(engine, config, data_cutoff, max_batch)
    with session_scope(engine) as session:
        run_id = backtest_repo.create_run(session=session, config=config.to_dict(), data_cutoff=data_cutoff,
                                          data_batch_id=max_batch, code_version=code_version(),
                                          rerun_of=rerun_of).id
    report = BacktestReport(run_id, "running", data_cutoff.isoformat(), max_batch, [c.isoformat() for c in cutoffs],
                            rerun_of=rerun_of)
    try:
        results = []
        for window, cutoff in enumerate(cutoffs):
            results.append(run_window(engine, config, window=window, cutoff=cutoff, max_batch=max_batch, n_jobs=n_jobs,
                                      execution=execution, dask_address=dask_address))
            if progress:
                progress("windows", window + 1, len(cutoffs))
        forecasts, metrics, series = evaluate(engine, config, results)
        with session_scope(engine) as session:
            backtest_repo.complete_run(session=session, run_id=run_id, forecasts=forecasts, metrics=metrics,
                                       series=series, seconds=time.perf_counter() - started)
    except BaseException as exc:
        with session_scope(engine) as session:
            backtest_repo.fail_run(session=session, run_id=run_id, error=f"{type(exc).__name__}: {exc}",
                                   seconds=time.perf_counter() - started)
        raise
    report.status, report.series, report.seconds = "complete", series, round(time.perf_counter() - started, 2)
    report.summary = summary_table(metrics)
    return report


def _plan(engine: Engine, config: BacktestConfig, data_cutoff: dt.date | None,
          max_batch: int | None) -> tuple[dt.date, int, list[dt.date]]:
    """The data cutoff, the batch the data is read as of, and the window origins; checks there is history."""
    with session_scope(engine) as session:
        max_batch = backtest_repo.latest_batch_id(session=session) if max_batch is None else max_batch
        first, last = sales_repo.sales_span(session=session, max_batch=max_batch)
    if last is None:
        raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
    data_cutoff = data_cutoff or last
    cutoffs = window_cutoffs(config, data_cutoff)
    needed = first + dt.timedelta(days=2 * config.horizon)
    if cutoffs[0] < needed:
        raise InvalidInputError(
            f"too little history for {config.windows} window(s) of {config.horizon} days every {config.step_days}: "
            f"the first origin {cutoffs[0]} needs sales from {first} plus {2 * config.horizon} days; "
            "use fewer --windows, a shorter --horizon or --step")
    return data_cutoff, max_batch, cutoffs


def evaluate(engine: Engine, config: BacktestConfig, results: list[WindowResult]) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Selection and ensembles, then every metric; returns (forecast rows, metric rows, series) for storage."""
    series = series_ids(pl.concat([r.forecasts.select("sku", "region") for r in results]).unique())
    frame = pl.concat([r.forecasts.with_columns(pl.lit(r.window).alias("window"), pl.lit(r.cutoff).alias("cutoff"))
                       for r in results]).join(series, on=["sku", "region"])
    train = results[-1].history.join(series, on=["sku", "region"]).select("unique_id", "ds", "y")
    per_series = series_metrics(frame, train, season_length=FREQUENCIES["D"])
    factors = None
    if config.select and len(results) > 1:
        chosen, factors = _selection_rows(frame, per_series, config)
        frame = pl.concat([frame, chosen], how="diagonal_relaxed")
        per_series = pl.concat([per_series, series_metrics(chosen, train, season_length=FREQUENCIES["D"])])
    windows = dict(frame.select("cutoff", "window").unique().iter_rows())
    metrics = pl.concat([
        _stored(per_series, series, windows, step=0),
        _stored(pooled_metrics(frame, per_series), series, windows, step=0),
        _stored(step_metrics(frame, per_series), series, windows),
        _wrmsse_rows(engine, results, frame, series),
    ], how="diagonal_relaxed")
    metrics = pl.concat([metrics, _all_windows(metrics, per_series, series, windows),
                         *([factors] if factors is not None else [])], how="diagonal_relaxed")
    forecasts = frame.select(pl.col("window").alias("window_no"), pl.col("sku").alias("sku_id"),
                             pl.col("region").alias("region_id"), "model", pl.col("ds").alias("day"), "step", "y",
                             *VALUES, "produced_by")
    return forecasts, metrics.select(backtest_repo.METRIC_COLUMNS).cast(backtest_repo.METRIC_SCHEMA), series.height


def _selection_rows(frame: pl.DataFrame, per_series: pl.DataFrame,
                    config: BacktestConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`Selected` and `Ensemble` rows of every window after the first, chosen on the windows before it,
    and (as window -1 metric rows `band_factor_80/95`) the band factors all their windows give, for
    a forecast run that selects from this backtest."""
    scores = per_series.filter(pl.col("metric") == config.selection_metric).join(
        frame.select("cutoff", "window").unique(), on="cutoff")
    rows, raw = [], {SELECTED: [], ENSEMBLE: []}
    for window in range(1, int(frame["window"].max()) + 1):
        earlier = scores.filter(pl.col("window") < window).group_by("unique_id", "model").agg(
            pl.col("value").sort().mean())
        members = rank_models(earlier, ["unique_id"], size=config.ensemble_size)
        current = frame.filter(pl.col("window") == window)
        best = current.join(members.filter(pl.col("rank") == 1).select("unique_id", "model"), on=["unique_id", "model"])
        combined = combine(current, members, ["unique_id"], method=config.ensemble_method)
        keys = current.select("unique_id", "sku", "region", "ds", "step", "y", "window", "cutoff").unique()
        for name, chosen in ((SELECTED, best), (ENSEMBLE, combined.join(keys, on=["unique_id", "ds"]))):
            chosen = chosen.with_columns(pl.lit(name).alias("model")).sort("unique_id", "ds")
            # bands rescaled by what the raw bands of the earlier windows covered (none before the second)
            rows.append(rescale_bands(chosen, band_factors(pl.concat(raw[name]))) if raw[name] else chosen)
            raw[name].append(chosen)
    factors = pl.DataFrame([
        {"window_no": ALL_WINDOWS, "sku_id": POOLED, "region_id": POOLED, "model": name, "step": 0,
         "metric": f"band_factor_{level}", "value": factor}
        for name, chosen in raw.items() for level, factor in band_factors(pl.concat(chosen)).items()])
    return pl.concat(rows, how="diagonal_relaxed").select(frame.columns), factors


def _stored(metrics: pl.DataFrame, series: pl.DataFrame, windows: dict[dt.date, int], *,
            step: int | None = None) -> pl.DataFrame:
    """Metric rows keyed for storage: window number, sku and region ("*" for pooled rows), step."""
    keyed = metrics.join(series, on="unique_id", how="left").with_columns(
        pl.col("cutoff").replace_strict(windows, return_dtype=pl.Int32).alias("window_no"),
        pl.col("sku").fill_null(POOLED).alias("sku_id"), pl.col("region").fill_null(POOLED).alias("region_id"))
    if step is not None:
        keyed = keyed.with_columns(pl.lit(step, dtype=pl.Int32).alias("step"))
    return keyed.select(backtest_repo.METRIC_COLUMNS)


def _wrmsse_rows(engine: Engine, results: list[WindowResult], frame: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """WRMSSE per window x model and per level (sku "*", region = the level's name)."""
    tree = hierarchy(engine, series)
    rows = []
    for result in results:
        current = frame.filter(pl.col("window") == result.window)
        wide = current.pivot(on="model", index=["sku", "region", "ds", "y"], values="yhat").rename(
            {"sku": "item", "region": "store"})
        models = [c for c in wide.columns if c not in ("item", "store", "ds", "y")]
        complete = [m for m in models if wide[m].null_count() == 0]
        history = result.history.rename({"sku": "item", "region": "store"})
        scored = wrmsse(history, wide.select("item", "store", "ds", "y", *complete), tree, models=complete)
        rows.append(scored.select(pl.lit(result.window, dtype=pl.Int32).alias("window_no"), pl.lit(POOLED).alias("sku_id"),
                                  pl.col("level").alias("region_id"), "model", pl.lit(0, dtype=pl.Int32).alias("step"),
                                  pl.lit("wrmsse").alias("metric"), "value"))
    return pl.concat(rows)


def _all_windows(metrics: pl.DataFrame, per_series: pl.DataFrame, series: pl.DataFrame,
                 windows: dict[dt.date, int]) -> pl.DataFrame:
    """Window -1: pooled and WRMSSE rows averaged over the windows every model has; per-series rows
    averaged over every window of their model (what a forecast run selects on)."""
    pooled = metrics.filter(pl.col("sku_id") == POOLED)
    per_model = pooled.group_by("model").agg(pl.col("window_no").unique())
    common = set.intersection(*(set(w) for w in per_model["window_no"].to_list()))
    summary = pooled.filter(pl.col("window_no").is_in(sorted(common))).group_by(
        "sku_id", "region_id", "model", "step", "metric").agg(pl.col("value").sort().mean())
    each = _stored(per_series, series, windows, step=0).group_by("sku_id", "region_id", "model", "step", "metric").agg(
        pl.col("value").sort().mean())
    return pl.concat([summary, each]).with_columns(pl.lit(ALL_WINDOWS, dtype=pl.Int32).alias("window_no"))


def summary_table(metrics: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per model: SUMMARY_METRICS over the windows every model has (WRMSSE: the 12-level mean)."""
    rows = metrics.filter((pl.col("window_no") == ALL_WINDOWS) & (pl.col("sku_id") == POOLED) & (pl.col("step") == 0)
                          & pl.col("metric").is_in(SUMMARY_METRICS)
                          & ((pl.col("metric") != "wrmsse") | (pl.col("region_id") == "WRMSSE")))
    wide = rows.pivot(on="metric", index="model", values="value")
    order = [m for m in SUMMARY_METRICS if m in wide.columns]
    return wide.select("model", *order).sort("wrmsse" if "wrmsse" in order else "model").to_dicts()

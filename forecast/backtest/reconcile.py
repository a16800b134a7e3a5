"""Coherent totals in the backtest: one model's forecasts of every window, reconciled by each method
and scored at every level against the forecasts before reconciliation.

For each window of a stored backtest the SKU x region rows of `model` (default `Selected`) are the
bottom base forecasts; every aggregate node (category, region, category x region, total) gets an
AutoETS base forecast fitted on its summed history as known at the window's origin
(`forecast.pipeline.reconcile`). Each method of `METHODS` reconciles them, and every node is scored
against its summed actuals with the backtest's own metrics (`series_metrics`), then averaged per level
(a node without a value, e.g. the WAPE of a series that sold nothing in the window, is left out).

The scores are stored with the backtest as metric rows: sku `*`, region = the level, model
`<model> + <method>` (`<model> + base` before reconciliation), step 0, metrics `level_rmsse`,
`level_mase`, `level_wape`, `level_coverage_80`, `level_coverage_95`; window -1 is their mean over
windows. Also at window -1, `level_band_factor_80/95` per aggregate level and method: the
split-conformal factor on the half-widths of the reconciled bands that would have covered 80%/95% of
the days of every window (hierarchicalforecast's normality intervals treat the series' errors as
independent, so the bands of sums come out narrow when the series move together). A forecast run
with `--reconcile auto` uses the method with the lowest RMSSE averaged over the levels, and any
run rescales its aggregate bands by the factors of its method
(`forecast.pipeline.reconcile.reconciliation_evidence`, which also names the stored rows).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine

from forecast.backtest.metrics import series_metrics
from forecast.errors import InvalidInputError
from forecast.features import sales_panel
from forecast.pipeline.forecaster import known_target
from forecast.models.base import FREQUENCIES
from forecast.models.base import LEVELS as INTERVAL_LEVELS
from forecast.pipeline.frames import series_ids
from forecast.pipeline.selection import SELECTED, band_factors, rescale_bands
from forecast.pipeline.reconcile import (BAND_FACTOR, BASE, BOTTOM, DEFAULT_METHOD, JOIN, LEVEL_METRICS, LEVELS,
                                         METHODS, BaseForecasts, base_forecasts, lowest_rmsse_method, node_sums,
                                         reconcile)
from forecast.storage import backtest_repo
from forecast.storage.backtest_repo import ALL_WINDOWS, POOLED
from forecast.storage.engine import session_scope
from forecast.storage.repo import sku_categories

__all__ = ["ReconcileReport", "reconcile_backtest"]

logger = logging.getLogger(__name__)

CALIBRATED = "level_calibrated_coverage_"
Progress = Callable[[str, int, int], None]


@dataclass
class ReconcileReport:
    """What reconciling a backtest found: per level and method (and `base`), the metrics over windows."""

    run_id: int
    model: str
    windows: list[int]
    table: list[dict[str, Any]] = field(default_factory=list)
    best: str = DEFAULT_METHOD
    """The method with the lowest RMSSE averaged over the levels."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


def reconcile_backtest(engine: Engine, run_id: int | None = None, *, model: str = SELECTED,
                       methods: Sequence[str] = METHODS, n_jobs: int = 1, progress: Progress | None = None) -> ReconcileReport:
    """Reconcile backtest `run_id`'s (default: the newest complete one) forecasts of `model` by each
    of `methods`, score every level before and after, store the scores with the run and report them.

    Raises:
        InvalidInputError: no such backtest, an unknown method, or `model` has no rows in the run.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise InvalidInputError(f"unknown reconciliation method(s) {unknown or methods}; use some of {list(METHODS)}")
    with session_scope(engine) as session:
        run = (backtest_repo.get_run(session=session, run_id=run_id) if run_id is not None
               else backtest_repo.latest_complete_run(session=session))
        if run is None:
            raise InvalidInputError("no complete backtest is stored; run one with `demand backtest run` first")
        run_id, batch, horizon = run.id, run.data_batch_id, int(run.config["horizon"])
        rows = backtest_repo.read_forecasts(session=session, run_id=run_id, model=model)
        categories = sku_categories(session=session)
    if rows.is_empty():
        raise InvalidInputError(f"backtest {run_id} has no forecasts of {model!r} (Selected needs two or more windows); "
                                "pass --model with one of its models")
    windows = sorted(rows["window_no"].unique().to_list())
    scores, scored = [], []
    for done, window in enumerate(windows):
        window_metrics, window_rows = _window_scores(engine, rows.filter(pl.col("window_no") == window), categories,
                                                     model=model, methods=methods, horizon=horizon, batch=batch,
                                                     n_jobs=n_jobs)
        scores.append(window_metrics)
        scored.append(window_rows)
        logger.info("backtest %d window %d reconciled by %s", run_id, window, ", ".join(methods))
        if progress:
            progress("windows", done + 1, len(windows))
    metrics = pl.concat(scores)
    metrics = pl.concat([metrics, metrics.group_by("sku_id", "region_id", "model", "step", "metric").agg(
        pl.col("value").fill_nan(None).mean()).with_columns(pl.lit(ALL_WINDOWS, dtype=pl.Int32).alias("window_no")),
        *_calibration_rows(pl.concat(scored))], how="diagonal_relaxed")
    with session_scope(engine) as session:
        backtest_repo.add_metrics(session=session, run_id=run_id, metrics=metrics.select(backtest_repo.METRIC_COLUMNS))
    table = _table(metrics.filter(pl.col("window_no") == ALL_WINDOWS), model)
    return ReconcileReport(run_id, model, windows, table.to_dicts(), lowest_rmsse_method(table))


def _calibration_rows(scored: pl.DataFrame) -> list[pl.DataFrame]:
    """Metric rows of the aggregate levels' band calibration, per level and method:

    - window -1 `level_band_factor_80/95`: the split-conformal factor on the half-widths of the
      reconciled bands that would have covered 80%/95% of the days of every window (what a run uses);
    - per window from the second, and their mean at -1, `level_calibrated_coverage_80/95`: what the
      bands covered once rescaled by the factors of the windows before only (out of sample).
    """
    upper = scored.filter(pl.col("level") != BOTTOM)
    factors, coverage = [], []
    for (level, model), group in upper.group_by("level", "model"):
        factors += [(ALL_WINDOWS, level, model, f"{BAND_FACTOR}{lv}", f) for lv, f in band_factors(group).items()]
        for window in sorted(group["window_no"].unique())[1:]:
            earlier = band_factors(group.filter(pl.col("window_no") < window))
            rescaled = rescale_bands(group.filter(pl.col("window_no") == window), earlier)
            coverage += [(window, level, model, f"{CALIBRATED}{lv}", rescaled.select(
                pl.col("y").is_between(pl.col(f"lo{lv}"), pl.col(f"hi{lv}")).mean()).item()) for lv in earlier]
    schema = {"window": pl.Int32, "region_id": pl.String, "model": pl.String, "metric": pl.String, "value": pl.Float64}
    rows = [pl.DataFrame(factors, schema=schema, orient="row")]
    if coverage:
        per_window = pl.DataFrame(coverage, schema=schema, orient="row")
        rows += [per_window, per_window.group_by("region_id", "model", "metric").agg(pl.col("value").mean()).with_columns(
            pl.lit(ALL_WINDOWS, dtype=pl.Int32).alias("window"))]
    return [r.select(pl.col("window").alias("window_no"), pl.lit(POOLED).alias("sku_id"), "region_id", "model",
                     pl.lit(0, dtype=pl.Int32).alias("step"), "metric", "value") for r in rows]


def _coded_totals(totals: pl.DataFrame, base: BaseForecasts) -> pl.DataFrame:
    """Reconciled `totals` (level, node by real name, ...) with each node's coded id, as the sums and
    base forecasts name it (a name is unique within its level, not across levels)."""
    codes = base.names.join(base.levels(), on="node").rename({"name": "_name"})
    return totals.rename({"node": "_name"}).join(codes, on=["level", "_name"]).drop("_name")


def _window_scores(engine: Engine, rows: pl.DataFrame, categories: pl.DataFrame, *, model: str,
                   methods: Sequence[str], horizon: int, batch: int, n_jobs: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Metric rows (METRIC_COLUMNS) of one window, per level, of the base forecasts and each method,
    and the rows they score (level, model, y, yhat and the bands per node and day)."""
    window = int(rows["window_no"][0])
    cutoff: dt.date = rows["day"].min() - dt.timedelta(days=1)
    with session_scope(engine) as session:
        history = sales_panel(session=session, cutoff=cutoff, max_batch=batch, price=False, keep_inactive=True)
    frame = rows.rename({"sku_id": "sku", "region_id": "region", "day": "ds"})
    series = series_ids(frame).join(categories, on="sku", how="left")  # the series forecast in this window
    bottom = frame.join(series, on=["sku", "region"]).select("unique_id", "ds", "model", "yhat", "lo80", "hi80",
                                                            "lo95", "hi95")
    train = known_target(history.filter("reported").join(series, on=["sku", "region"]).select(
        "unique_id", pl.col("day").alias("ds"), "y"), keep_missing=False)
    base = base_forecasts(bottom, series, train, h=horizon, n_jobs=n_jobs)
    actuals = node_sums(frame.join(series, on=["sku", "region"]), series)
    before = base.wide.select("node", "ds", pl.lit(BASE).alias("method"), pl.col("base").alias("yhat"),
                              *[pl.col(f"base-{s}-{lv}").alias(f"{s}{lv}") for lv in INTERVAL_LEVELS for s in ("lo", "hi")])
    after = []
    for method in methods:
        out = reconcile(base, method)
        nodes = base.bottom.select("unique_id", "ds", "node").join(out.bottom, on=["unique_id", "ds"]).drop("unique_id")
        after.append(pl.concat([nodes, _coded_totals(out.totals, base).drop("level", "base_yhat")], how="diagonal_relaxed")
                     .with_columns(pl.lit(method).alias("method")))
    scored = pl.concat([before, *after], how="diagonal_relaxed").join(actuals, on=["node", "ds"]).select(
        pl.col("node").alias("unique_id"), pl.lit(cutoff).alias("cutoff"), "ds", "y",
        (pl.lit(model + JOIN) + pl.col("method")).alias("model"), "yhat", "lo80", "hi80", "lo95", "hi95")
    per_node = series_metrics(scored, base.history.rename({"node": "unique_id"}), season_length=FREQUENCIES["D"])
    level_of = base.levels().rename({"node": "unique_id"})
    metrics = (per_node.filter(pl.col("metric").is_in(list(LEVEL_METRICS))).join(level_of, on="unique_id")
               .group_by("level", "model", "metric").agg(pl.col("value").fill_nan(None).mean())
               .select(pl.lit(window, dtype=pl.Int32).alias("window_no"), pl.lit(POOLED).alias("sku_id"),
                       pl.col("level").alias("region_id"), "model", pl.lit(0, dtype=pl.Int32).alias("step"),
                       pl.col("metric").replace_strict(LEVEL_METRICS), "value"))
    return metrics, scored.join(level_of, on="unique_id").with_columns(pl.lit(window, dtype=pl.Int32).alias("window_no"))


def _table(metrics: pl.DataFrame, model: str) -> pl.DataFrame:
    """level, method, and one column per metric (and band factor), levels in `LEVELS` order."""
    wide = metrics.with_columns(pl.col("model").str.strip_prefix(model + JOIN).alias("method"),
                                pl.col("metric").str.strip_prefix("level_")).pivot(
        on="metric", index=["region_id", "method"], values="value").rename({"region_id": "level"})
    order = {level: i for i, level in enumerate(LEVELS)}
    methods = {m: i for i, m in enumerate((BASE, *METHODS))}
    columns = [*LEVEL_METRICS, *(f"{prefix.removeprefix('level_')}{lv}" for prefix in (CALIBRATED, BAND_FACTOR)
                                 for lv in INTERVAL_LEVELS)]
    return wide.sort(pl.col("level").replace_strict(order), pl.col("method").replace_strict(methods, default=99)).select(
        "level", "method", *[c for c in columns if c in wide.columns])


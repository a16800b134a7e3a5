"""Coherent totals: SKU x region forecasts reconciled with the category, region and total levels.

hierarchicalforecast does the reconciliation (`HierarchicalReconciliation` with its sparse
BottomUp and MinTrace, non-negative, and intervals under its normality assumption). Ours is the
glue only: the grouped hierarchy of our keys (`LEVELS`), base forecasts for the aggregate series
(AutoETS on their summed history, with intervals; the SKU x region base is whatever the run chose)
and the way back to forecast rows.

The hierarchy is grouped, not nested: a category x region node sums into both its category and its
region. hierarchicalforecast estimates each base forecast's standard deviation from its 80% and 95%
bounds ((hi - lo) / 2z), so the reconciled intervals assume symmetric, normal errors; they are
coherent in that sense, and clipped at zero like every forecast. It also treats the series' errors
as independent, so a run rescales the aggregate bands per level by the factors a reconciled
backtest measured (`calibrated`).

What a run reads of that backtest (`reconciliation_evidence`): the method with the lowest RMSSE
averaged over the levels, for `--reconcile auto`, and the band factors of each method. The backtest
(`forecast.backtest.reconcile`) stores them under the names defined here (`LEVEL_METRICS`,
`BAND_FACTOR`, model `<model> + <method>`).

hierarchicalforecast names a node by joining its keys with `/`, so a name holding a `/` (a category
`home/garden`, a region `CA/SF`) would make two nodes one, or a node it cannot find. The library
therefore sees codes (`c0`, `r3`, `s17`: each name's rank among the sorted names of its column), and
the rows we hand back name the nodes by their real names again (`node_name`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.models.base import FORECAST_SCHEMA, ModelSpec, finalise
from forecast.models.base import LEVELS as INTERVAL_LEVELS
from forecast.models.statistical import POLARS_OFFSETS, StatisticalAdapter
from forecast.pipeline.nodes import TOTAL, node_name
from forecast.pipeline.selection import rescale_bands
from forecast.storage import backtest_repo

__all__ = ["BAND_FACTOR", "BASE", "BOTTOM", "DEFAULT_METHOD", "JOIN", "LEVELS", "LEVEL_METRICS", "METHODS", "BaseForecasts",
           "Evidence", "Reconciled", "base_forecasts", "calibrated", "lowest_rmsse_method", "node_name", "node_sums",
           "reconcile", "reconciliation_evidence"]

logger = logging.getLogger(__name__)

LEVELS: dict[str, list[str]] = {
    "total": [TOTAL],
    "category": [TOTAL, "category"],
    "region": [TOTAL, "region"],
    "category x region": [TOTAL, "category", "region"],
    "sku x region": [TOTAL, "category", "region", "sku"],
}
"""Level name -> the columns that name one of its nodes (hierarchicalforecast's `spec`)."""
BOTTOM = "sku x region"
UNCATEGORISED = "uncategorised"
BASE_MODEL = "AutoETS"
"""The model of the aggregate series' base forecasts: they are smooth sums, where AutoETS does well."""


def _methods() -> dict[str, Callable[[], object]]:
    # imported when used: hierarchicalforecast pulls in matplotlib and scikit-learn (~1 s per CLI start)
    from hierarchicalforecast.methods import BottomUpSparse, MinTraceSparse

    return {
        "bottom_up": BottomUpSparse,
        "mint_ols": lambda: MinTraceSparse(method="ols", nonnegative=True),
        "mint_wls_struct": lambda: MinTraceSparse(method="wls_struct", nonnegative=True),
    }


METHODS = ("bottom_up", "mint_ols", "mint_wls_struct")
"""Reconciliation methods by name: hierarchicalforecast's BottomUp and MinTrace (OLS, or WLS with
structural weights), sparse and non-negative. Neither MinTrace variant needs in-sample fitted values."""
DEFAULT_METHOD = "bottom_up"
"""Without a reconciled backtest: it leaves the SKU x region forecasts as the models made them. In
the backtests of benchmarks/coherent_totals.py MinTrace made them worse on both data sets (RMSSE
0.78 -> 0.92-0.98 on the demo, 0.76 -> 0.80-0.84 on M5) while helping the middle levels on M5 only."""
BASE = "base"
"""The method name of the scores before reconciliation."""
JOIN = " + "
"""Joins a backtest model and a method in the stored model name: `Selected + mint_ols`."""
LEVEL_METRICS = {"rmsse": "level_rmsse", "mase": "level_mase", "wape": "level_wape",
                 "coverage_80": "level_coverage_80", "coverage_95": "level_coverage_95"}
"""Backtest metric -> the name of its per-level mean in the stored rows."""
BAND_FACTOR = "level_band_factor_"
"""Prefix of the stored band factors of a level and method (`level_band_factor_80`, `..._95`)."""


@dataclass(frozen=True)
class Reconciled:
    """The reconciled SKU x region rows (FORECAST_SCHEMA, the base model's name kept) and the
    aggregate nodes' rows: level, node, ds, yhat, lo80, hi80, lo95, hi95, base_yhat."""

    bottom: pl.DataFrame
    totals: pl.DataFrame


@dataclass(frozen=True)
class BaseForecasts:
    """Every node's base forecast (`wide`: node, ds, base, base-lo-80, ...) with what reconciling needs."""

    wide: pl.DataFrame
    history: pl.DataFrame
    """node, ds, y: every node's summed history."""
    s_df: Any
    tags: dict[str, Any]
    """Level name -> its nodes."""
    bottom: pl.DataFrame
    """unique_id, ds, model, node of the SKU x region rows."""
    names: pl.DataFrame
    """node, name: every aggregate node's real name (`node_name`) by the coded id the other frames use."""

    def levels(self) -> pl.DataFrame:
        """node, level of every node."""
        return pl.DataFrame({"node": [n for nodes in self.tags.values() for n in nodes],
                             "level": [lv for lv, nodes in self.tags.items() for _ in nodes]})


def base_forecasts(bottom: pl.DataFrame, series: pl.DataFrame, history: pl.DataFrame, *, h: int,
                   freq: str = "D", n_jobs: int = 1) -> BaseForecasts:
    """The SKU x region forecasts `bottom` (FORECAST_SCHEMA) and AutoETS forecasts of every aggregate
    node of their hierarchy, fitted on the summed `history` (unique_id, ds, y).

    Args:
        series: unique_id, sku, region, category (null: `uncategorised`) of every series in `bottom`.
            Any text is a name: the frames returned name the nodes by codes (`BaseForecasts.names`).

    Raises:
        InvalidInputError: series of `bottom` missing from `series`.
    """
    missing = bottom.join(series, on="unique_id", how="anti")["unique_id"].unique().sort()
    if not missing.is_empty():
        raise InvalidInputError(f"forecast series {missing.head(5).to_list()} have no sku/region/category; "
                                "pass every forecast series in `series`")
    y_df, s_df, tags = _aggregated(history, series)
    # a node's days without any sale are zero, not missing: each fit needs every day up to the cutoff
    offset = POLARS_OFFSETS[freq]
    cutoff = bottom.select(pl.col("ds").min().dt.offset_by(f"-{offset}")).item()
    grid = y_df.group_by("node").agg(pl.col("ds").min().alias("start")).select(
        "node", pl.date_ranges("start", pl.lit(cutoff), interval=offset).alias("ds")).explode("ds")
    y_df = grid.join(y_df.filter(pl.col("ds") <= cutoff), on=["node", "ds"], how="left").with_columns(
        pl.col("y").fill_null(0.0))
    nodes = bottom.select("unique_id", "ds", "model").join(_bottom_nodes(series), on="unique_id")
    own = bottom.join(_bottom_nodes(series), on="unique_id").drop("unique_id", "model")
    base = pl.concat([_aggregate_base(y_df, tags, h=h, freq=freq, n_jobs=n_jobs), own], how="diagonal_relaxed")
    wide = base.select("node", "ds", pl.col("yhat").alias("base"),
                       *[pl.col(f"{side}{lv}").alias(f"base-{side}-{lv}") for lv in INTERVAL_LEVELS
                         for side in ("lo", "hi")])
    return BaseForecasts(wide, y_df, s_df, tags, nodes, _node_names(series))


def reconcile(base: BaseForecasts, method: str = DEFAULT_METHOD) -> Reconciled:
    """`base` reconciled by `method` (one of METHODS) through hierarchicalforecast.

    Raises:
        InvalidInputError: an unknown method.
    """
    from hierarchicalforecast.core import HierarchicalReconciliation

    if method not in METHODS:
        raise InvalidInputError(f"unknown reconciliation method {method!r}; use one of {list(METHODS)}")
    out = HierarchicalReconciliation([_methods()[method]()]).reconcile(
        Y_hat_df=base.wide, S_df=base.s_df, tags=base.tags, level=list(INTERVAL_LEVELS), id_col="node")
    name = next(c for c in out.columns if c.startswith("base/") and "-lo-" not in c and "-hi-" not in c)
    rows = finalise(out.select(
        pl.col("node").alias("unique_id"), "ds", pl.lit("").alias("model"), pl.col(name).alias("yhat"),
        *[pl.col(f"{name}-{side}-{lv}").alias(f"{side}{lv}") for lv in INTERVAL_LEVELS for side in ("lo", "hi")]))
    rows = rows.rename({"unique_id": "node"}).join(base.levels(), on="node").join(
        base.wide.select("node", "ds", pl.col("base").alias("base_yhat")), on=["node", "ds"])
    bottom = (rows.filter(pl.col("level") == BOTTOM).drop("model").join(base.bottom, on=["node", "ds"])
              .select(list(FORECAST_SCHEMA)).sort("unique_id", "ds"))
    totals = rows.filter(pl.col("level") != BOTTOM).join(base.names, on="node").select(
        "level", pl.col("name").alias("node"), "ds", "yhat", "lo80", "hi80", "lo95", "hi95", "base_yhat").sort(
        "level", "node", "ds")
    logger.info("reconciled %d series with %d aggregate nodes by %s", bottom["unique_id"].n_unique(),
                totals["node"].n_unique(), method)
    return Reconciled(bottom, totals)


@dataclass(frozen=True)
class Evidence:
    """What the newest reconciled backtest says: its id and, per level and method, the window -1 RMSSE
    and band factors (level, method, metric, value)."""

    run_id: int | None
    rows: pl.DataFrame

    def best_method(self) -> str:
        """The method with the lowest RMSSE averaged over the levels (`DEFAULT_METHOD` without evidence)."""
        return lowest_rmsse_method(self.rows.filter(pl.col("metric") == LEVEL_METRICS["rmsse"]).rename({"value": "rmsse"}))

    def band_factors(self, method: str) -> dict[str, dict[int, float]]:
        """Level -> {80: factor, 95: factor} on the half-widths of `method`'s aggregate bands ({} if none)."""
        factors: dict[str, dict[int, float]] = {}
        for level, metric, value in self.rows.filter(
                (pl.col("method") == method) & pl.col("metric").str.starts_with(BAND_FACTOR)).select(
                "level", "metric", "value").iter_rows():
            factors.setdefault(level, {})[int(metric.removeprefix(BAND_FACTOR))] = value
        return factors


def reconciliation_evidence(*, session: Session) -> Evidence:
    """The newest reconciled backtest's window -1 RMSSE and band factors per level and method."""
    run_id = backtest_repo.newest_run_with_metric(session=session, metric=LEVEL_METRICS["rmsse"])
    rows = (backtest_repo.read_metrics(session=session, run_id=run_id, pooled_only=True, window=backtest_repo.ALL_WINDOWS)
            if run_id is not None else pl.DataFrame(schema=backtest_repo.METRIC_SCHEMA))
    chosen = rows.filter((pl.col("metric") == LEVEL_METRICS["rmsse"]) | pl.col("metric").str.starts_with(BAND_FACTOR))
    return Evidence(run_id, chosen.select(pl.col("region_id").alias("level"), "model", "metric", "value").with_columns(
        pl.col("model").str.split(JOIN).list.last().alias("method")))


def lowest_rmsse_method(table: pl.DataFrame) -> str:
    """The method (not `BASE`) of `table` (method, rmsse per level) with the lowest RMSSE averaged over
    the levels (`DEFAULT_METHOD` when it has none)."""
    means = table.filter(pl.col("method") != BASE).group_by("method").agg(pl.col("rmsse").mean()).sort("rmsse", "method")
    return means["method"][0] if means.height else DEFAULT_METHOD


def calibrated(totals: pl.DataFrame, factors: dict[str, dict[int, float]]) -> pl.DataFrame:
    """`totals` with each level's band half-widths times its factors (level -> {80: f, 95: f}, from a
    reconciled backtest); levels without factors as they are."""
    parts = [rescale_bands(part, {int(k): v for k, v in factors[level].items()}) if level in factors else part
             for (level,), part in totals.group_by("level", maintain_order=True)]
    return pl.concat(parts).sort("level", "node", "ds") if parts else totals


def node_sums(frame: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """node, ds, y: `frame`'s y (unique_id, ds, y) summed to every node of the hierarchy of `series`
    (nodes by the coded ids of `base_forecasts` on the same `series`)."""
    return _aggregated(frame, series)[0]


def _aggregated(frame: pl.DataFrame, series: pl.DataFrame) -> tuple[pl.DataFrame, Any, dict[str, Any]]:
    """hierarchicalforecast's `aggregate` of `frame` (unique_id, ds, y) over `LEVELS`: every node's
    sums, the sparse summing matrix and level name -> its nodes (coded ids, see `_coded`)."""
    from hierarchicalforecast.utils import aggregate

    keyed = frame.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).join(
        _coded(series).select("unique_id", *_CODES.values()), on="unique_id").with_columns(pl.lit(TOTAL).alias(TOTAL))
    y_df, s_df, tags = aggregate(keyed.select(TOTAL, *(pl.col(c).alias(k) for k, c in _CODES.items()), "ds", "y"),
                                 spec=list(LEVELS.values()), sparse_s=True, id_col="node")
    return y_df, s_df, dict(zip(LEVELS, tags.values(), strict=True))


_CODES = {"category": "category_code", "region": "region_code", "sku": "sku_code"}
"""Key column -> the column of its codes, in the order `aggregate` joins them."""


def _coded(series: pl.DataFrame) -> pl.DataFrame:
    """unique_id, sku, region, category (null: `uncategorised`) and a code per key without `/`:
    its prefix (`c`, `r`, `s`) and the name's rank among the sorted names of its column."""
    keyed = series.select("unique_id", "sku", "region", pl.col("category").fill_null(UNCATEGORISED))
    return keyed.with_columns(
        (pl.lit(key[0]) + (pl.col(key).rank("dense") - 1).cast(pl.String)).alias(code) for key, code in _CODES.items())


def _bottom_nodes(series: pl.DataFrame) -> pl.DataFrame:
    """unique_id -> its bottom node's id, as `aggregate` builds it."""
    return _coded(series).select(
        "unique_id", pl.concat_str(pl.lit(TOTAL), *_CODES.values(), separator="/").alias("node"))


def _node_names(series: pl.DataFrame) -> pl.DataFrame:
    """node, name: every aggregate node's coded id and its real name, unique within its level (`node_name`)."""
    coded = _coded(series)
    parts = [pl.DataFrame({"node": [TOTAL], "name": [TOTAL]})]
    for level, columns in LEVELS.items():
        keys = columns[1:]
        if level in (TOTAL, BOTTOM):
            continue
        nodes = coded.select(pl.concat_str(pl.lit(TOTAL), *(_CODES[k] for k in keys), separator="/").alias("node"),
                             *keys).unique().rows()
        escaped = len({node_name(*k) for _, *k in nodes}) < len(nodes)
        if escaped:
            logger.warning("two %s nodes read the same with their keys joined by '/': the level's names are escaped",
                           level)
        parts.append(pl.DataFrame([(node, node_name(*k, escaped=escaped)) for node, *k in nodes],
                                  schema={"node": pl.String, "name": pl.String}, orient="row"))
    return pl.concat(parts)


def _aggregate_base(y_df: pl.DataFrame, tags: dict, *, h: int, freq: str, n_jobs: int) -> pl.DataFrame:
    """AutoETS forecasts with intervals of every node above the bottom level."""
    upper = [n for level, nodes in tags.items() if level != BOTTOM for n in nodes]
    history = y_df.filter(pl.col("node").is_in(upper)).select(pl.col("node").alias("unique_id"), "ds", "y")
    out = StatisticalAdapter(n_jobs=n_jobs).forecast(history, None, h=h, freq=freq, specs=[ModelSpec(BASE_MODEL)])
    return out.forecasts.rename({"unique_id": "node"}).drop("model")

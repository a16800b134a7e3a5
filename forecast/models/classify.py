"""Demand classification (Syntetos–Boylan) and the candidate models of each class.

Each series is placed by two numbers measured from its first non-zero observation on:

- ADI, the average inter-demand interval: periods in that span / non-zero periods in it;
- CV², the squared coefficient of variation of the non-zero demand sizes (sample standard
  deviation, ``ddof=1``, as in R's ``tsintermittent::idclass``).

With the cut-offs ADI 1.32 and CV² 0.49 this gives smooth, erratic, intermittent and lumpy
demand. Series with fewer than two non-zero values have no CV²: they are "lumpy" when they have
one, "zero" when they have none.
"""

from __future__ import annotations

import logging

import polars as pl

__all__ = ["ADI_CUTOFF", "CANDIDATES", "CV2_CUTOFF", "DEMAND_CLASSES", "classify_demand"]

logger = logging.getLogger(__name__)

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "zero")

CANDIDATES: dict[str, tuple[str, ...]] = {
    "smooth": ("AutoETS", "AutoTheta", "AutoARIMA", "SeasonalNaive"),
    "erratic": ("AutoETS", "AutoTheta", "SeasonalNaive"),
    "intermittent": ("CrostonOptimized", "ADIDA", "IMAPA", "TSB"),
    "lumpy": ("ADIDA", "IMAPA", "TSB", "CrostonOptimized"),
    "zero": ("ZeroForecast",),
}
"""Candidate model names per demand class, in order of preference (names of `StatisticalAdapter.models`)."""

CLASSIFY_SCHEMA = {"unique_id": pl.String, "adi": pl.Float64, "cv2": pl.Float64, "demand_class": pl.String}


def classify_demand(history: pl.DataFrame) -> pl.DataFrame:
    """Classify every series of `history` as smooth, erratic, intermittent, lumpy or zero.

    Args:
        history: Nixtla-layout frame with at least `unique_id`, `ds` and `y`.

    Returns:
        One row per series: `unique_id`, `adi`, `cv2` (null when undefined) and `demand_class`.
    """
    nonzero = pl.col("y") > 0
    started = nonzero.cast(pl.Int32).cum_sum() > 0  # evaluated per group inside `agg`
    sizes = pl.col("y").filter(nonzero)
    stats = (
        history.select("unique_id", "ds", pl.col("y").cast(pl.Float64))
        .sort("unique_id", "ds")
        .group_by("unique_id", maintain_order=True)
        .agg(
            started.sum().alias("span"),
            nonzero.sum().alias("n_nonzero"),
            sizes.mean().alias("size_mean"),
            sizes.std(ddof=1).alias("size_std"),
        )
    )
    adi = pl.when(pl.col("n_nonzero") > 0).then(pl.col("span") / pl.col("n_nonzero"))
    cv2 = pl.when(pl.col("n_nonzero") >= 2).then((pl.col("size_std") / pl.col("size_mean")) ** 2)
    high_adi = pl.col("adi") >= ADI_CUTOFF
    high_cv2 = pl.col("cv2") >= CV2_CUTOFF
    demand_class = (
        pl.when(pl.col("n_nonzero") == 0).then(pl.lit("zero"))
        .when(pl.col("n_nonzero") < 2).then(pl.lit("lumpy"))
        .when(~high_adi & ~high_cv2).then(pl.lit("smooth"))
        .when(~high_adi).then(pl.lit("erratic"))
        .when(~high_cv2).then(pl.lit("intermittent"))
        .otherwise(pl.lit("lumpy"))
    )
    out = stats.with_columns(adi.alias("adi"), cv2.alias("cv2")).with_columns(demand_class.alias("demand_class"))
    logger.debug("classified %d series: %s", out.height, dict(out["demand_class"].value_counts().iter_rows()))
    return out.select(list(CLASSIFY_SCHEMA)).cast(CLASSIFY_SCHEMA)

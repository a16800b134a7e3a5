"""From a storage panel (sku, region, day, y + features) to the model frames and back.

Models see the Nixtla layout: a short string `unique_id` per SKU x region, `ds`, `y` and the signal
features. `model_frames` makes `history` (days up to the cutoff) and `future` (the horizon, features
only); `keyed` maps model output back to the storage keys.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from forecast.features import FEATURE_COLUMNS

__all__ = ["DEFAULT_EXOG", "MODEL_FEATURES", "NUMERIC_FEATURES", "ModelFrames", "keyed", "model_frames", "series_ids",
           "subset"]

TEXT_FEATURES = ("ls_host",)
"""String features a model may encode itself (XGBoost: category codes); `cal_names` is for people."""
NUMERIC_FEATURES = [c for c in FEATURE_COLUMNS if c not in (*TEXT_FEATURES, "cal_names")]
MODEL_FEATURES = [*NUMERIC_FEATURES, *TEXT_FEATURES]
DEFAULT_EXOG = {
    "statsforecast": ["promo_on", "ls_on_air", "cal_holiday"],
    "prophet": ["promo_on", "promo_discount", "ls_on_air", "ls_discount", "cal_holiday", "cases_7d_per_100k"],
    "mlforecast": MODEL_FEATURES,
}
"""Signal features each family sees (statsforecast passes them to ARIMA only)."""


@dataclass(frozen=True)
class ModelFrames:
    """`series` (unique_id, sku, region), `history` (unique_id, ds, y, features) and `future` (no y)."""

    series: pl.DataFrame
    history: pl.DataFrame
    future: pl.DataFrame


def series_ids(panel: pl.DataFrame) -> pl.DataFrame:
    """unique_id (row number as zero-padded text, so that text order is sku, region order) for every
    SKU x region of `panel`."""
    series = panel.select("sku", "region").unique().sort("sku", "region")
    width = len(str(max(series.height - 1, 0)))
    return series.with_row_index("unique_id").with_columns(pl.col("unique_id").cast(pl.String).str.zfill(width))


def model_frames(panel: pl.DataFrame, *, cutoff: dt.date, series: pl.DataFrame | None = None) -> ModelFrames:
    """Split a featured panel at `cutoff` into model history and future (nulls in numeric features -> 0).

    Numeric features are Float32: XGBoost reads nothing finer, the families that need Float64 cast
    their few columns, and at 10,000 series x 3 years the history is 1.0 GiB instead of 1.8. The
    frames keep the panel's row order: with `series_ids` and a panel sorted by sku, region, day (as
    `signal_features` returns it) they are sorted by unique_id, ds, and the models copy nothing to sort.

    A series' history ends at its last reported day (`reported`, from `features.read_sales`): a late
    series' days after it, up to the cutoff, are future days like the horizon's.

    Args:
        panel: sku, region, day, y, FEATURE_COLUMNS and optionally `reported` (default: day <= cutoff).
        cutoff: last day of history.
        series: the ids to use (default `series_ids(panel)`); pass the baseline's to keep ids aligned.
    """
    series = series_ids(panel) if series is None else series
    joined = panel.lazy().join(series.lazy(), on=["sku", "region"], maintain_order="left")
    frame = joined.rename({"day": "ds"}).with_columns(pl.col(NUMERIC_FEATURES).cast(pl.Float32).fill_null(0.0))
    # lazily, so the joined and filled panel is never held whole beside the two parts (~2 GiB at 10,000 series)
    reported = pl.col("reported") if "reported" in panel.columns else pl.col("ds") <= cutoff
    history, future = pl.collect_all([
        frame.filter(reported).select("unique_id", "ds", "y", *MODEL_FEATURES),
        frame.filter(~reported).select("unique_id", "ds", *MODEL_FEATURES)])
    return ModelFrames(series, history, future)


def subset(frames: ModelFrames, ids: pl.Series, *, keep: bool = True) -> ModelFrames:
    """`frames` with only the series of `ids` (or, with `keep=False`, all but them)."""
    inside = pl.col("unique_id").is_in(ids.implode())
    rows = inside if keep else ~inside
    return ModelFrames(frames.series.filter(rows), frames.history.filter(rows), frames.future.filter(rows))


def keyed(frame: pl.DataFrame, series: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Model output keyed back from `unique_id, ds` to the storage keys `sku_id, region_id, day`."""
    return frame.join(series, on="unique_id").select(
        pl.col("sku").alias("sku_id"), pl.col("region").alias("region_id"), pl.col("ds").alias("day"), *columns)

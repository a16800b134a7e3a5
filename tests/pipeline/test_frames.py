"""Model frames: ids whose text order is the SKU x region order, so the history needs no sorting."""

from __future__ import annotations

import datetime as dt

import polars as pl

from forecast.features import FEATURE_COLUMNS
from forecast.models.base import is_sorted_by_series
from forecast.pipeline.frames import model_frames, series_ids

START = dt.date(2024, 1, 1)


def _panel(n_skus: int, n_regions: int, days: int) -> pl.DataFrame:
    """A featured panel sorted by sku, region, day (as `signal_features` returns it), features null."""
    rows = [{"sku": f"SKU{s}", "region": f"R{r}", "day": START + dt.timedelta(days=d), "y": float(d)}
            for s in range(n_skus) for r in range(n_regions) for d in range(days)]
    panel = pl.DataFrame(rows)
    return panel.with_columns(pl.lit(None, dtype=pl.String if c in ("ls_host", "cal_names") else pl.Float64).alias(c)
                              for c in FEATURE_COLUMNS)


def test_ids_in_text_order_follow_the_sku_region_order() -> None:
    series = series_ids(_panel(6, 2, 1))  # 12 series: "10" would sort before "2" without padding
    assert series["unique_id"].to_list() == [f"{i:02d}" for i in range(12)]
    assert series.sort("unique_id").select("sku", "region").equals(series.sort("sku", "region").select("sku", "region"))


def test_history_and_future_come_out_sorted_by_series_and_day() -> None:
    panel = _panel(4, 3, 10)
    frames = model_frames(panel, cutoff=START + dt.timedelta(days=6))
    assert is_sorted_by_series(frames.history) and is_sorted_by_series(frames.future)
    assert frames.history.height == 12 * 7 and frames.future.height == 12 * 3

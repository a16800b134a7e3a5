"""What a run tells about the feed's shape (`series_shape.series_shapes`), and the inactive series' rows.

Late series are forecast from their own last day; inactive ones are not modelled and get zero
forecasts (model `INACTIVE_MODEL`), so the warehouse reads an explicit 0 rather than a missing series.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

__all__ = ["INACTIVE_MODEL", "inactive_zeros", "named_ids", "shapes_report"]

INACTIVE_MODEL = "Inactive"
"""The `model` of an inactive series' zero forecast."""


def shapes_report(shapes: pl.DataFrame) -> dict[str, Any]:
    """The run's `series_shapes` config: counts by status and by the newest batch's policy, late series
    with their days late, inactive series with their days without a sale, how many series have days
    absent from the feed, and those with days not reported (filled per model family)."""
    def listed(status: str, days: str) -> list[dict[str, Any]]:
        rows = shapes.filter(pl.col("status") == status).sort(days, "sku", "region", descending=[True, False, False])
        return rows.select("sku", "region", days).to_dicts()

    return {
        "series": dict(shapes.group_by("status").len().sort("status").iter_rows()),
        "absent_policy": dict(shapes.group_by("absent").len().sort("absent").iter_rows()),
        "late": listed("late", "days_late"),
        "inactive": listed("inactive", "days_without_sale"),
        "with_absent_days": shapes.filter(pl.col("absent_days") > 0).height,
        "with_unknown_days": shapes.filter(pl.col("unknown_days") > 0).select("sku", "region", "unknown_days").to_dicts(),
    }


def inactive_zeros(shapes: pl.DataFrame, *, cutoff: dt.date, horizon: int) -> pl.DataFrame:
    """sku_id, region_id, day, yhat, bands (all 0) and model for each inactive series over the horizon."""
    days = pl.date_range(cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=horizon), eager=True)
    idle = shapes.filter(pl.col("status") == "inactive").select(pl.col("sku").alias("sku_id"),
                                                                pl.col("region").alias("region_id"))
    zero = pl.lit(0.0, dtype=pl.Float64)
    return idle.join(pl.DataFrame({"day": days}), how="cross").with_columns(
        *(zero.alias(c) for c in ("yhat", "lo80", "hi80", "lo95", "hi95")), pl.lit(INACTIVE_MODEL).alias("model"))


_ID_LIST = re.compile(r"\bseries ((?:[0-9]+, )*[0-9]+)\b")
"""A list of model ids in an adapter's message: `series 01, 02, 03` (then maybe `and 23 more`)."""


def named_ids(message: str, series: pl.DataFrame) -> str:
    """`message` with the model ids it lists after `series` replaced by `SKU × region` (`series`:
    unique_id, sku, region), so that no user reads an internal id."""
    names = {uid: f"{sku} × {region}" for uid, sku, region in series.select("unique_id", "sku", "region").iter_rows()}

    def named(match: re.Match[str]) -> str:
        return "series " + ", ".join(names.get(uid, uid) for uid in match.group(1).split(", "))

    return _ID_LIST.sub(named, message)

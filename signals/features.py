"""Point-in-time features from external signals for a SKU x region x day panel.

`build_features` adds the columns of `FEATURE_COLUMNS` to a panel using only what was known at a
cutoff day T: every signal row is filtered with `known_at < as_of_instant(T)`, the latest visible version
of each key is taken, and sales (`y`) are read only on days <= T. Missing signal frames give the same
columns with neutral values, so a model sees one layout either way.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import polars as pl

from signals.features_calendar import calendar_features
from signals.features_cases import SCENARIOS, case_features
from signals.features_common import SERIES, ancestor_pairs, conform
from signals.features_livestreams import host_uplifts, livestream_features
from signals.features_prices import with_price_rel
from signals.features_promotions import promotion_features
from signals.frames import CALENDAR_SCHEMA, CASES_SCHEMA, LIVESTREAM_SCHEMA, PROMOTION_SCHEMA

__all__ = ["FEATURE_COLUMNS", "FEATURE_DOCS", "FEATURE_SCHEMA", "build_features"]

logger = logging.getLogger(__name__)

_FLAG, _DAYS, _NUM, _TEXT = pl.Int8, pl.Int32, pl.Float64, pl.String

FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "cases_7d_per_100k": _NUM, "cases_wow_growth": _NUM, "cases_7d_per_100k_lag7": _NUM,
    "cases_7d_per_100k_lag14": _NUM, "cases_projected": _FLAG,
    "ls_on_air": _FLAG, "ls_hours": _NUM, "ls_expected_viewers": _NUM, "ls_discount": _NUM,
    "ls_days_to_next": _DAYS, "ls_days_since_last": _DAYS, "ls_host": _TEXT, "ls_host_uplift": _NUM,
    "promo_on": _FLAG, "promo_discount": _NUM, "promo_days_to_next": _DAYS,
    "sales_7d_before_promo": _NUM, "sales_last_week": _NUM, "price_rel": _NUM,
    "cal_holiday": _FLAG, "cal_event": _FLAG, "cal_snap": _FLAG, "cal_names": _TEXT,
}  # fmt: skip
"""Dtype of every feature column."""

FEATURE_DOCS: dict[str, str] = {
    "cases_7d_per_100k": "Mean new_cases_per_100k over the visible days of the trailing 7 (the region or its "
    "nearest ancestor with data); after the last visible day, the scenario's projection; 0 before any data.",
    "cases_wow_growth": "log((cases_7d_per_100k + 1) / (cases_7d_per_100k_lag7 + 1)); for projected days the "
    "projection's own growth (0 under hold once a week past the data).",
    "cases_7d_per_100k_lag7": "cases_7d_per_100k 7 days earlier (observed or projected); 0 before any data.",
    "cases_7d_per_100k_lag14": "cases_7d_per_100k 14 days earlier (observed or projected); 0 before any data.",
    "cases_projected": "1 when the day is after the region's last visible case day (value projected), else 0.",
    "ls_on_air": "1 when a livestream known at the cutoff and not cancelled features the SKU in the region "
    "on that local day, else 0.",
    "ls_hours": "Sum of the durations (end_at - start_at, hours) of those livestreams, credited to local_day.",
    "ls_expected_viewers": "Sum of their expected_viewers.",
    "ls_discount": "Largest discount among them (0 when none).",
    "ls_days_to_next": "Days until the next applicable livestream (0 on the day), capped at 60 (also when none).",
    "ls_days_since_last": "Days since the last applicable livestream (0 on the day), capped at 60 (also when none).",
    "ls_host": "Host of that day's livestream with most expected viewers (ties: smallest event_id); null when none.",
    "ls_host_uplift": "That host's past uplift (log scale): mean over the host's events before the day of "
    "log((y + 1) / (baseline + 1)) on their featured cells, baseline = same weekday 1-4 weeks before; shrunk "
    "toward all hosts' mean with the weight of 2 events; 0 when no livestream (see signals.features_hosts).",
    "promo_on": "1 when a promotion known at the cutoff runs for the SKU in the region that day, else 0.",
    "promo_discount": "Largest discount among the promotions running that day (0 when none).",
    "promo_days_to_next": "Days until the next promoted day (0 during a promotion), capped at 60 (also when none).",
    "sales_7d_before_promo": "Sum of y over the 7 days before the start of the running promotion (the "
    "earliest-starting one when several) or else the next one starting within 60 days; null when there is "
    "none or when the day before that start is after the cutoff. Days without a panel row or a known y count 0.",
    "sales_last_week": "Sum of y over the 7 days ending the day before the row's day, or ending at the cutoff "
    "for rows after it (y after the cutoff is never read). Days without a panel row or a known y count 0.",
    "price_rel": "The day's price / the series' regular price (the highest known in the 364 days up to the day). "
    "After the cutoff, the planned price: the last price of a day without promotion or livestream discount x "
    "(1 - promo_discount) x (1 - ls_discount). 1.0 when the panel has no price or none is known.",
    "cal_holiday": "1 when a calendar row of kind 'holiday' (the region, an ancestor, or every region) "
    "falls on the day.",
    "cal_event": "1 when a calendar row of kind sporting/cultural/national/religious/custom falls on the day.",
    "cal_snap": "1 when a calendar row of kind 'snap' falls on the day.",
    "cal_names": "'; '-joined sorted distinct names of the day's calendar rows; null when none.",
}
"""What each feature column means."""

FEATURE_COLUMNS: tuple[str, ...] = tuple(FEATURE_SCHEMA)
"""The columns `build_features` adds, in order (documented in FEATURE_DOCS, typed in FEATURE_SCHEMA)."""

_PANEL_COLUMNS = (*SERIES, "day", "y")
_ROW = "__feature_row__"
_ENGINE = "in-memory"  # measured: the streaming default costs 2x on small panels
_STREAMING_ROWS = 5_000_000
"""From this many rows on, a part is built on the streaming engine (a panel whose series are not
each in one block of rows is built in one part): at 10,000 series x 1,088 days (10.9M rows) it
peaked at 6.7 GiB PSS against 8.0 GiB in memory, in the same time (94 s against 89-101 s)."""
_PART_ROWS = 500_000
"""A panel whose series each take one block of rows is built in parts of whole series of about this
many rows, with the hosts' uplift (which reads every series) computed once for all of them."""


def build_features(
    panel: pl.DataFrame,
    *,
    cutoff: dt.date,
    cases: pl.DataFrame | None = None,
    livestreams: pl.DataFrame | None = None,
    promotions: pl.DataFrame | None = None,
    calendar: pl.DataFrame | None = None,
    region_parents: Mapping[str, str | None] | None = None,
    sku_categories: Mapping[str, str] | None = None,
    case_scenario: str = "hold",
    scenario_weekly_rate: float = 0.3,
) -> pl.DataFrame:
    """Add the signal features known at `cutoff` to every row of `panel`.

    Args:
        panel: `sku`, `region`, `day` (Date), `y`, optionally `price`; one row per key. y and price on
            days after the cutoff are ignored.
        cutoff: the day T whose knowledge is used (rows with `known_at < as_of_instant(T)`).
        cases: case counts (CASES_SCHEMA), all versions; rows with a null region are ignored.
        livestreams: livestream events (LIVESTREAM_SCHEMA), all versions of each event_id.
        promotions: promotions (PROMOTION_SCHEMA), all versions of each promo_id.
        calendar: calendar days (CALENDAR_SCHEMA); a null region means every region.
        region_parents: region -> parent region (None at the top of the tree).
        sku_categories: sku -> category, for livestreams that feature a whole category.
        case_scenario: projection of case counts after the last visible day: hold, rising or falling.
        scenario_weekly_rate: growth (rising) or decline (falling) per week ahead, in [0, 1].

    Returns:
        The panel's rows in its order with FEATURE_COLUMNS appended.

    Raises:
        ValueError: on a malformed panel or signal frame, or an unknown scenario or rate.
    """
    keys = _validated_keys(panel, case_scenario, scenario_weekly_rate)
    frames = {
        "cases": conform(cases, CASES_SCHEMA, "cases"),
        "livestreams": conform(livestreams, LIVESTREAM_SCHEMA, "livestreams"),
        "promotions": conform(promotions, PROMOTION_SCHEMA, "promotions"),
        "calendar": conform(calendar, CALENDAR_SCHEMA, "calendar"),
    }
    options = {"scenario": case_scenario, "weekly_rate": scenario_weekly_rate, "sku_categories": sku_categories,
               "region_parents": region_parents, "last_day": keys["day"].max() if keys.height else cutoff}
    parts = _series_blocks(keys, _PART_ROWS)
    if len(parts) > 1:
        options["hosts"] = host_uplifts(keys.lazy(), frames["livestreams"], cutoff=cutoff,
                                        sku_categories=sku_categories).collect().lazy()
    result = pl.concat([_features_of(keys.slice(start, rows), frames, cutoff=cutoff, **options)
                        for start, rows in parts])
    logger.debug("built %d feature rows at cutoff %s in %d part(s)", result.height, cutoff, len(parts))
    return panel.hstack(result)


def _series_blocks(keys: pl.DataFrame, rows: int) -> list[tuple[int, int]]:
    """(first row, rows) of parts of about `rows` rows that each hold whole series; one part for the
    whole panel when it is small or a series' rows are not in one block."""
    if keys.height <= rows:
        return [(0, keys.height)]
    starts = keys.select(pl.arg_where(pl.struct(SERIES).ne_missing(pl.struct(SERIES).shift())))
    starts = starts.to_series().to_list()
    if len(starts) != keys.select(pl.struct(SERIES).n_unique()).item():
        return [(0, keys.height)]
    cuts, last = [0], 0
    for start in starts:
        if start - last >= rows:
            cuts.append(start)
            last = start
    bounds = [*cuts, keys.height]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]


def _features_of(keys: pl.DataFrame, frames: dict[str, pl.LazyFrame], *, cutoff: dt.date,
                 **options: Any) -> pl.DataFrame:
    """FEATURE_COLUMNS for the rows of `keys`, in their order."""
    features = keys.lazy().select(_ROW, *SERIES, "day")
    for part, on in _feature_parts(keys, frames, cutoff=cutoff, **options):
        features = features.join(part, on=on, how="left")
    price = pl.col("price") if "price" in keys.columns else pl.lit(None, dtype=pl.Float64).alias("price")
    features = with_price_rel(features.join(keys.lazy().select(_ROW, price), on=_ROW), cutoff=cutoff)
    columns = (pl.col(col).cast(dtype) for col, dtype in FEATURE_SCHEMA.items())
    return features.sort(_ROW).select(columns).collect(
        engine="streaming" if keys.height >= _STREAMING_ROWS else _ENGINE)


def _feature_parts(
    keys: pl.DataFrame,
    frames: dict[str, pl.LazyFrame],
    *,
    cutoff: dt.date,
    region_parents: Mapping[str, str | None] | None,
    sku_categories: Mapping[str, str] | None,
    scenario: str,
    weekly_rate: float,
    last_day: dt.date,
    hosts: pl.LazyFrame | None = None,
) -> list[tuple[pl.LazyFrame, list[str]]]:
    """The lazy feature frame of each signal family, with the key columns to join it on (`last_day`:
    the panel's last day; `hosts`: the hosts' uplift computed for the whole panel, when `keys` is a part)."""
    ancestors = ancestor_pairs(keys["region"].unique().sort().to_list(), region_parents)
    lazy_keys = keys.lazy()
    region_days = lazy_keys.select("region", "day").unique()
    on_key = [*SERIES, "day"]
    cases_part = case_features(
        region_days,
        frames["cases"],
        cutoff=cutoff,
        ancestors=ancestors,
        last_day=last_day,
        scenario=scenario,
        weekly_rate=weekly_rate,
    )
    livestream_part = livestream_features(
        lazy_keys.select(*on_key, "y"), frames["livestreams"], cutoff=cutoff, sku_categories=sku_categories,
        hosts=hosts,
    )
    promotion_part = promotion_features(lazy_keys.select(*on_key, "y"), frames["promotions"], cutoff=cutoff)
    calendar_part = calendar_features(region_days, frames["calendar"], cutoff=cutoff, ancestors=ancestors)
    return [
        (cases_part, ["region", "day"]),
        (livestream_part, on_key),
        (promotion_part, on_key),
        (calendar_part, ["region", "day"]),
    ]


def _validated_keys(panel: pl.DataFrame, scenario: str, rate: float) -> pl.DataFrame:
    """The panel's `sku, region, day, y` (and `price` when it has one) with a row number, after checking the inputs.

    Raises:
        ValueError: naming the problem and the fix.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"case_scenario {scenario!r} is unknown; use one of {', '.join(SCENARIOS)}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"scenario_weekly_rate {rate} is outside [0, 1]; pass a weekly fraction such as 0.3")
    missing = [col for col in _PANEL_COLUMNS if col not in panel.columns]
    if missing:
        raise ValueError(f"panel is missing columns {missing}; it needs sku, region, day, y")
    clashing = [col for col in FEATURE_COLUMNS if col in panel.columns]
    if clashing:
        raise ValueError(f"panel already has feature columns {clashing[:5]}; drop them before build_features")
    if panel.schema["day"] != pl.Date:
        raise ValueError(f"panel column day is {panel.schema['day']}, expected Date; cast it with .dt.date()")
    keys = panel.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
        pl.col("sku").cast(pl.String),
        pl.col("region").cast(pl.String),
        "day",
        pl.col("y").cast(pl.Float64),
        *([pl.col("price").cast(pl.Float64)] if "price" in panel.columns else []),
    )
    if keys.select(pl.any_horizontal(pl.col(*SERIES, "day").is_null().any())).item():
        raise ValueError("panel has null sku, region or day values; drop or fill those rows first")
    duplicated = keys.filter(pl.struct(*SERIES, "day").is_duplicated())
    if duplicated.height:
        sample = duplicated.select(*SERIES, "day").head(3).rows()
        raise ValueError(
            f"panel has {duplicated.height} rows with a repeated (sku, region, day), e.g. {sample}; aggregate them first"
        )
    return keys

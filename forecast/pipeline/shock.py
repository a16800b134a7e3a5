"""Regional shocks: when to flag a region, and how its series are forecast while it is flagged.

A region is *triggered* on a day when either
- its case counts are rising fast: the week's new cases per 100k inhabitants exceed the previous
  week's by at least `ShockRules.case_rise` (read from the case features as known at the cutoff), or
- its forecasts break out: over the last `ShockRules.lookback` days, at least `breakout_share` of the
  series-days of a region with `min_series` or more tracked series fell outside the 80% band of the
  forecast made before them (a calibrated band leaves about 20% outside).

A flag is raised on the first trigger and held until `hold_days` pass without one. While a region is
flagged, its series' bands are widened by `band_factor` (`widened`) and, with a `window`, they are
forecast with short memory (`short_memory_forecast`): every model fits only the last `window`
observations, so level and slope come from the recent weeks, and XGBoost keeps only the lags and
rolling windows that fit in them (the immediate variables: last days' and weeks' sales and the
signals). Written by hand: no forecasting library we use detects regime changes across many series
or switches settings per region.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, replace

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.features import signal_features
from forecast.models.base import LEVELS
from forecast.pipeline.forecaster import Forecaster, ForecastResult
from forecast.pipeline.frames import ModelFrames, model_frames
from forecast.pipeline.selection import rescale_bands
from forecast.settings import Settings
from forecast.storage import repo, shock_repo
from forecast.storage.engine import session_scope

__all__ = ["CHECK_SCHEMA", "ShockRules", "breakouts", "case_rise", "check_shocks", "check_shocks_at", "detect_shocks",
           "flagged_ids", "short_memory_forecast", "widened"]

logger = logging.getLogger(__name__)

CHECK_SCHEMA = {
    "region": pl.String,
    "active": pl.Boolean,
    "triggered": pl.Boolean,
    "cases_week_per_100k": pl.Float64,
    "case_rise": pl.Float64,
    "breakout_series": pl.Int64,
    "breakout_share": pl.Float64,
    "breakout_above": pl.Float64,
    "raised_on": pl.Date,
    "last_trigger": pl.Date,
    "reason": pl.String,
}
"""One row per region and check: is it flagged, was it triggered on this day, the measures and why."""


@dataclass(frozen=True)
class ShockRules:
    """Thresholds of the triggers and the settings of a flagged region's forecasts."""

    case_rise: float = 10.0
    """New cases per 100k in the last 7 days minus those of the 7 days before that trigger a flag."""
    breakout_share: float = 0.5
    """Share of a region's series-days outside their 80% band (over `lookback` days) that triggers."""
    min_series: int = 5
    """Fewest series with earlier forecasts a region needs before its breakouts count."""
    lookback: int = 7
    """Days of residuals the breakout trigger reads."""
    hold_days: int = 14
    """A flag clears after this many days without a trigger."""
    window: int = 0
    """Observations per series a flagged region's models fit on (112 = 16 weeks is the shortest that
    leaves XGBoost's conformal intervals 2 windows of 28 days beyond its 35-day lookback); 0 keeps
    the normal memory. Off by default: the backtest (benchmarks/shock_policy.py) found it less accurate."""
    band_factor: float = 1.5
    """Half-widths of a flagged region's 80% and 95% bands are multiplied by this."""

    def __post_init__(self) -> None:
        for name in ("case_rise", "breakout_share", "band_factor"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"shock {name} must be positive, got {getattr(self, name)}")
        for name in ("min_series", "lookback", "hold_days"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"shock {name} must be at least 1, got {getattr(self, name)}")
        if self.window < 0:
            raise InvalidInputError(f"shock window must be 0 (normal memory) or a number of days, got {self.window}")

    def to_dict(self) -> dict[str, float | int]:
        """Plain dict for a run's config."""
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> ShockRules:
        """The rules of the `shock_*` settings (DEMAND_SHOCK_CASE_RISE and friends)."""
        return cls(case_rise=settings.shock_case_rise, breakout_share=settings.shock_breakout_share,
                   hold_days=settings.shock_hold_days, window=settings.shock_window_days,
                   band_factor=settings.shock_band_factor)


def case_rise(history: pl.DataFrame, series: pl.DataFrame, *, cutoff: dt.date) -> pl.DataFrame:
    """Per region: cases_week_per_100k (the 7 days to `cutoff`) and case_rise (minus the 7 days before).

    Reads the case features of `history` (`cases_7d_per_100k` and its 7-day lag, 7-day means as
    known at the cutoff) on the cutoff day; regions without case data get 0.
    """
    on_cutoff = history.filter(pl.col("ds") == cutoff).join(series.select("unique_id", "region"), on="unique_id")
    return on_cutoff.group_by("region").agg(
        (pl.col("cases_7d_per_100k").first() * 7).alias("cases_week_per_100k"),
        ((pl.col("cases_7d_per_100k") - pl.col("cases_7d_per_100k_lag7")).first() * 7).alias("case_rise"))


def breakouts(actuals: pl.DataFrame, earlier: pl.DataFrame, series: pl.DataFrame, *, cutoff: dt.date,
              lookback: int) -> pl.DataFrame:
    """Per region: breakout_series, breakout_share and breakout_above over the `lookback` days to `cutoff`.

    Args:
        actuals: unique_id, ds, y.
        earlier: unique_id, ds, lo80, hi80: for each series and day, the band of a forecast made before
            that day; rows without a band (hi80 == lo80) are left out.
        series: unique_id, region.
    """
    since = cutoff - dt.timedelta(days=lookback)
    banded = pl.col("hi80") > pl.col("lo80")  # a forecast without a band (bounds = forecast) cannot break out of it
    scored = earlier.filter((pl.col("ds") > since) & (pl.col("ds") <= cutoff) & banded).join(
        actuals.select("unique_id", "ds", "y"), on=["unique_id", "ds"]).join(
        series.select("unique_id", "region"), on="unique_id")
    return scored.group_by("region").agg(
        pl.col("unique_id").n_unique().cast(pl.Int64).alias("breakout_series"),
        ((pl.col("y") > pl.col("hi80")) | (pl.col("y") < pl.col("lo80"))).mean().alias("breakout_share"),
        (pl.col("y") > pl.col("hi80")).mean().alias("breakout_above"))


def detect_shocks(history: pl.DataFrame, series: pl.DataFrame, *, cutoff: dt.date, rules: ShockRules,
                  earlier: pl.DataFrame | None = None, previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """The regions' flags at `cutoff` (CHECK_SCHEMA), from the case features of `history`, the
    residuals of `earlier` forecasts (see `breakouts`), and the `previous` check (CHECK_SCHEMA rows,
    for the days since the last trigger and since the flag was raised)."""
    regions = series.select("region").unique()
    cases = case_rise(history, series, cutoff=cutoff) if "cases_7d_per_100k" in history.columns else None
    frame = regions.join(cases, on="region", how="left") if cases is not None else regions.with_columns(
        pl.lit(None, pl.Float64).alias("cases_week_per_100k"), pl.lit(None, pl.Float64).alias("case_rise"))
    if earlier is not None and not earlier.is_empty():
        frame = frame.join(breakouts(history, earlier, series, cutoff=cutoff, lookback=rules.lookback), on="region",
                           how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Int64).alias("breakout_series"),
                                   pl.lit(None, pl.Float64).alias("breakout_share"),
                                   pl.lit(None, pl.Float64).alias("breakout_above"))
    before = (previous if previous is not None else pl.DataFrame(schema=CHECK_SCHEMA)).select(
        "region", pl.col("active").alias("was_active"), pl.col("raised_on").alias("was_raised"),
        pl.col("last_trigger").alias("was_triggered"))
    by_cases = pl.col("case_rise").fill_null(0.0) >= rules.case_rise
    by_breakout = (pl.col("breakout_series").fill_null(0) >= rules.min_series) & (
        pl.col("breakout_share").fill_null(0.0) >= rules.breakout_share)
    frame = frame.join(before, on="region", how="left").with_columns(
        by_cases.alias("_cases"), by_breakout.alias("_breakout"), (by_cases | by_breakout).alias("triggered"))
    last = pl.when("triggered").then(pl.lit(cutoff)).otherwise(pl.col("was_triggered"))
    frame = frame.with_columns(last.alias("last_trigger")).with_columns(
        (pl.col("last_trigger").is_not_null() & ((pl.lit(cutoff) - pl.col("last_trigger")).dt.total_days()
                                                 < rules.hold_days)).alias("active"))
    raised = pl.when(~pl.col("active")).then(None).when(pl.col("was_active").fill_null(False)).then(
        pl.col("was_raised")).otherwise(pl.lit(cutoff))
    frame = frame.with_columns(raised.alias("raised_on"))
    reasons = [_reason(row, rules=rules, cutoff=cutoff) for row in frame.iter_rows(named=True)]
    return frame.with_columns(pl.Series("reason", reasons, dtype=pl.String)).select(
        [pl.col(c).cast(t) for c, t in CHECK_SCHEMA.items()]).sort("region")


def _reason(row: dict, *, rules: ShockRules, cutoff: dt.date) -> str:
    """One line saying why a region is (or is no longer) flagged."""
    parts = []
    if row["_cases"]:
        parts.append(f"cases {row['cases_week_per_100k']:.1f} per 100k this week, {row['case_rise']:+.1f} on the week "
                     f"before (threshold +{rules.case_rise:g})")
    if row["_breakout"]:
        parts.append(f"{row['breakout_share']:.0%} of {row['breakout_series']} series' last {rules.lookback} days "
                     f"outside their 80% band, {row['breakout_above']:.0%} above (threshold "
                     f"{rules.breakout_share:.0%})")
    if parts:
        return "; ".join(parts)
    if row["active"]:
        clears = row["last_trigger"] + dt.timedelta(days=rules.hold_days)
        return f"held: last triggered {row['last_trigger']}, clears on {clears} without a new trigger"
    if row["was_active"]:
        return f"cleared on {cutoff}: no trigger for {rules.hold_days} days"
    return ""


def flagged_ids(series: pl.DataFrame, checks: pl.DataFrame) -> pl.Series:
    """The unique_ids of `series` (unique_id, region) whose region is flagged in `checks`."""
    active = checks.filter("active").select("region")
    return series.join(active, on="region", how="semi")["unique_id"]


def widened(forecasts: pl.DataFrame, rules: ShockRules, ids: pl.Series | None = None) -> pl.DataFrame:
    """`forecasts` with their bands' half-widths times `rules.band_factor` (only the series of `ids` when given)."""
    factors = dict.fromkeys(LEVELS, rules.band_factor)
    if ids is None:
        return rescale_bands(forecasts, factors)
    inside = pl.col("unique_id").is_in(ids.implode())
    return pl.concat([rescale_bands(forecasts.filter(inside), factors), forecasts.filter(~inside)]).sort("unique_id", "ds")


def check_shocks(*, session: Session, frames: ModelFrames, cutoff: dt.date, rules: ShockRules,
                 horizon: int = 28) -> pl.DataFrame:
    """Check every region of `frames` at `cutoff` and store the result (`shock_check`); returns CHECK_SCHEMA rows.

    The breakout trigger reads the stored forecasts of earlier runs (`shock_repo.earlier_bands`, runs
    up to `horizon` days old); the hold period continues from each region's newest earlier check.
    """
    previous = shock_repo.latest_checks(session=session, before=cutoff)
    bands = shock_repo.earlier_bands(session=session, since=cutoff - dt.timedelta(days=rules.lookback), until=cutoff,
                                     horizon=horizon)
    earlier = bands.join(frames.series, on=["sku", "region"]).select("unique_id", "ds", "lo80", "hi80")
    checks = detect_shocks(frames.history, frames.series, cutoff=cutoff, rules=rules, earlier=earlier,
                           previous=previous)
    shock_repo.write_checks(session=session, checked_on=cutoff, checks=checks)
    flagged = checks.filter("active")
    if not flagged.is_empty():
        logger.info("regional shock flags at %s: %s", cutoff, ", ".join(flagged["region"]))
    return checks


def check_shocks_at(engine: Engine, *, rules: ShockRules, cutoff: dt.date | None = None) -> pl.DataFrame:
    """`check_shocks` on the sales and signals known at `cutoff` (default: the last sales day), for the scheduler and CLI.

    Raises:
        InvalidInputError: no sales are stored.
    """
    with session_scope(engine) as session:
        cutoff = cutoff or repo.last_sales_day(session=session)
        if cutoff is None:
            raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
        frames = model_frames(signal_features(session=session, cutoff=cutoff, horizon=0), cutoff=cutoff)
        return check_shocks(session=session, frames=frames, cutoff=cutoff, rules=rules)


def short_memory_forecast(forecaster: Forecaster, frames: ModelFrames, *, h: int, rules: ShockRules) -> ForecastResult:
    """Forecasts of `frames` (flagged regions' series) by `forecaster`'s models fitted on the last
    `rules.window` observations only (XGBoost on these series alone; the model chosen again on a
    holdout inside the window)."""
    result = forecaster.with_memory(rules.window).forecast(frames.history, frames.future, h=h, refit=True)
    return replace(result, kept={})

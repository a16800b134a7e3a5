"""New SKUs (cold start): a forecast from similar SKUs until the SKU's own history takes over.

Two kinds of series get it:

- **launched in a livestream**: a SKU of the master data with no sales at all that a livestream known
  at the cutoff features in the horizon (the same point-in-time livestream features the models read
  decide which regions and days);
- **short history**: a SKU x region with fewer than `COLD_DAYS` days since its first sale.

Its analogues are up to `ANALOGUES` SKUs of the same category with their own history in the same
region, priced within `PRICE_BAND` of it (the `base_price` attribute, else the mean sales price),
closest price first; SKUs the same host featured before come first. The analogue forecast of a day
is the median of the analogues' forecasts of that day (point and each bound); on a day the new SKU is
on air it is multiplied by the host's past uplift (`ls_host_uplift`, log scale, as the models see
it), and its bands are widened `WIDEN` times. A short-history series blends its own forecast with the
analogues' with weight days / `COLD_DAYS` on its own, so its own history takes over in four weeks.
The rows say so: `ColdStart(3 analogues, host Kai Moreau)` or `AutoETS + ColdStart(3 analogues, 0.75)`.

Written by hand: no forecasting library we use forecasts a series from other series' forecasts.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.features import build_panel_features, load_signals
from forecast.models.base import FORECAST_SCHEMA, finalise
from forecast.pipeline.frames import ModelFrames
from forecast.pipeline.selection import rescale_bands
from forecast.storage import repo, sales_repo

__all__ = ["ANALOGUES", "COLD_DAYS", "ColdStart", "cold_start"]

logger = logging.getLogger(__name__)

COLD_DAYS = 28
ANALOGUES = 5
PRICE_BAND = 1.5
"""Analogues cost between 1/1.5 and 1.5 times the new SKU (any price when either is unknown)."""
WIDEN = 1.5
WIDENED = {80: WIDEN, 95: WIDEN}
"""Factors on the half-widths of the analogues' bands (`rescale_bands`)."""
BOUNDS = ("lo80", "hi80", "lo95", "hi95")


@dataclass(frozen=True)
class ColdStart:
    """The run's frames and forecasts with the cold-start series in, and what was done."""

    frames: ModelFrames
    """New series appended to `series`, each with one zero history row at the cutoff (so the
    reconciled totals count them)."""
    forecasts: pl.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    """new_series, blended_series, without_analogues (new series left unforecast: no analogue), and
    analogues ("SKU in REGION" -> the SKUs a new series was forecast from)."""


def cold_start(*, session: Session, frames: ModelFrames, forecasts: pl.DataFrame, cutoff: dt.date,
               horizon: int) -> ColdStart:
    """Forecast the run's new and short-history series from their analogues (see the module doc).

    Args:
        frames: the run's frames (series, history with the signal features, future).
        forecasts: the run's forecasts (FORECAST_SCHEMA) of every series in `frames`.
    """
    skus = _skus(session)
    days = _own_days(frames.history)
    short = days.filter(pl.col("days") < COLD_DAYS).join(frames.series, on="unique_id")
    launches = _launches(session, frames, skus, cutoff=cutoff, horizon=horizon)
    analogues = _analogues(pl.concat([short.select("sku", "region"), launches.select("sku", "region").unique()]),
                           frames, skus, days, launches)
    if analogues.is_empty():
        empty = {"new_series": 0, "blended_series": 0, "without_analogues": 0, "analogues": {}}
        return ColdStart(frames, forecasts, empty)
    analogue_rows = _analogue_forecast(analogues, frames.series, forecasts)
    new_ids = _new_ids(frames.series, launches.select("sku", "region").unique().join(
        analogues.select("sku", "region").unique(), on=["sku", "region"]))
    uplift = _host_uplift(frames)
    new = (analogue_rows.drop("unique_id").join(new_ids, on=["sku", "region"])
           .join(launches.select("sku", "region", "ds", "host"), on=["sku", "region", "ds"], how="left")
           .join(uplift, on="host", how="left")
           .with_columns(pl.col("uplift").fill_null(0.0).exp().alias("factor")))
    new_rows = rescale_bands(new.with_columns(*[(pl.col(c) * pl.col("factor")).alias(c) for c in ("yhat", *BOUNDS)]),
                             WIDENED)
    host = pl.col("host").drop_nulls().first().over("unique_id")
    new_rows = new_rows.with_columns(pl.format("ColdStart({} analogues{})", "analogues", pl.when(host.is_not_null())
                                               .then(pl.format(", host {}", host)).otherwise(pl.lit(""))).alias("model"))
    blended = _blended(forecasts, analogue_rows.join(short.select("unique_id", "days"), on="unique_id"))
    out = pl.concat([forecasts.join(blended.select("unique_id").unique(), on="unique_id", how="anti"), blended,
                     finalise(new_rows.select(list(FORECAST_SCHEMA)))], how="vertical_relaxed").sort("unique_id", "ds")
    chosen = analogues.join(new_ids, on=["sku", "region"]).group_by("sku", "region").agg("analogue").sort("sku", "region")
    summary = {"new_series": new_ids.height, "blended_series": blended["unique_id"].n_unique(),
               "without_analogues": launches.select("sku", "region").unique().height - new_ids.height,
               "analogues": {f"{sku} in {region}": list(found) for sku, region, found in chosen.iter_rows()}}
    logger.info("cold start: %(new_series)d new series from analogues, %(blended_series)d short ones blended, "
                "%(without_analogues)d new ones without analogues", summary)
    return ColdStart(_with_new_series(frames, new_ids, cutoff), out, summary)


def _skus(session: Session) -> pl.DataFrame:
    """sku, category, price: the `base_price` attribute, else the mean price it sold at."""
    sold = sales_repo.mean_prices(session=session)
    rows = [(sku, category, _number((attributes or {}).get("base_price")) or sold.get(sku))
            for sku, category, attributes in repo.sku_rows(session=session)]
    return pl.DataFrame(rows, schema={"sku": pl.String, "category": pl.String, "price": pl.Float64}, orient="row")


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _own_days(history: pl.DataFrame) -> pl.DataFrame:
    """unique_id, days: days from each series' first sale through the cutoff."""
    return history.filter(pl.col("y") > 0).group_by("unique_id").agg(pl.col("ds").min().alias("first")).join(
        history.group_by("unique_id").agg(pl.col("ds").max().alias("last")), on="unique_id").select(
        "unique_id", ((pl.col("last") - pl.col("first")).dt.total_days() + 1).alias("days"))


def _launches(session: Session, frames: ModelFrames, skus: pl.DataFrame, *, cutoff: dt.date,
              horizon: int) -> pl.DataFrame:
    """sku, region, ds, host of every day a livestream known at the cutoff features a SKU without sales."""
    unsold = skus.join(frames.series.select("sku").unique(), on="sku", how="anti")["sku"]
    if unsold.is_empty():
        return pl.DataFrame(schema={"sku": pl.String, "region": pl.String, "ds": pl.Date, "host": pl.String})
    days = pl.date_range(cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=horizon), eager=True)
    panel = (pl.DataFrame({"sku": unsold}).join(frames.series.select("region").unique(), how="cross")
             .join(pl.DataFrame({"day": days}), how="cross")
             .with_columns(pl.lit(None, dtype=pl.Float64).alias("y"), pl.lit(None, dtype=pl.Float64).alias("price")))
    featured = build_panel_features(panel, load_signals(session=session, cutoff=cutoff)).filter(pl.col("ls_on_air") > 0)
    on_air = featured.select("sku", "region")
    # every day of the horizon for each featured pair; the host only on its days on air
    return (on_air.unique().join(pl.DataFrame({"ds": days}), how="cross")
            .join(featured.select("sku", "region", pl.col("day").alias("ds"), pl.col("ls_host").alias("host")),
                  on=["sku", "region", "ds"], how="left"))


def _analogues(targets: pl.DataFrame, frames: ModelFrames, skus: pl.DataFrame, days: pl.DataFrame,
               launches: pl.DataFrame) -> pl.DataFrame:
    """sku, region, analogue (up to ANALOGUES per target): same category, history of COLD_DAYS or more
    in the region, price within PRICE_BAND, the host's earlier SKUs first, then the closest price."""
    grown = frames.series.join(days.filter(pl.col("days") >= COLD_DAYS), on="unique_id").select(
        "region", pl.col("sku").alias("analogue")).join(skus.rename({"sku": "analogue", "price": "analogue_price"}),
                                                        on="analogue")
    hosts = launches.drop_nulls("host").select("sku", "host").unique()
    featured_by = frames.history.filter(pl.col("ls_host").is_not_null()).join(frames.series, on="unique_id").select(
        pl.col("sku").alias("analogue"), pl.col("ls_host").alias("host")).unique()
    same_host = hosts.join(featured_by, on="host").select("sku", "analogue", pl.lit(True).alias("same_host"))
    gap = (pl.col("price") / pl.col("analogue_price")).log().abs()
    return (targets.join(skus, on="sku").join(grown, on=["region", "category"])
            .filter(pl.col("analogue") != pl.col("sku"))
            .filter(gap.is_null() | (gap <= math.log(PRICE_BAND)))
            .join(same_host.unique(["sku", "analogue"]), on=["sku", "analogue"], how="left")
            .sort(pl.col("same_host").fill_null(False), gap.fill_null(0.0), "analogue", descending=[True, False, False])
            .group_by("sku", "region", maintain_order=True).head(ANALOGUES)
            .select("sku", "region", "analogue"))


def _analogue_forecast(analogues: pl.DataFrame, series: pl.DataFrame, forecasts: pl.DataFrame) -> pl.DataFrame:
    """sku, region, ds, analogues (how many) and the median of the analogues' yhat and bounds per day."""
    theirs = forecasts.join(series.rename({"sku": "analogue"}), on="unique_id").drop("unique_id", "model")
    return analogues.join(theirs, on=["analogue", "region"]).group_by("sku", "region", "ds").agg(
        pl.col("analogue").n_unique().alias("analogues"), *[pl.col(c).median() for c in ("yhat", *BOUNDS)]).join(
        series, on=["sku", "region"], how="left")


def _blended(forecasts: pl.DataFrame, analogue: pl.DataFrame) -> pl.DataFrame:
    """Short series: own forecast x days/COLD_DAYS + the widened analogue forecast x the rest."""
    if analogue.is_empty():
        return forecasts.clear()
    weight = (pl.col("days") / COLD_DAYS).alias("own")
    mixed = forecasts.join(rescale_bands(analogue, WIDENED).with_columns(weight), on=["unique_id", "ds"],
                           suffix="_analogue")
    return finalise(mixed.select(
        "unique_id", "ds",
        pl.format("{} + ColdStart({} analogues, {})", "model", "analogues", (1 - pl.col("own")).round(2)).alias("model"),
        *[(pl.col(c) * pl.col("own") + pl.col(f"{c}_analogue") * (1 - pl.col("own"))).alias(c)
          for c in ("yhat", *BOUNDS)]))


def _host_uplift(frames: ModelFrames) -> pl.DataFrame:
    """host, uplift: each host's newest past uplift as the models see it (`ls_host_uplift`, log scale)."""
    rows = pl.concat([frames.history.select("ds", "ls_host", "ls_host_uplift"),
                      frames.future.select("ds", "ls_host", "ls_host_uplift")]).drop_nulls("ls_host")
    return rows.sort("ds").group_by("ls_host").agg(pl.col("ls_host_uplift").last().alias("uplift")).rename(
        {"ls_host": "host"})


def _new_ids(series: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """unique_id, sku, region for each new pair, numbered after the run's own ids."""
    start = series.height
    return pairs.sort("sku", "region").with_row_index("n", offset=start).select(
        pl.col("n").cast(pl.String).alias("unique_id"), "sku", "region")


def _with_new_series(frames: ModelFrames, new_ids: pl.DataFrame, cutoff: dt.date) -> ModelFrames:
    if new_ids.is_empty():
        return frames
    zero = new_ids.select("unique_id", pl.lit(cutoff).alias("ds"), pl.lit(0.0).alias("y"))
    return replace(frames, series=pl.concat([frames.series, new_ids.select(frames.series.columns)]),
                   history=pl.concat([frames.history, zero], how="diagonal_relaxed"))

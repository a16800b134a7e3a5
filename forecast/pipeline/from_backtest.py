"""Forecast each series with the model its backtest found best, or an ensemble of its best few.

The backtest's per-series metric over all its windows (window -1, its configured selection metric)
ranks the models it ran; "(no signals)" variants are not offered, since a forecast run reads the
signals. Series the backtest did not see are left to the run's own models.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.models.base import FORECAST_SCHEMA
from forecast.pipeline.forecaster import Forecaster, ForecastResult
from forecast.pipeline.frames import ModelFrames
from forecast.pipeline.selection import ENSEMBLE, NO_SIGNALS, SELECTED, combine, rank_models, rescale_bands
from forecast.storage import backtest_repo
from forecast.storage.backtest_repo import ALL_WINDOWS, POOLED

__all__ = ["BacktestChoice", "choose_from_backtest", "forecast_chosen"]

VALUES = ("yhat", "lo80", "hi80", "lo95", "hi95")


@dataclass(frozen=True)
class BacktestChoice:
    """The members of each series (sku, region, model, rank, score, weight) from backtest `run_id`."""

    run_id: int
    metric: str
    method: str | None
    members: pl.DataFrame
    band_factors: dict[int, float]
    """Per level, what the backtest's Selected (or Ensemble) bands needed to cover their level."""


def choose_from_backtest(*, session: Session, run_id: int | None, ensemble: str | None, size: int) -> BacktestChoice:
    """Rank each series' models in a stored backtest (the newest complete one when `run_id` is None).

    Raises:
        InvalidInputError: no such complete backtest, or a bad ensemble setting.
    """
    if ensemble not in (None, "median", "inverse_error"):
        raise InvalidInputError(f"--ensemble {ensemble!r} is unknown; use median or inverse_error")
    if ensemble and size < 2:
        raise InvalidInputError(f"--ensemble-size must be at least 2 for an ensemble, got {size}")
    run = (backtest_repo.get_run(session=session, run_id=run_id) if run_id is not None
           else backtest_repo.latest_complete_run(session=session))
    if run is None or run.status != "complete":
        raise InvalidInputError("no complete backtest to select from; run `demand backtest run` first"
                                if run is None else f"backtest {run.id} is {run.status}, not complete; pick another")
    metric = run.config.get("selection_metric", "rmsse")
    overall = backtest_repo.read_metrics(session=session, run_id=run.id, window=ALL_WINDOWS, step=0)
    scores = overall.filter(
        (pl.col("metric") == metric) & (pl.col("sku_id") != POOLED) & ~pl.col("model").is_in([SELECTED, ENSEMBLE])
        & ~pl.col("model").str.ends_with(NO_SIGNALS))
    members = rank_models(scores.rename({"sku_id": "sku", "region_id": "region"}), ["sku", "region"],
                          size=size if ensemble else 1)
    factors = overall.filter((pl.col("model") == (ENSEMBLE if ensemble else SELECTED))
                             & pl.col("metric").str.starts_with("band_factor_"))
    band_factors = {int(m.removeprefix("band_factor_")): v for m, v in factors.select("metric", "value").iter_rows()}
    return BacktestChoice(run.id, metric, ensemble, members, band_factors)


def forecast_chosen(forecaster: Forecaster, frames: ModelFrames, choice: BacktestChoice, *, h: int) -> ForecastResult:
    """Forecasts of the series in `choice` (FORECAST_SCHEMA; `model` names the model or the ensemble)."""
    members = choice.members.join(frames.series, on=["sku", "region"])
    ids = members["unique_id"].unique()
    history = frames.history.filter(pl.col("unique_id").is_in(ids.implode()))
    future = frames.future.filter(pl.col("unique_id").is_in(ids.implode()))
    wanted = members.select("unique_id", "model")
    # a global model (XGBoost) learns from every chosen series, not only from those it is best for
    globals_ = [m for a in forecaster.adapters if a.is_global for m in a.models]
    candidates = pl.concat([wanted.filter(~pl.col("model").is_in(globals_)),
                            history.select("unique_id").unique().join(
                                wanted.filter(pl.col("model").is_in(globals_)).select("model").unique(), how="cross")])
    each, contributions = forecaster.forecast_each(history, future, h=h, candidates=candidates)
    each = each.join(wanted, left_on=["unique_id", "asked"], right_on=["unique_id", "model"], how="semi")
    if choice.method is None:
        forecasts = each.select(list(FORECAST_SCHEMA))
    else:
        combined = combine(each.drop("model").rename({"asked": "model"}), members, ["unique_id"], method=choice.method)
        forecasts = combined.with_columns(pl.format("Ensemble({})", "produced_by").str.slice(0, 128).alias("model"))
        forecasts = forecasts.select(list(FORECAST_SCHEMA))
    if choice.band_factors:
        forecasts = rescale_bands(forecasts, choice.band_factors)
    # how each series was chosen: by the backtest, not by demand class or a holdout
    selection = members.filter(pl.col("rank") == 1).select(
        "unique_id", pl.lit(None, dtype=pl.String).alias("demand_class"), "model",
        pl.lit(None, dtype=pl.Float64).alias("holdout_mae"))
    if contributions is not None:
        contributions = contributions.join(forecasts.select("unique_id", "ds"), on=["unique_id", "ds"], how="semi")
    return ForecastResult(forecasts.sort("unique_id", "ds"), contributions, selection)

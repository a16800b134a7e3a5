"""A forecast run from storage to the published view: features as of the cutoff, fit, draft, publish.

The run row is committed as a draft first; values and the publish switch are written in one later
transaction. If the process dies in between, the draft stays a draft and readers keep the
previous published run.

Size: `run_forecast` and `_execute` stay over 60 lines until they become named stages (issue 26 item 3).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.features import read_sales, signal_features
from forecast.models.base import ModelSpec, PerSeriesFits
from forecast.models.distributed import Execution
from forecast.models.gradient import MODEL as CONTRIBUTING_MODEL
from forecast.pipeline.cold_start import cold_start as cold_start_series
from forecast.pipeline.forecaster import Forecaster, ForecastResult, known_target
from forecast.pipeline.frames import DEFAULT_EXOG, ModelFrames, keyed, model_frames, subset
from forecast.pipeline.from_backtest import BacktestChoice, choose_from_backtest, forecast_chosen
from forecast.pipeline.reconcile import METHODS, base_forecasts, calibrated, reconciliation_evidence
from forecast.pipeline.reconcile import reconcile as reconcile_totals
from forecast.pipeline.series_report import inactive_zeros, named_ids, shapes_report
from forecast.pipeline.shock import ShockRules, check_shocks, flagged_ids, short_memory_forecast, widened
from forecast.pipeline.reuse import EarlierChoice, earlier_choice, kept_models, slices_chosen
from forecast.storage import forecast_repo, model_state_repo
from forecast.storage.engine import session_scope
from forecast.storage.model_state_repo import KeptModel
from forecast.storage.repo import last_sales_day, sku_categories
from forecast.version import code_version

__all__ = ["RunReport", "run_forecast"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class RunReport:
    """What one forecast run did."""

    run_id: int
    status: str
    cutoff: str
    horizon: int
    series: int = 0
    rows: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    """Chosen model -> number of series."""
    selection: dict[str, Any] = field(default_factory=dict)
    """How the models were chosen: made_on (the cutoff of the oldest holdout that chose them),
    reused_from (the run whose choices were kept), series_reused, series_selected (on this run's
    holdout), and with `reselect_days` slices_made_on (slice -> cutoff of the holdout that chose it)."""
    cold_start: dict[str, Any] = field(default_factory=dict)
    """With cold start: new_series (forecast from analogues), blended_series, without_analogues."""
    shock: dict[str, Any] = field(default_factory=dict)
    """With the shock policy: flagged regions (region -> raised_on, reason, series, models) and the rules."""
    reconciliation: dict[str, Any] = field(default_factory=dict)
    """When reconciled: method, chosen_by (asked, a backtest, or the default) and nodes (aggregate nodes)."""
    series_shapes: dict[str, Any] = field(default_factory=dict)
    """The feed's shape at the cutoff: late series (days late), inactive series (forecast zero), series
    with days absent from the feed, by absent-days policy (`series_shape`)."""
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    """Model families that failed on some series, which replaced them and why (`Forecaster.forecast`)."""
    refits: dict[str, Any] = field(default_factory=dict)
    """Per model family of the chosen models: refitted (bool), series, and for a kept model the run
    that fitted it and the day it was fitted through; for per-series fits (statsforecast) also
    series_refitted and series_forwarded (forecast from a kept fit, forwarded through the new days)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


def run_forecast(engine: Engine, *, horizon: int = 28, models: Sequence[str | ModelSpec] = ("auto",),
                 cutoff: dt.date | None = None, n_jobs: int = 1, progress: Progress | None = None,
                 publish: bool = True, from_backtest: int | str | None = None, ensemble: str | None = None,
                 ensemble_size: int = 3, by_class: Mapping[str, tuple[str, ...]] | None = None,
                 execution: Execution = "local", dask_address: str | None = None,
                 reselect_days: int = 0, refit_days: int = 0, reconcile: str | None = None,
                 cold_start: bool = False, shock: ShockRules | None = None) -> RunReport:
    """Forecast every SKU x region from the sales and signals known at `cutoff` and publish the run.

    Args:
        from_backtest: a backtest run id, or "latest": each series it scored gets the model it found
            best there (or, with `ensemble`, its best `ensemble_size` combined); the others use `models`.
        ensemble: None, "median" or "inverse_error".
        by_class: demand class -> the candidates of `auto` (default: `classify.CANDIDATES`).
        execution: `local`, or `dask` to fit on the Dask cluster at `dask_address` (`tcp://HOST:PORT`,
            or `local` for a LocalCluster); the engine and address are recorded in the run's config.
        reselect_days: keep the model choices of an earlier run with the same models whose holdout was
            at most this many days before `cutoff`, choosing again only the slice of series whose turn
            it is (about 1/reselect_days of them; `reuse.choice_slice`); 0 chooses again every time.
        refit_days: families that keep their fitted models (XGBoost; AutoETS and AutoTheta per
            series) forecast from the models of runs with the same models fitted at most this many
            days before `cutoff`, on today's history, instead of refitting; XGBoost refits when the set
            of series, the signal columns or the parameters changed, a statistical model when its
            series no longer reaches back to its fit's first day. With days > 0 the chosen AutoETS and
            AutoTheta are also forwarded from the holdout's fit instead of refitted. 0 refits every
            time. What was refitted is in the run's config (`refits`).
        reconcile: None or "off", a method of `reconcile.METHODS`, or "auto" (the method the newest
            reconciliation backtest scored best, else `DEFAULT_METHOD`): the SKU x region forecasts
            are reconciled with their category, region and total levels, which are stored too
            (`forecast_total`, the `published_total` view); the method is in the run's config.
        cold_start: also forecast SKUs without sales that a livestream features in the horizon, and
            blend short histories with their analogues' forecasts (`cold_start.cold_start`); what it
            did is in the run's config (`cold_start`).
        shock: check every region for a regional shock at `cutoff` (`shock.check_shocks`, stored in
            `shock_check`) and forecast the series of flagged regions with these rules' short-memory
            settings and wider bands; the flagged regions are in the run's config (`shock`).

    Raises:
        InvalidInputError: no sales, bad horizon, unknown models, or an unusable Dask engine (nothing is written).
    """
    started = time.perf_counter()
    forecaster = Forecaster(models, freq="D", n_jobs=n_jobs, exog=DEFAULT_EXOG, by_class=by_class,
                            execution=execution, dask_address=dask_address)
    if horizon <= 0 or horizon > 366:
        raise InvalidInputError(f"--horizon must be between 1 and 366 days, got {horizon}")
    if ensemble and from_backtest is None:
        raise InvalidInputError("--ensemble combines the models a backtest ranked; add --from-backtest latest (or an id)")
    reconcile = None if reconcile == "off" else reconcile
    if reconcile not in (None, "auto", *METHODS):
        raise InvalidInputError(f"--reconcile {reconcile!r} is unknown; use auto, off or one of {list(METHODS)}")
    with session_scope(engine) as session:
        last_day = last_sales_day(session=session)
        if last_day is None:
            raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
        cutoff = cutoff or last_day
        choice = None if from_backtest is None else choose_from_backtest(
            session=session, run_id=None if from_backtest == "latest" else int(from_backtest), ensemble=ensemble,
            size=ensemble_size)
        config = {"models": [m if isinstance(m, str) else m.name for m in models], "n_jobs": n_jobs,
                  "exog": DEFAULT_EXOG}
        if by_class is not None:
            config["by_class"] = {k: list(v) for k, v in by_class.items()}
        if execution != "local":
            config |= {"engine": execution, "dask_address": dask_address}
        if choice is not None:
            config |= {"from_backtest": choice.run_id, "selection_metric": choice.metric, "ensemble": ensemble,
                       "ensemble_size": ensemble_size if ensemble else 1, "band_factors": choice.band_factors}
        if reconcile is not None:
            config["reconciliation"] = _reconciliation(session=session, asked=reconcile)
        if cold_start:
            config["cold_start"] = True
        if shock is not None:
            config["shock"] = {"rules": shock.to_dict()}
        earlier = None if choice is not None else earlier_choice(session=session, config=config, cutoff=cutoff,
                                                                 days=reselect_days)
        kept = {} if choice is not None else kept_models(session=session, config=config, cutoff=cutoff,
                                                         days=refit_days, families=forecaster.keeping_families())
        run = forecast_repo.create_run(session=session, cutoff=cutoff, horizon=horizon, frequency="D",
                                       config=config, code_version=code_version())
    report = RunReport(run.id, "draft", cutoff.isoformat(), horizon, reconciliation=dict(config.get("reconciliation", {})))
    try:
        _execute(engine, forecaster, report, cutoff=cutoff, horizon=horizon, progress=progress, publish=publish,
                 choice=choice, n_jobs=n_jobs, earlier=earlier, kept=kept, refit=refit_days == 0,
                 reselect_days=reselect_days, reconciliation=config.get("reconciliation"), cold=cold_start,
                 shock=shock)
    except BaseException as exc:
        with session_scope(engine) as session:
            forecast_repo.fail_run(session=session, run_id=run.id, error=f"{type(exc).__name__}: {exc}",
                                   duration_seconds=time.perf_counter() - started)
        raise
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _tick(progress: Progress | None, stage: str, stages: dict[str, float], started: float) -> None:
    stages[stage] = round(time.perf_counter() - started - sum(stages.values()), 2)
    if progress:
        progress(stage, 1, 1)


def _execute(engine: Engine, forecaster: Forecaster, report: RunReport, *, cutoff: dt.date, horizon: int,
             progress: Progress | None, publish: bool, choice: BacktestChoice | None, n_jobs: int,
             earlier: EarlierChoice | None, kept: dict[str, KeptModel], refit: bool, reselect_days: int,
             reconciliation: dict[str, Any] | None, cold: bool, shock: ShockRules | None) -> None:
    started, stages = time.perf_counter(), report.stage_seconds
    with session_scope(engine) as session:
        sales = read_sales(session=session, cutoff=cutoff, horizon=horizon)
        panel = signal_features(session=session, cutoff=cutoff, panel=sales.frame)
    shapes = sales.shapes
    report.series_shapes = shapes_report(shapes)
    del sales
    _tick(progress, "features", stages, started)
    frames = model_frames(panel, cutoff=cutoff)
    del panel  # 1.5 GiB at 10,000 series; the rest of the run reads the frames
    series = frames.series
    keys = _series_keys(series)
    kept = {family: _renamed(k, {key: uid for uid, key in keys.items()}) for family, k in kept.items()}
    chosen_before = None if earlier is None else earlier.pairs.join(series, on=["sku", "region"]).select(
        "unique_id", "model")
    checks = None
    if shock is not None:
        with session_scope(engine) as session:
            checks = check_shocks(session=session, frames=frames, cutoff=cutoff, rules=shock, horizon=horizon)
    flagged = flagged_ids(series, checks) if checks is not None else series["unique_id"].clear()
    apart = len(flagged) > 0 and shock.window > 0
    result = _forecast(forecaster, subset(frames, flagged, keep=False) if apart else frames, horizon=horizon,
                       choice=choice, n_jobs=n_jobs, chosen_before=chosen_before,
                       kept={family: k.model for family, k in kept.items()}, refit=refit, cutoff=cutoff)
    if apart:  # the flagged regions' series with short memory (the kept models are the others')
        shocked = short_memory_forecast(forecaster, subset(frames, flagged), h=horizon, rules=shock)
        result = replace(_combined(result, shocked), kept=result.kept)
    if len(flagged):
        result = replace(result, forecasts=widened(result.forecasts, shock, flagged))
    if checks is not None:
        report.shock = _shock_report(checks, series, result.selection, shock)
    _tick(progress, "models", stages, started)
    report.refits = _refits(forecaster, result, kept)
    if choice is None:
        report.selection = _selection_report(result, earlier, cutoff=cutoff, reselect_days=reselect_days)
    if cold:
        with session_scope(engine) as session:
            started_cold = cold_start_series(session=session, frames=frames, forecasts=result.forecasts, cutoff=cutoff,
                                             horizon=horizon)
        frames, series = started_cold.frames, started_cold.frames.series
        result = replace(result, forecasts=started_cold.forecasts)
        report.cold_start = started_cold.summary
    totals = None
    if reconciliation is not None:
        result, totals = _reconciled(engine, result, frames, reconciliation, horizon=horizon, n_jobs=n_jobs)
        report.reconciliation["nodes"] = totals["node"].n_unique()
    if cold or reconciliation is not None:
        _tick(progress, "cold start and reconcile", stages, started)
    values = pl.concat([keyed(result.forecasts, series, "yhat", "lo80", "hi80", "lo95", "hi95", "model"),
                        inactive_zeros(shapes, cutoff=cutoff, horizon=horizon)], how="vertical_relaxed")
    report.fallbacks = [f | {"reason": named_ids(f["reason"], series)} for f in result.fallbacks]
    with session_scope(engine) as session:
        if totals is not None:
            forecast_repo.write_totals(session=session, run_id=report.run_id, totals=totals.rename({"ds": "day"}))
        forecast_repo.write_values(session=session, run_id=report.run_id, values=values)
        contributions = _published_contributions(result)
        if contributions is not None and not contributions.is_empty():
            forecast_repo.write_contributions(session=session, run_id=report.run_id,
                                              contributions=keyed(contributions, series, "feature", "contribution"))
        forecast_repo.record_duration(session=session, run_id=report.run_id, seconds=time.perf_counter() - started)
        if report.selection:
            forecast_repo.record_config(session=session, run_id=report.run_id, selection=report.selection)
        if report.cold_start:
            forecast_repo.record_config(session=session, run_id=report.run_id, cold_start=report.cold_start)
        if report.shock:
            forecast_repo.record_config(session=session, run_id=report.run_id, shock=report.shock)
        forecast_repo.record_config(session=session, run_id=report.run_id, refits=report.refits,
                                    series_shapes=report.series_shapes, fallbacks=report.fallbacks)
        for family, model in result.kept.items():
            if family not in kept or model is not kept[family].model:  # fitted in this run
                model_state_repo.save_kept(session=session, run_id=report.run_id, family=family, trained_through=cutoff,
                                           model=model.renamed(keys) if isinstance(model, PerSeriesFits) else model)
        if publish:
            forecast_repo.publish_run(session=session, run_id=report.run_id)
            report.status = "published"
    _tick(progress, "write and publish", stages, started)
    report.series, report.rows = values.select("sku_id", "region_id").n_unique(), values.height
    report.models = dict(values.group_by("sku_id", "region_id").agg(pl.col("model").first())
                         .group_by("model").len().sort("model").iter_rows())


def _published_contributions(result: ForecastResult) -> pl.DataFrame | None:
    """The contributions of the series whose published forecast the contributing model made (XGBoost
    learns from every series, but its contributions explain only the series it was chosen for)."""
    if result.contributions is None:
        return None
    chosen = result.forecasts.filter(pl.col("model") == CONTRIBUTING_MODEL).select("unique_id").unique()
    return result.contributions.join(chosen, on="unique_id", how="semi")


def _selection_report(result: ForecastResult, earlier: EarlierChoice | None, *, cutoff: dt.date,
                      reselect_days: int) -> dict[str, Any]:
    """How the run's models were chosen (`RunReport.selection`)."""
    reused = int(result.selection["reused"].sum())
    slices = slices_chosen(earlier if reused else None, cutoff=cutoff, days=reselect_days)
    selection = {"made_on": min(slices.values(), default=cutoff).isoformat(),
                 "reused_from": earlier.run_id if earlier and reused else None,
                 "series_reused": reused, "series_selected": result.selection.height - reused}
    if slices:
        selection["slices_made_on"] = {str(k): day.isoformat() for k, day in slices.items()}
    return selection


def _reconciled(engine: Engine, result: ForecastResult, frames: ModelFrames, reconciliation: dict[str, Any], *,
                horizon: int, n_jobs: int) -> tuple[ForecastResult, pl.DataFrame]:
    """`result` with its forecasts reconciled by the run's method, and the aggregate nodes' rows with
    their bands rescaled by the method's band factors."""
    with session_scope(engine) as session:
        categories = sku_categories(session=session)
    base = base_forecasts(result.forecasts, frames.series.join(categories, on="sku", how="left"),
                          known_target(frames.history, keep_missing=False), h=horizon, n_jobs=n_jobs)
    reconciled = reconcile_totals(base, reconciliation["method"])
    return (replace(result, forecasts=reconciled.bottom),
            calibrated(reconciled.totals, reconciliation.get("band_factors", {})))


def _reconciliation(*, session: Session, asked: str) -> dict[str, Any]:
    """The method a run reconciles with and why (asked for, or with `auto` the newest reconciled
    backtest's best), and that backtest's band factors per aggregate level for the method."""
    evidence = reconciliation_evidence(session=session)
    if asked != "auto":
        method, chosen_by = asked, "asked"
    else:
        method = evidence.best_method()
        chosen_by = f"backtest {evidence.run_id}" if evidence.run_id else "default (no reconciled backtest)"
    factors = evidence.band_factors(method)
    return {"method": method, "chosen_by": chosen_by,
            **({"band_factors": factors, "band_factors_from": evidence.run_id} if factors else {})}


def _series_keys(series: pl.DataFrame) -> dict[str, str]:
    """unique_id -> a key naming the same SKU x region in every run (a unique_id is a row number, which
    shifts when series come or go), under which per-series fits are stored."""
    return dict(series.select("unique_id", pl.concat_str("sku", "region", separator="\x1f")).iter_rows())


def _renamed(kept: KeptModel, ids: dict[str, str]) -> KeptModel:
    """`kept` with its per-series fits under the unique_ids of `ids` (stored key -> this run's id)."""
    if not isinstance(kept.model, PerSeriesFits):
        return kept
    return KeptModel(kept.run_id, kept.trained_through, kept.model.renamed(ids))


def _refits(forecaster: Forecaster, result: ForecastResult, kept: dict[str, KeptModel]) -> dict[str, Any]:
    """Per family of the chosen models: whether it refitted, on how many series, and which kept model it used."""
    family_of = {m: a.family for a in forecaster.adapters for m in a.models}
    chosen = result.selection.group_by(pl.col("model").replace_strict(family_of, default="other").alias("family")).len()
    refits: dict[str, Any] = {}
    for family, series in chosen.sort("family").iter_rows():
        earlier = kept.get(family)
        if earlier is not None and isinstance(earlier.model, PerSeriesFits):
            new = result.kept.get(family)
            pairs = set(result.selection.select("unique_id", "model").rows())
            forwarded = len(pairs & set(earlier.model.fits) - set(new.fits if new is not None else ()))
            refits[family] = {"refitted": forwarded < series, "series": series, "series_refitted": series - forwarded,
                              "series_forwarded": forwarded, "model_of_run": earlier.run_id,
                              "trained_through": earlier.trained_through.isoformat()}
        elif earlier is not None and result.kept.get(family) is earlier.model:
            refits[family] = {"refitted": False, "series": series, "model_of_run": earlier.run_id,
                              "trained_through": earlier.trained_through.isoformat()}
        else:
            refits[family] = {"refitted": True, "series": series}
    return refits


def _forecast(forecaster: Forecaster, frames: ModelFrames, *, horizon: int, choice: BacktestChoice | None,
              n_jobs: int, chosen_before: pl.DataFrame | None, kept: dict[str, Any], refit: bool,
              cutoff: dt.date) -> ForecastResult:
    """The run's forecasts: from the backtest's choice where it has one, from `forecaster` elsewhere
    (keeping the `chosen_before` models where they are still candidates, and forecasting from the
    `kept` fitted models where they still fit)."""
    if choice is None:
        return forecaster.forecast(frames.history, frames.future, h=horizon, chosen_before=chosen_before, kept=kept,
                                   refit=refit, cutoff=cutoff)
    members = Forecaster(choice.members["model"].unique().sort().to_list(), n_jobs=n_jobs, exog=DEFAULT_EXOG,
                         execution=forecaster.execution, dask_address=forecaster.dask_address)
    chosen = forecast_chosen(members, frames, choice, h=horizon)
    rest = frames.series.join(chosen.selection.select("unique_id"), on="unique_id", how="anti")["unique_id"]
    if rest.is_empty():
        return chosen
    others_frames = subset(frames, rest)
    return _combined(chosen, forecaster.forecast(others_frames.history, others_frames.future, h=horizon, refit=refit,
                                                 cutoff=cutoff))


def _combined(first: ForecastResult, second: ForecastResult) -> ForecastResult:
    """The forecasts, contributions and choices of two results for different series (kept models: none)."""
    parts = [r.contributions for r in (first, second) if r.contributions is not None]
    return ForecastResult(pl.concat([first.forecasts, second.forecasts]).sort("unique_id", "ds"),
                          pl.concat(parts) if parts else None,
                          pl.concat([first.selection, second.selection], how="diagonal_relaxed"),
                          fallbacks=[*first.fallbacks, *second.fallbacks])


def _shock_report(checks: pl.DataFrame, series: pl.DataFrame, selection: pl.DataFrame,
                  rules: ShockRules) -> dict[str, Any]:
    """The run's `shock` config: the rules and, per flagged region, since when, why, its series and their models."""
    regions = {}
    models = selection.join(series.select("unique_id", "region"), on="unique_id")
    for row in checks.filter("active").iter_rows(named=True):
        chosen = models.filter(pl.col("region") == row["region"]).group_by("model").len().sort("model")
        regions[row["region"]] = {"raised_on": row["raised_on"].isoformat(), "reason": row["reason"],
                                  "series": int(chosen["len"].sum()), "models": dict(chosen.iter_rows())}
    return {"rules": rules.to_dict(), "regions": regions}

"""A forecast run from storage to the published view, in named stages that read top to bottom.

`run_forecast` checks its `RunOptions`, plans the run (`_plan`: the backtest's choice, the config, the
earlier choices and kept models, and the draft run row) and executes it (`_execute`): features as of
the cutoff, models, cold start and reconciliation, values, publish.

The run row is committed as a draft first; values and the publish switch are written in one later
transaction. If the process dies in between, the draft stays a draft and readers keep the
previous published run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.features import read_sales, signal_features
from forecast.models.base import PerSeriesFits
from forecast.models.gradient import MODEL as CONTRIBUTING_MODEL
from forecast.pipeline.cold_start import cold_start as cold_start_series
from forecast.pipeline.forecaster import Forecaster, ForecastResult, known_target
from forecast.pipeline.frames import DEFAULT_EXOG, ModelFrames, keyed, model_frames, subset
from forecast.pipeline.from_backtest import BacktestChoice, choose_from_backtest, forecast_chosen
from forecast.pipeline.reconcile import METHODS, base_forecasts, calibrated, reconciliation_evidence
from forecast.pipeline.reconcile import reconcile as reconcile_totals
from forecast.pipeline.reuse import EarlierChoice, earlier_choice, kept_models, slices_chosen
from forecast.pipeline.run_options import RunOptions
from forecast.pipeline.run_report import (ColdStartReport, Fallback, Reconciliation, Refit, RunReport, SeriesShapes,
                                          Selection, ShockedRegion, ShockReport)
from forecast.pipeline.series_report import inactive_zeros, named_ids, shapes_report
from forecast.pipeline.shock import ShockRules, check_shocks, flagged_ids, short_memory_forecast, widened
from forecast.storage import forecast_repo, model_state_repo
from forecast.storage.engine import session_scope
from forecast.storage.model_state_repo import KeptModel
from forecast.storage.repo import last_sales_day, sku_categories
from forecast.version import code_version

__all__ = ["RunOptions", "RunReport", "run_forecast"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def run_forecast(engine: Engine, options: RunOptions | None = None, /, *, progress: Progress | None = None,
                 **overrides: Any) -> RunReport:
    """Forecast every SKU x region from the sales and signals known at `options.cutoff` and publish the run.

    `overrides` replace fields of `options` (default `RunOptions()`, a run without settings):
    `run_forecast(engine, horizon=7)` is `run_forecast(engine, RunOptions(horizon=7))`.

    Options:
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
    options = replace(options or RunOptions(), **overrides)
    started = time.perf_counter()
    forecaster = Forecaster(options.models, freq="D", n_jobs=options.n_jobs, exog=DEFAULT_EXOG,
                            by_class=options.by_class, execution=options.execution, dask_address=options.dask_address)
    _check(options)
    plan = _plan(engine, forecaster, options)
    report = RunReport(plan.run_id, "draft", plan.cutoff.isoformat(), options.horizon,
                       reconciliation=plan.reconciliation)
    try:
        _execute(engine, forecaster, plan, report, progress)
    except BaseException as exc:
        with session_scope(engine) as session:
            forecast_repo.fail_run(session=session, run_id=plan.run_id, error=f"{type(exc).__name__}: {exc}",
                                   duration_seconds=time.perf_counter() - started)
        raise
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _check(options: RunOptions) -> None:
    """Refuse options no run can follow (before anything is read or written)."""
    if options.horizon <= 0 or options.horizon > 366:
        raise InvalidInputError(f"--horizon must be between 1 and 366 days, got {options.horizon}")
    if options.ensemble and options.from_backtest is None:
        raise InvalidInputError("--ensemble combines the models a backtest ranked; add --from-backtest latest (or an id)")
    if options.reconcile not in (None, "off", "auto", *METHODS):
        raise InvalidInputError(f"--reconcile {options.reconcile!r} is unknown; use auto, off or one of {list(METHODS)}")


@dataclass(frozen=True)
class _Plan:
    """A run's draft: what it reuses and how, decided before anything is fitted."""

    run_id: int
    cutoff: dt.date
    options: RunOptions
    choice: BacktestChoice | None
    reconciliation: Reconciliation | None
    earlier: EarlierChoice | None
    kept: dict[str, KeptModel]


def _plan(engine: Engine, forecaster: Forecaster, options: RunOptions) -> _Plan:
    """Stage 0: the cutoff, the backtest's choice, the run's config, the earlier choices and kept models to
    reuse, and the draft run row (committed)."""
    with session_scope(engine) as session:
        last_day = last_sales_day(session=session)
        if last_day is None:
            raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
        cutoff = options.cutoff or last_day
        choice = None if options.from_backtest is None else choose_from_backtest(
            session=session, run_id=None if options.from_backtest == "latest" else int(options.from_backtest),
            ensemble=options.ensemble, size=options.ensemble_size)
        reconciliation = (None if options.reconcile in (None, "off")
                          else _reconciliation(session=session, asked=options.reconcile))
        config = _config(options, choice, reconciliation)
        earlier = None if choice is not None else earlier_choice(session=session, config=config, cutoff=cutoff,
                                                                 days=options.reselect_days)
        kept = {} if choice is not None else kept_models(session=session, config=config, cutoff=cutoff,
                                                         days=options.refit_days,
                                                         families=forecaster.keeping_families())
        run = forecast_repo.create_run(session=session, cutoff=cutoff, horizon=options.horizon, frequency="D",
                                       config=config, code_version=code_version())
        return _Plan(run.id, cutoff, options, choice, reconciliation, earlier, kept)


def _config(options: RunOptions, choice: BacktestChoice | None,
            reconciliation: Reconciliation | None) -> dict[str, Any]:
    """The run's stored config as the draft is created (the stages add what they did at publish)."""
    config: dict[str, Any] = {"models": [m if isinstance(m, str) else m.name for m in options.models],
                              "n_jobs": options.n_jobs, "exog": DEFAULT_EXOG}
    if options.by_class is not None:
        config["by_class"] = {k: list(v) for k, v in options.by_class.items()}
    if options.execution != "local":
        config |= {"engine": options.execution, "dask_address": options.dask_address}
    if choice is not None:
        config |= {"from_backtest": choice.run_id, "selection_metric": choice.metric, "ensemble": options.ensemble,
                   "ensemble_size": options.ensemble_size if options.ensemble else 1,
                   "band_factors": choice.band_factors}
    if reconciliation is not None:
        config["reconciliation"] = reconciliation.to_dict()
    if options.cold_start:
        config["cold_start"] = True
    if options.shock is not None:
        config["shock"] = {"rules": options.shock.to_dict()}
    return config


@dataclass
class _Clock:
    """Seconds per stage since `started` (`RunReport.stage_seconds`), each stage reported to `progress`."""

    progress: Progress | None
    stages: dict[str, float]
    started: float = field(default_factory=time.perf_counter)

    def tick(self, stage: str) -> None:
        self.stages[stage] = round(time.perf_counter() - self.started - sum(self.stages.values()), 2)
        if self.progress:
            self.progress(stage, 1, 1)


def _execute(engine: Engine, forecaster: Forecaster, plan: _Plan, report: RunReport,
             progress: Progress | None) -> None:
    """The run's stages after its draft: features, models, cold start and reconcile, values, publish."""
    options, clock = plan.options, _Clock(progress, report.stage_seconds)
    panel, shapes = _features(engine, plan, report)
    clock.tick("features")
    frames = model_frames(panel, cutoff=plan.cutoff)
    del panel  # 1.5 GiB at 10,000 series; the rest of the run reads the frames
    series = frames.series
    keys = _series_keys(series)
    kept = {family: _renamed(k, {key: uid for uid, key in keys.items()}) for family, k in plan.kept.items()}
    result = _models(engine, forecaster, plan, frames, kept, report)
    clock.tick("models")
    totals = None
    if options.cold_start:
        frames, result = _cold_started(engine, plan, frames, result, report)
        series = frames.series
    if plan.reconciliation is not None:
        result, totals = _reconciled(engine, result, frames, plan.reconciliation, horizon=options.horizon,
                                     n_jobs=options.n_jobs)
        report.reconciliation = replace(plan.reconciliation, nodes=totals["node"].n_unique())
    if options.cold_start or plan.reconciliation is not None:
        clock.tick("cold start and reconcile")
    values = pl.concat([keyed(result.forecasts, series, "yhat", "lo80", "hi80", "lo95", "hi95", "model"),
                        inactive_zeros(shapes, cutoff=plan.cutoff, horizon=options.horizon)], how="vertical_relaxed")
    report.fallbacks = [Fallback(**(f | {"reason": named_ids(f["reason"], series)})) for f in result.fallbacks]
    _publish(engine, plan, report, result, values=values, totals=totals, series=series, keys=keys, kept=kept,
             started=clock.started)
    clock.tick("write and publish")
    report.series, report.rows = values.select("sku_id", "region_id").n_unique(), values.height
    report.models = dict(values.group_by("sku_id", "region_id").agg(pl.col("model").first())
                         .group_by("model").len().sort("model").iter_rows())


def _features(engine: Engine, plan: _Plan, report: RunReport) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stage 1: the sales and signal features known at the cutoff (the panel), and the feed's shapes."""
    with session_scope(engine) as session:
        sales = read_sales(session=session, cutoff=plan.cutoff, horizon=plan.options.horizon)
        panel = signal_features(session=session, cutoff=plan.cutoff, panel=sales.frame)
    report.series_shapes = SeriesShapes(**shapes_report(sales.shapes))
    return panel, sales.shapes


def _models(engine: Engine, forecaster: Forecaster, plan: _Plan, frames: ModelFrames, kept: dict[str, KeptModel],
            report: RunReport) -> ForecastResult:
    """Stage 2: check for regional shocks, fit or reuse the models and forecast; flagged regions' series with
    short memory and wider bands."""
    options, series = plan.options, frames.series
    chosen_before = None if plan.earlier is None else plan.earlier.pairs.join(
        series, on=["sku", "region"]).select("unique_id", "model")
    checks = None
    if options.shock is not None:
        with session_scope(engine) as session:
            checks = check_shocks(session=session, frames=frames, cutoff=plan.cutoff, rules=options.shock,
                                  horizon=options.horizon)
    flagged = flagged_ids(series, checks) if checks is not None else series["unique_id"].clear()
    apart = len(flagged) > 0 and options.shock.window > 0
    result = _forecast(forecaster, subset(frames, flagged, keep=False) if apart else frames, horizon=options.horizon,
                       choice=plan.choice, n_jobs=options.n_jobs, chosen_before=chosen_before,
                       kept={family: k.model for family, k in kept.items()}, refit=options.refit_days == 0,
                       cutoff=plan.cutoff)
    if apart:  # the flagged regions' series with short memory (the kept models are the others')
        shocked = short_memory_forecast(forecaster, subset(frames, flagged), h=options.horizon, rules=options.shock)
        result = replace(_combined(result, shocked), kept=result.kept)
    if len(flagged):
        result = replace(result, forecasts=widened(result.forecasts, options.shock, flagged))
    if checks is not None:
        report.shock = _shock_report(checks, series, result.selection, options.shock)
    report.refits = _refits(forecaster, result, kept)
    if plan.choice is None:
        report.selection = _selection_report(result, plan.earlier, cutoff=plan.cutoff,
                                             reselect_days=options.reselect_days)
    return result


def _cold_started(engine: Engine, plan: _Plan, frames: ModelFrames, result: ForecastResult,
                  report: RunReport) -> tuple[ModelFrames, ForecastResult]:
    """Stage 3a: new SKUs a livestream features forecast from analogues, short histories blended with theirs."""
    with session_scope(engine) as session:
        started = cold_start_series(session=session, frames=frames, forecasts=result.forecasts, cutoff=plan.cutoff,
                                    horizon=plan.options.horizon)
    report.cold_start = ColdStartReport(**started.summary)
    return started.frames, replace(result, forecasts=started.forecasts)


def _publish(engine: Engine, plan: _Plan, report: RunReport, result: ForecastResult, *, values: pl.DataFrame,
             totals: pl.DataFrame | None, series: pl.DataFrame, keys: dict[str, str], kept: dict[str, KeptModel],
             started: float) -> None:
    """Stage 4, one transaction: the values, totals and contributions, what the run did (its config), the
    models it fitted, and (with `publish`) the switch that makes it the published run."""
    run_id = report.run_id
    with session_scope(engine) as session:
        if totals is not None:
            forecast_repo.write_totals(session=session, run_id=run_id, totals=totals.rename({"ds": "day"}))
        forecast_repo.write_values(session=session, run_id=run_id, values=values)
        contributions = _published_contributions(result)
        if contributions is not None and not contributions.is_empty():
            forecast_repo.write_contributions(session=session, run_id=run_id,
                                              contributions=keyed(contributions, series, "feature", "contribution"))
        forecast_repo.record_duration(session=session, run_id=run_id, seconds=time.perf_counter() - started)
        _record_config(session, report)
        for family, model in result.kept.items():
            if family not in kept or model is not kept[family].model:  # fitted in this run
                model_state_repo.save_kept(session=session, run_id=run_id, family=family, trained_through=plan.cutoff,
                                           model=model.renamed(keys) if isinstance(model, PerSeriesFits) else model)
        if plan.options.publish:
            forecast_repo.publish_run(session=session, run_id=run_id)
            report.status = "published"


def _record_config(session: Session, report: RunReport) -> None:
    """What the run did, added to its stored config in the shape `RunReport.to_dict` gives."""
    run_id = report.run_id
    if report.selection is not None:
        forecast_repo.record_config(session=session, run_id=run_id, selection=report.selection.to_dict())
    if report.cold_start is not None:
        forecast_repo.record_config(session=session, run_id=run_id, cold_start=report.cold_start.to_dict())
    if report.shock is not None:
        forecast_repo.record_config(session=session, run_id=run_id, shock=report.shock.to_dict())
    forecast_repo.record_config(session=session, run_id=run_id,
                                refits={family: r.to_dict() for family, r in report.refits.items()},
                                series_shapes=report.series_shapes.to_dict(),
                                fallbacks=[f.to_dict() for f in report.fallbacks])


def _published_contributions(result: ForecastResult) -> pl.DataFrame | None:
    """The contributions of the series whose published forecast the contributing model made (XGBoost
    learns from every series, but its contributions explain only the series it was chosen for)."""
    if result.contributions is None:
        return None
    chosen = result.forecasts.filter(pl.col("model") == CONTRIBUTING_MODEL).select("unique_id").unique()
    return result.contributions.join(chosen, on="unique_id", how="semi")


def _selection_report(result: ForecastResult, earlier: EarlierChoice | None, *, cutoff: dt.date,
                      reselect_days: int) -> Selection:
    """How the run's models were chosen (`RunReport.selection`)."""
    reused = int(result.selection["reused"].sum())
    slices = slices_chosen(earlier if reused else None, cutoff=cutoff, days=reselect_days)
    return Selection(made_on=min(slices.values(), default=cutoff).isoformat(),
                     reused_from=earlier.run_id if earlier and reused else None, series_reused=reused,
                     series_selected=result.selection.height - reused,
                     slices_made_on={str(k): day.isoformat() for k, day in slices.items()} if slices else None)


def _reconciled(engine: Engine, result: ForecastResult, frames: ModelFrames, reconciliation: Reconciliation, *,
                horizon: int, n_jobs: int) -> tuple[ForecastResult, pl.DataFrame]:
    """`result` with its forecasts reconciled by the run's method, and the aggregate nodes' rows with
    their bands rescaled by the method's band factors."""
    with session_scope(engine) as session:
        categories = sku_categories(session=session)
    base = base_forecasts(result.forecasts, frames.series.join(categories, on="sku", how="left"),
                          known_target(frames.history, keep_missing=False), h=horizon, n_jobs=n_jobs)
    reconciled = reconcile_totals(base, reconciliation.method)
    return (replace(result, forecasts=reconciled.bottom),
            calibrated(reconciled.totals, reconciliation.band_factors or {}))


def _reconciliation(*, session: Session, asked: str) -> Reconciliation:
    """The method a run reconciles with and why (asked for, or with `auto` the newest reconciled
    backtest's best), and that backtest's band factors per aggregate level for the method."""
    evidence = reconciliation_evidence(session=session)
    if asked != "auto":
        method, chosen_by = asked, "asked"
    else:
        method = evidence.best_method()
        chosen_by = f"backtest {evidence.run_id}" if evidence.run_id else "default (no reconciled backtest)"
    factors = evidence.band_factors(method)
    if not factors:
        return Reconciliation(method, chosen_by)
    return Reconciliation(method, chosen_by, band_factors=factors, band_factors_from=evidence.run_id)


def _series_keys(series: pl.DataFrame) -> dict[str, str]:
    """unique_id -> a key naming the same SKU x region in every run (a unique_id is a row number, which
    shifts when series come or go), under which per-series fits are stored."""
    return dict(series.select("unique_id", pl.concat_str("sku", "region", separator="\x1f")).iter_rows())


def _renamed(kept: KeptModel, ids: dict[str, str]) -> KeptModel:
    """`kept` with its per-series fits under the unique_ids of `ids` (stored key -> this run's id)."""
    if not isinstance(kept.model, PerSeriesFits):
        return kept
    return KeptModel(kept.run_id, kept.trained_through, kept.model.renamed(ids))


def _refits(forecaster: Forecaster, result: ForecastResult, kept: dict[str, KeptModel]) -> dict[str, Refit]:
    """Per family of the chosen models: whether it refitted, on how many series, and which kept model it used."""
    family_of = {m: a.family for a in forecaster.adapters for m in a.models}
    chosen = result.selection.group_by(pl.col("model").replace_strict(family_of, default="other").alias("family")).len()
    refits: dict[str, Refit] = {}
    for family, series in chosen.sort("family").iter_rows():
        earlier = kept.get(family)
        if earlier is not None and isinstance(earlier.model, PerSeriesFits):
            new = result.kept.get(family)
            pairs = set(result.selection.select("unique_id", "model").rows())
            forwarded = len(pairs & set(earlier.model.fits) - set(new.fits if new is not None else ()))
            refits[family] = Refit(forwarded < series, series, series_refitted=series - forwarded,
                                   series_forwarded=forwarded, model_of_run=earlier.run_id,
                                   trained_through=earlier.trained_through.isoformat())
        elif earlier is not None and result.kept.get(family) is earlier.model:
            refits[family] = Refit(False, series, model_of_run=earlier.run_id,
                                   trained_through=earlier.trained_through.isoformat())
        else:
            refits[family] = Refit(True, series)
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
                  rules: ShockRules) -> ShockReport:
    """The run's `shock` config: the rules and, per flagged region, since when, why, its series and their models."""
    regions = {}
    models = selection.join(series.select("unique_id", "region"), on="unique_id")
    for row in checks.filter("active").iter_rows(named=True):
        chosen = models.filter(pl.col("region") == row["region"]).group_by("model").len().sort("model")
        regions[row["region"]] = ShockedRegion(row["raised_on"].isoformat(), row["reason"], int(chosen["len"].sum()),
                                               dict(chosen.iter_rows()))
    return ShockReport(rules, regions)

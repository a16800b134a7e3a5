"""Run a scenario: one fit, a forecast without the plan and one with it, stored with the uplift per day.

The plan changes only the signals (a planned livestream added to the schedule, or a case trajectory
instead of the baseline's hold) for the series it can move; the model is fitted once on the stored
history and forecasts both futures, so the difference is the plan's effect and nothing else. The
published forecast is never touched.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine

from forecast.errors import InvalidInputError
from forecast.features import StoredSignals, build_panel_features, load_signals, sales_panel
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.frames import DEFAULT_EXOG, ModelFrames, keyed, model_frames
from forecast.version import code_version
from forecast.scenarios.plans import LivestreamPlan, Plan, affected_series, planned_event
from forecast.storage import repo, scenario_repo
from forecast.storage.engine import session_scope

__all__ = ["SCENARIO_MODELS", "ScenarioReport", "run_scenario"]

logger = logging.getLogger(__name__)

SCENARIO_MODELS = ("XGBoost", "Prophet", "ARIMA", "AutoARIMA")
"""Models that read the signals, so a plan can move their forecast."""
BOUNDS = ("yhat", "lo80", "hi80", "lo95", "hi95")
Progress = Callable[[str, int, int], None]


@dataclass
class ScenarioReport:
    """What a scenario did, with its uplift summed by region and by day."""

    scenario_id: int
    name: str
    kind: str
    status: str
    cutoff: str
    horizon: int
    model: str
    series: int = 0
    rows: int = 0
    seconds: float = 0.0
    baseline_units: float = 0.0
    scenario_units: float = 0.0
    uplift_units: float = 0.0
    uplift_by_region: dict[str, float] = field(default_factory=dict)
    uplift_by_day: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


@dataclass(frozen=True)
class _Prepared:
    """Everything validated before anything is written: frames for both variants and the affected ids."""

    cutoff: dt.date
    frames: ModelFrames
    scenario_future: pl.DataFrame
    affected: pl.DataFrame


def run_scenario(engine: Engine, plan: Plan, *, horizon: int = 28, model: str = "XGBoost",
                 cutoff: dt.date | None = None, name: str | None = None, created_by: str | None = None,
                 n_jobs: int = 1, progress: Progress | None = None) -> ScenarioReport:
    """Forecast the series `plan` can move with and without it, and store both with the uplift.

    Raises:
        InvalidInputError: a bad plan, model or horizon, or no sales (nothing is written).
    """
    started = time.perf_counter()
    if model not in SCENARIO_MODELS:
        raise InvalidInputError(f"--model {model} does not read the signals, so no plan can move it; "
                                f"use one of {', '.join(SCENARIO_MODELS)}")
    if not 1 <= horizon <= 366:
        raise InvalidInputError(f"--horizon must be between 1 and 366 days, got {horizon}")
    forecaster = Forecaster([model], freq="D", n_jobs=n_jobs, exog=DEFAULT_EXOG)
    prepared = _prepare(engine, plan, horizon=horizon, cutoff=cutoff)
    _tick(progress, "features")
    name = name or _default_name(plan)
    with session_scope(engine) as session:
        scenario = scenario_repo.create_scenario(
            session=session, name=name, kind=plan.kind, plan=plan.to_config(), cutoff=prepared.cutoff,
            horizon=horizon, model=model, created_by=created_by or getpass.getuser(), code_version=code_version())
        scenario_id = scenario.id
    report = ScenarioReport(scenario_id, name, plan.kind, "running", prepared.cutoff.isoformat(), horizon, model)
    try:
        values = _forecast_both(forecaster, prepared, horizon=horizon)
        _tick(progress, "models")
        with session_scope(engine) as session:
            report.rows = scenario_repo.complete_scenario(session=session, scenario_id=scenario_id, values=values,
                                                          seconds=time.perf_counter() - started)
        _tick(progress, "write")
    except BaseException as exc:
        with session_scope(engine) as session:
            scenario_repo.fail_scenario(session=session, scenario_id=scenario_id, error=f"{type(exc).__name__}: {exc}",
                                        seconds=time.perf_counter() - started)
        raise
    _summarise(report, values)
    report.status, report.seconds = "complete", round(time.perf_counter() - started, 2)
    return report


def _prepare(engine: Engine, plan: Plan, *, horizon: int, cutoff: dt.date | None) -> _Prepared:
    """Load the panel and signals, build both futures and check the plan moves some series."""
    with session_scope(engine) as session:
        last_day = repo.last_sales_day(session=session)
        if last_day is None:
            raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
        cutoff = cutoff or last_day
        panel = sales_panel(session=session, cutoff=cutoff, horizon=horizon)
        signals = load_signals(session=session, cutoff=cutoff)
    frames = model_frames(build_panel_features(panel, signals), cutoff=cutoff)
    affected = affected_series(plan, frames.series, signals)
    sub_panel = panel.join(affected.select("sku", "region"), on=["sku", "region"], how="semi")
    featured = _planned_features(plan, sub_panel, signals, horizon=horizon, regions=affected["region"].unique().to_list())
    planned = model_frames(featured, cutoff=cutoff, series=frames.series).future
    ids = affected["unique_id"].implode()
    scenario_future = pl.concat([frames.future.filter(~pl.col("unique_id").is_in(ids)), planned]).sort("unique_id", "ds")
    return _Prepared(cutoff, frames, scenario_future, affected)


def _planned_features(plan: Plan, panel: pl.DataFrame, signals: StoredSignals, *, horizon: int,
                      regions: list[str]) -> pl.DataFrame:
    """Features of `panel` with the plan applied to the signals.

    Raises:
        InvalidInputError: a livestream plan that features none of the panel's series on its day.
    """
    if not isinstance(plan, LivestreamPlan):
        return build_panel_features(panel, signals, case_scenario=plan.trajectory, scenario_weekly_rate=plan.weekly_rate)
    event = planned_event(plan, signals=signals, horizon=horizon, leaf_regions=regions if plan.regions else [])
    featured = build_panel_features(panel, signals.with_livestreams(event))
    on_air = featured.filter((pl.col("day") == event["local_day"][0]) & (pl.col("ls_on_air") == 1))
    if on_air.is_empty():
        raise InvalidInputError("the planned livestream features none of the stored series on its day; "
                                "check its SKUs, category and regions")
    return featured


def _forecast_both(forecaster: Forecaster, prepared: _Prepared, *, horizon: int) -> pl.DataFrame:
    """Baseline and scenario forecasts of the affected series side by side, with the uplift."""
    outputs = forecaster.forecast_variants(
        prepared.frames.history, {"baseline": prepared.frames.future, "scenario": prepared.scenario_future},
        h=horizon, ids=prepared.affected["unique_id"].to_list())
    base = outputs["baseline"].forecasts.select("unique_id", "ds", *[pl.col(c).alias(f"baseline_{c}") for c in BOUNDS])
    both = outputs["scenario"].forecasts.join(base, on=["unique_id", "ds"], how="inner", validate="1:1")
    both = both.with_columns((pl.col("yhat") - pl.col("baseline_yhat")).alias("uplift"))
    return keyed(both, prepared.frames.series, *scenario_repo.SCENARIO_VALUE_COLUMNS[3:])


def _summarise(report: ScenarioReport, values: pl.DataFrame) -> None:
    report.series = values.select("sku_id", "region_id").unique().height
    report.baseline_units = round(float(values["baseline_yhat"].sum()), 2)
    report.scenario_units = round(float(values["yhat"].sum()), 2)
    report.uplift_units = round(float(values["uplift"].sum()), 2)
    by_region = values.group_by("region_id").agg(pl.col("uplift").sum()).sort("region_id")
    by_day = values.group_by("day").agg(pl.col("uplift").sum()).sort("day")
    report.uplift_by_region = {r: round(u, 2) for r, u in by_region.iter_rows()}
    report.uplift_by_day = {d.isoformat(): round(u, 2) for d, u in by_day.iter_rows()}


def _default_name(plan: Plan) -> str:
    where = ", ".join(plan.regions) if plan.regions else "all regions"
    if isinstance(plan, LivestreamPlan):
        what = ", ".join(plan.skus) if plan.skus else f"category {plan.category}"
        return f"{plan.host} livestream {plan.start[:10]}: {what} in {where}"[:200]
    return f"cases {plan.trajectory} {plan.weekly_rate:.0%} a week in {where}"[:200]


def _tick(progress: Progress | None, stage: str) -> None:
    if progress:
        progress(stage, 1, 1)

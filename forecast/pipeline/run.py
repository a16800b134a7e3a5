"""A forecast run from storage to the published view: features as of the cutoff, fit, draft, publish.

The run row is committed as a draft first; values and the publish switch are written in one later
transaction. If the process dies in between, the draft stays a draft and readers keep the
previous published run.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from forecast.errors import InvalidInputError
from forecast.features import signal_features
from forecast.models.base import ModelSpec
from forecast.pipeline.forecaster import Forecaster
from forecast.pipeline.frames import DEFAULT_EXOG, keyed, model_frames
from forecast.storage import forecast_repo
from forecast.storage.engine import session_scope
from forecast.storage.schema import Sales

__all__ = ["RunReport", "code_version", "run_forecast"]

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

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json`."""
        return asdict(self)


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    version = metadata.version("demand-forecast")
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
        return f"{version}+{sha}"
    except (OSError, subprocess.SubprocessError):
        return version


def run_forecast(engine: Engine, *, horizon: int = 28, models: Sequence[str | ModelSpec] = ("auto",),
                 cutoff: dt.date | None = None, n_jobs: int = 1, progress: Progress | None = None,
                 publish: bool = True) -> RunReport:
    """Forecast every SKU x region from the sales and signals known at `cutoff` and publish the run.

    Raises:
        InvalidInputError: no sales, bad horizon or unknown models (nothing is written).
    """
    started = time.perf_counter()
    forecaster = Forecaster(models, freq="D", n_jobs=n_jobs, exog=DEFAULT_EXOG)
    if horizon <= 0 or horizon > 366:
        raise InvalidInputError(f"--horizon must be between 1 and 366 days, got {horizon}")
    with session_scope(engine) as session:
        last_day = session.scalar(select(func.max(Sales.day)))
        if last_day is None:
            raise InvalidInputError("no sales are stored; ingest some with `demand ingest sales` first")
        cutoff = cutoff or last_day
        config = {"models": [m if isinstance(m, str) else m.name for m in models], "n_jobs": n_jobs,
                  "exog": DEFAULT_EXOG}
        run = forecast_repo.create_run(session=session, cutoff=cutoff, horizon=horizon, frequency="D",
                                       config=config, code_version=code_version())
    report = RunReport(run.id, "draft", cutoff.isoformat(), horizon)
    try:
        _execute(engine, forecaster, report, cutoff=cutoff, horizon=horizon, progress=progress, publish=publish)
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
             progress: Progress | None, publish: bool) -> None:
    started, stages = time.perf_counter(), report.stage_seconds
    with session_scope(engine) as session:
        panel = signal_features(session=session, cutoff=cutoff, horizon=horizon)
    _tick(progress, "features", stages, started)
    frames = model_frames(panel, cutoff=cutoff)
    series = frames.series
    result = forecaster.forecast(frames.history, frames.future, h=horizon)
    _tick(progress, "models", stages, started)
    values = keyed(result.forecasts, series, "yhat", "lo80", "hi80", "lo95", "hi95", "model")
    with session_scope(engine) as session:
        forecast_repo.write_values(session=session, run_id=report.run_id, values=values)
        if result.contributions is not None and not result.contributions.is_empty():
            forecast_repo.write_contributions(session=session, run_id=report.run_id,
                                              contributions=keyed(result.contributions, series, "feature", "contribution"))
        forecast_repo.record_duration(session=session, run_id=report.run_id, seconds=time.perf_counter() - started)
        if publish:
            forecast_repo.publish_run(session=session, run_id=report.run_id)
            report.status = "published"
    _tick(progress, "write and publish", stages, started)
    report.series, report.rows = series.height, values.height
    report.models = dict(result.selection.group_by("model").len().sort("model").iter_rows())

"""What a forecast run is asked to do: one frozen `RunOptions`, its defaults resolved from the settings in one place.

The CLI (`demand forecast run`) and the scheduler's nightly job both build it with
`RunOptions.from_settings(settings, **overrides)`; `run_forecast` reads nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from forecast.models.base import ModelSpec
from forecast.models.distributed import Execution
from forecast.pipeline.shock import ShockRules
from forecast.settings import Settings

__all__ = ["RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    """The options of one run (`run_forecast` documents each); the defaults are those of a run without settings."""

    horizon: int = 28
    models: tuple[str | ModelSpec, ...] = ("auto",)
    cutoff: dt.date | None = None
    n_jobs: int = 1
    publish: bool = True
    from_backtest: int | str | None = None
    ensemble: str | None = None
    ensemble_size: int = 3
    by_class: Mapping[str, tuple[str, ...]] | None = None
    execution: Execution = "local"
    dask_address: str | None = None
    reselect_days: int = 0
    refit_days: int = 0
    reconcile: str | None = None
    cold_start: bool = False
    shock: ShockRules | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RunOptions:
        """The options of the `forecast_*` settings (horizon, models, n_jobs, reselect and refit days, reconcile,
        cold start, shock policy), with `overrides` on top; an override of None keeps the settings' value.
        `shock` may be a bool (True: `ShockRules.from_settings`) or the rules themselves."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"RunOptions has no option {sorted(unknown)}")
        given = {name: value for name, value in overrides.items() if value is not None}
        shock = given.pop("shock", settings.forecast_shock_policy)
        options = cls(horizon=settings.forecast_horizon, models=tuple(settings.forecast_models), n_jobs=settings.n_jobs,
                      reselect_days=settings.forecast_reselect_days, refit_days=settings.forecast_refit_days,
                      reconcile=settings.forecast_reconcile, cold_start=settings.forecast_cold_start,
                      shock=ShockRules.from_settings(settings) if shock is True else shock or None)
        return replace(options, **given)

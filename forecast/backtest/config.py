"""What a backtest runs: windows, step, horizon, models, signals, and how selection and ensembles are made.

The config is stored with the run as JSON; `demand backtest rerun` reads it back, so everything that
changes the numbers is here (and nothing that does not, like the number of worker processes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from forecast.errors import InvalidInputError

__all__ = ["DEFAULT_MODELS", "ENSEMBLE_METHODS", "SELECTION_METRICS", "SIGNAL_MODELS", "BacktestConfig", "window_cutoffs"]

DEFAULT_MODELS = ("SeasonalNaive", "AutoETS", "AutoTheta", "CrostonOptimized", "XGBoost")
SIGNAL_MODELS = frozenset({"XGBoost", "Prophet", "ARIMA", "AutoARIMA"})
"""Models that read the signal features (the others ignore them)."""
ENSEMBLE_METHODS = ("median", "inverse_error")
SELECTION_METRICS = ("rmsse", "mase", "mae", "wape")


@dataclass(frozen=True)
class BacktestConfig:
    """A rolling-origin backtest.

    Attributes:
        windows: number of forecast origins; the last window ends on the data cutoff.
        horizon: days forecast from each origin.
        step: days between origins (default: the horizon, so windows do not overlap).
        models: model names, each run on every series.
        compare_signals: also run each signal-reading model without the signals, as
            "<model> (no signals)", to show what the signals are worth.
        select: add "Selected" (the best model of each series) and "Ensemble" (its best
            `ensemble_size`) to every window after the first, chosen on the windows before it.
        selection_metric: what "best" means: the mean of this per-series metric over those windows.
        ensemble_size: members of the ensemble (all the models when there are fewer).
        ensemble_method: `median` of the members' forecasts and bounds, or `inverse_error` weights
            (1 / metric) on them.
    """

    windows: int = 3
    horizon: int = 28
    step: int | None = None
    models: tuple[str, ...] = DEFAULT_MODELS
    compare_signals: bool = False
    select: bool = True
    selection_metric: str = "rmsse"
    ensemble_size: int = 3
    ensemble_method: str = "inverse_error"
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes kept with the run (not used by the engine)."""

    def __post_init__(self) -> None:
        if not 1 <= self.windows <= 52:
            raise InvalidInputError(f"--windows must be between 1 and 52, got {self.windows}")
        if not 1 <= self.horizon <= 366:
            raise InvalidInputError(f"--horizon must be between 1 and 366 days, got {self.horizon}")
        if self.step is not None and not 1 <= self.step <= 366:
            raise InvalidInputError(f"--step must be between 1 and 366 days, got {self.step}")
        if not self.models:
            raise InvalidInputError("a backtest needs at least one model; give --models")
        if "auto" in self.models:
            raise InvalidInputError("a backtest compares named models; list them (the Selected and Ensemble rows "
                                    "show what choosing among them gives)")
        if len(set(self.models)) != len(self.models):
            raise InvalidInputError(f"--models lists a model twice: {list(self.models)}")
        if self.selection_metric not in SELECTION_METRICS:
            raise InvalidInputError(f"selection metric {self.selection_metric!r} is unknown; use one of "
                                    f"{', '.join(SELECTION_METRICS)}")
        if self.ensemble_method not in ENSEMBLE_METHODS:
            raise InvalidInputError(f"ensemble method {self.ensemble_method!r} is unknown; use one of "
                                    f"{', '.join(ENSEMBLE_METHODS)}")
        if self.ensemble_size < 1:
            raise InvalidInputError(f"--ensemble-size must be at least 1, got {self.ensemble_size}")

    @property
    def step_days(self) -> int:
        """Days between origins."""
        return self.step or self.horizon

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (models as a list)."""
        return {**asdict(self), "models": list(self.models)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BacktestConfig:
        """The config a stored run was made with."""
        return cls(**{**data, "models": tuple(data["models"])})


def window_cutoffs(config: BacktestConfig, data_cutoff: dt.date) -> list[dt.date]:
    """The forecast origins, oldest first: the last window's horizon ends on `data_cutoff`."""
    last = data_cutoff - dt.timedelta(days=config.horizon)
    return [last - dt.timedelta(days=config.step_days * k) for k in reversed(range(config.windows))]

"""The forecasting pipeline: the `Forecaster` entry point and the run from storage to publish."""

from __future__ import annotations

from forecast.pipeline.forecaster import Forecaster, ForecastResult, available_models

__all__ = ["ForecastResult", "Forecaster", "available_models"]

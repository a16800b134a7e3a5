"""The core of the demand forecasting service: settings, storage, ingest, models, the nightly run
(`pipeline`), backtests, scenarios and the `demand` CLI; this facade exports what scripts use most."""

from __future__ import annotations

from forecast.errors import DemandError, InvalidInputError, StorageError
from forecast.ingest import ColumnMapping, IngestReport, ingest_regions, ingest_sales, ingest_skus
from forecast.models.base import ModelSpec
from forecast.pipeline import Forecaster, ForecastResult
from forecast.settings import Settings, get_settings

__all__ = [
    "ColumnMapping",
    "DemandError",
    "ForecastResult",
    "Forecaster",
    "IngestReport",
    "InvalidInputError",
    "ModelSpec",
    "Settings",
    "StorageError",
    "get_settings",
    "ingest_regions",
    "ingest_sales",
    "ingest_skus",
]

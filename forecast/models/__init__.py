"""Model families behind one small interface (`ModelAdapter`); see `forecast.models.base`."""

from __future__ import annotations

from forecast.models.base import FORECAST_SCHEMA, LEVELS, BaseAdapter, ModelAdapter, ModelOutput, ModelSpec, finalise

__all__ = ["FORECAST_SCHEMA", "LEVELS", "BaseAdapter", "ModelAdapter", "ModelOutput", "ModelSpec", "finalise"]

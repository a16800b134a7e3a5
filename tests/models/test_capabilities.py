"""Declared capabilities: every family derives from `BaseAdapter` and says what it can do, so the
`Forecaster` asks instead of probing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from forecast.models.base import FORECAST_SCHEMA, BaseAdapter, ModelAdapter, ModelOutput, ModelSpec
from forecast.models.gradient import GradientBoostingAdapter
from forecast.models.prophet_adapter import ProphetAdapter
from forecast.models.statistical import StatisticalAdapter
from forecast.pipeline.forecaster import Forecaster


def test_every_family_declares_its_capabilities() -> None:
    adapters = Forecaster(["SeasonalNaive"]).adapters
    assert [type(a) for a in adapters] == [StatisticalAdapter, ProphetAdapter, GradientBoostingAdapter]
    assert all(isinstance(a, BaseAdapter) and isinstance(a, ModelAdapter) for a in adapters)
    declared = {a.family: (a.is_global, a.keeps_models, a.fits_missing_y, a.max_train, a.dask,
                           a.rows_for_intervals(h=28, freq="D")) for a in adapters}
    assert declared == {"statsforecast": (False, True, False, 730, None, None),
                        "prophet": (False, False, True, 1095, None, None),
                        "mlforecast": (True, True, False, 730, None, 91)}


class _Counting(BaseAdapter):
    family, models = "counting", ("Count",)

    def __init__(self) -> None:
        self.futures: list[pl.DataFrame | None] = []

    def forecast(self, history: pl.DataFrame, future: pl.DataFrame | None, *, h: int, freq: str,
                 specs: list[ModelSpec], point_only: bool = False, kept: Any | None = None) -> ModelOutput:
        self.futures.append(future)
        return ModelOutput(pl.DataFrame(schema=FORECAST_SCHEMA))


def test_the_defaults_are_a_family_without_capabilities_that_fits_once_per_variant() -> None:
    adapter = _Counting()
    assert isinstance(adapter, ModelAdapter)
    assert (adapter.is_global, adapter.keeps_models, adapter.fits_missing_y, adapter.max_train, adapter.dask) == (
        False, False, False, None, None)
    assert adapter.rows_for_intervals(h=7, freq="D") is None
    history = pl.DataFrame({"unique_id": ["a"], "ds": [dt.date(2024, 1, 1)], "y": [1.0]})
    with_event, without = pl.DataFrame({"event": [1.0]}), pl.DataFrame({"event": [0.0]})
    outputs = adapter.forecast_variants(history, {"with": with_event, "without": without}, h=1, freq="D",
                                        specs=[ModelSpec("Count")])
    assert list(outputs) == ["with", "without"] and adapter.futures == [with_event, without]


def test_a_family_must_implement_forecast() -> None:
    class Bare(BaseAdapter):
        family, models = "bare", ("Bare",)

    with pytest.raises(NotImplementedError, match="Bare does not implement forecast"):
        Bare().forecast(pl.DataFrame(), None, h=1, freq="D", specs=[])

"""AutoETS and AutoTheta fits kept per series and forwarded through newer days instead of refitted."""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import numpy as np
import polars as pl
import pytest
from statsforecast.models import AutoETS, AutoTheta

from forecast.models.base import ModelSpec
from forecast.models.statistical import StatisticalAdapter
from forecast.models.statistical_fits import StatFits, slim

START = dt.date(2024, 1, 1)
H = 7
DAYS = 200


def _panel(days: int = DAYS, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    frames = []
    for i, uid in enumerate(("a", "b", "c")):
        y = 30 + 5 * i + 8 * np.sin(2 * np.pi * t / 7) + 0.02 * t + rng.normal(0, 2, days)
        frames.append(pl.DataFrame({"unique_id": uid, "ds": pl.date_range(START, START + dt.timedelta(days=days - 1),
                                                                          eager=True), "y": y.clip(0)}))
    return pl.concat(frames)


def _first(history: pl.DataFrame, days: int) -> pl.DataFrame:
    return history.filter(pl.col("ds") < START + dt.timedelta(days=days))


def _y(history: pl.DataFrame, uid: str) -> np.ndarray:
    return history.filter(pl.col("unique_id") == uid).sort("ds")["y"].to_numpy()


@pytest.mark.parametrize("model", [AutoETS(season_length=7), AutoTheta(season_length=7)], ids=["AutoETS", "AutoTheta"])
def test_a_slimmed_fit_forwards_like_the_full_fit_and_pickles_smaller(model: AutoETS | AutoTheta) -> None:
    history = _panel()
    train, full = _y(_first(history, DAYS - 28), "a"), _y(history, "a")
    fitted = model.new().fit(y=train)
    expected = fitted.forward(y=full, h=H, level=[80, 95])
    small = slim(copy.deepcopy(fitted))
    got = small.forward(y=full, h=H, level=[80, 95])
    for key in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
        np.testing.assert_allclose(got[key], expected[key], err_msg=key)
    assert len(pickle.dumps(small)) < len(pickle.dumps(fitted)) / 2


def test_kept_fits_are_forwarded_through_the_new_days_not_refitted() -> None:
    history, specs = _panel(), [ModelSpec("AutoETS"), ModelSpec("AutoTheta")]
    adapter = StatisticalAdapter()
    first = adapter.forecast(_first(history, DAYS - 3), None, h=H, freq="D", specs=specs)
    assert isinstance(first.kept, StatFits) and set(first.kept.fits) == {(u, m) for u in "abc" for m in
                                                                         ("AutoETS", "AutoTheta")}
    fit = first.kept.fits[("b", "AutoETS")]
    assert (fit.start, fit.trained_through) == (START, START + dt.timedelta(days=DAYS - 4))

    later = adapter.forecast(history, None, h=H, freq="D", specs=specs, kept=first.kept)
    assert later.kept is None  # nothing was fitted
    rows = later.forecasts.filter((pl.col("unique_id") == "b") & (pl.col("model") == "AutoETS")).sort("ds")
    assert rows["ds"].to_list() == [START + dt.timedelta(days=DAYS + i) for i in range(H)]
    expected = fit.model.forward(y=_y(history, "b"), h=H, level=[80, 95])
    np.testing.assert_allclose(rows["yhat"].to_numpy(), np.clip(expected["mean"], 0, None))
    np.testing.assert_allclose(rows["hi95"].to_numpy(), expected["hi-95"])
    refit = adapter.forecast(history, None, h=H, freq="D", specs=specs).forecasts
    assert not refit.sort("unique_id", "model", "ds")["yhat"].equals(later.forecasts["yhat"])  # not a refit in disguise
    assert (refit["yhat"] - later.forecasts.sort("unique_id", "model", "ds")["yhat"]).abs().max() < 5


def test_a_fit_is_refitted_when_its_first_day_is_gone_or_its_parameters_changed() -> None:
    history, specs = _panel(), [ModelSpec("AutoETS")]
    adapter = StatisticalAdapter(max_train=150)
    kept = adapter.forecast(_first(history, DAYS - 3), None, h=H, freq="D", specs=specs).kept
    assert kept.fits[("a", "AutoETS")].start == START + dt.timedelta(days=DAYS - 3 - 150)
    trimmed = history.filter((pl.col("unique_id") != "c") | (pl.col("ds") > START + dt.timedelta(days=60)))
    out = adapter.forecast(trimmed, None, h=H, freq="D", specs=specs, kept=kept)
    assert set(out.kept.fits) == {("c", "AutoETS")}  # only the series that lost its fit's first day
    assert out.forecasts.group_by("unique_id").len()["len"].to_list() == [H] * 3

    trended = [ModelSpec("AutoETS", {"model": "AZZ"})]
    again = adapter.forecast(history, None, h=H, freq="D", specs=trended, kept=kept)
    assert len(again.kept) == 3 and again.kept.params == {"AutoETS": {"model": "AZZ"}}
    assert again.kept.merged(out.kept).fits.keys() == {("c", "AutoETS")}  # older parameters' fits are dropped


def test_merged_fits_prefer_the_newer_pair() -> None:
    history, specs = _panel(), [ModelSpec("AutoTheta")]
    adapter = StatisticalAdapter()
    old = adapter.forecast(_first(history, DAYS - 10), None, h=H, freq="D", specs=specs).kept
    new = adapter.forecast(_first(history, DAYS - 3).filter(pl.col("unique_id") == "a"), None, h=H, freq="D",
                           specs=specs).kept
    both = old.merged(new)
    assert both.fits[("a", "AutoTheta")] is new.fits[("a", "AutoTheta")]
    assert both.fits[("b", "AutoTheta")] is old.fits[("b", "AutoTheta")]
    assert set(both.only([("b", "AutoTheta")]).fits) == {("b", "AutoTheta")}

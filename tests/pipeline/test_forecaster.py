"""`Forecaster`'s `auto` selection: candidates by demand class, a point-only holdout, one final fit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from forecast.errors import InvalidInputError
from forecast.models.statistical import StatisticalAdapter
from forecast.pipeline.forecaster import Forecaster

BY_CLASS = {"smooth": ("AutoETS", "SeasonalNaive"), "erratic": ("AutoETS", "SeasonalNaive"),
            "intermittent": ("TSB",), "lumpy": ("TSB",), "zero": ("ZeroForecast",)}


def _panel() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    days = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 6, 29), eager=True)
    t = np.arange(days.len())
    series = {"smooth": 40 + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 2, t.size),
              "sparse": rng.poisson(0.15, t.size).astype(float)}
    return pl.concat(pl.DataFrame({"unique_id": uid, "ds": days, "y": y}) for uid, y in series.items())


def test_auto_picks_among_the_classes_candidates_and_scores_them_on_point_forecasts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, bool]] = []
    original = StatisticalAdapter.forecast

    def recorded(self, history, future, *, h, freq, specs, point_only=False, kept=None):  # noqa: ANN001, ANN202
        calls.extend((spec.name, point_only) for spec in specs)
        return original(self, history, future, h=h, freq=freq, specs=specs, point_only=point_only, kept=kept)

    monkeypatch.setattr(StatisticalAdapter, "forecast", recorded)
    result = Forecaster(["auto"], by_class=BY_CLASS, exog={"mlforecast": []}).forecast(_panel(), None, h=14)
    chosen = dict(result.selection.select("unique_id", "model").iter_rows())
    assert chosen["smooth"] in ("AutoETS", "SeasonalNaive", "XGBoost") and chosen["sparse"] in ("TSB", "XGBoost")
    assert result.forecasts.group_by("unique_id").len()["len"].to_list() == [14, 14]
    # every statistical candidate is scored on a point-only holdout; only the chosen ones are then
    # fitted on the whole history, with their bands
    assert sorted(name for name, point_only in calls if point_only) == ["AutoETS", "SeasonalNaive", "TSB"]
    assert sorted(name for name, point_only in calls if not point_only) == sorted(
        m for m in set(chosen.values()) if m != "XGBoost")


def test_the_chosen_fit_is_carried_from_the_holdout_through_its_last_days_unless_asked_to_refit() -> None:
    panel, h = _panel(), 14
    last = panel["ds"].max()
    forecaster = Forecaster(["AutoETS", "AutoTheta"])
    carried = forecaster.forecast(panel, None, h=h)
    refitted = forecaster.forecast(panel, None, h=h, refit=True)
    chosen = carried.selection.select("unique_id", "model").rows()
    assert chosen == refitted.selection.select("unique_id", "model").rows()  # same holdout, same choice
    fits = carried.kept["statsforecast"].fits
    assert set(fits) == set(chosen)  # the other candidate's holdout fit is not kept
    assert {f.trained_through for f in fits.values()} == {last - dt.timedelta(days=h)}
    assert {f.trained_through for f in refitted.kept["statsforecast"].fits.values()} == {last}
    for result in (carried, refitted):
        assert result.forecasts["ds"].min() == last + dt.timedelta(days=1)
    gap = (carried.forecasts["yhat"] - refitted.forecasts["yhat"]).abs()
    assert gap.max() > 0 and gap.mean() < 0.2 * refitted.forecasts["yhat"].mean()


def test_unknown_candidates_are_refused_up_front() -> None:
    with pytest.raises(InvalidInputError, match="unknown model.*NotAModel"):
        Forecaster(["auto"], by_class={**BY_CLASS, "smooth": ("NotAModel",)})


def test_a_series_too_short_for_xgboosts_bands_is_not_its_candidate_so_the_others_keep_their_bands(
        caplog: pytest.LogCaptureFixture) -> None:
    panel, h = _panel(), 28  # 181 days each; XGBoost's conformal bands need 2 x 28 + 35 = 91
    launched = panel.filter(pl.col("unique_id") == "smooth", pl.col("ds") > dt.date(2024, 4, 10)).with_columns(
        pl.lit("launched").alias("unique_id"))  # 80 days
    both = pl.concat([panel, launched])
    with caplog.at_level("INFO", logger="forecast.pipeline.forecaster"):
        result = Forecaster(["SeasonalNaive", "XGBoost"], exog={"mlforecast": []}).forecast(both, None, h=h)
    assert "1 series are too short for XGBoost's intervals (91 rows)" in caplog.text
    assert dict(result.selection.select("unique_id", "model").iter_rows())["launched"] == "SeasonalNaive"
    xgb = Forecaster(["XGBoost"], exog={"mlforecast": []})
    banded = xgb.forecast(panel, None, h=h).forecasts
    assert (banded["hi80"] > banded["lo80"]).any()
    bounded = Forecaster(["SeasonalNaive", "XGBoost"], exog={"mlforecast": []}, max_train=80).forecast(panel, None, h=h)
    assert set(bounded.selection["model"]) == {"SeasonalNaive"}  # 80 rows to train on are too few for any series
    alone = xgb.forecast(both, None, h=h)  # its only candidate: still forecast, without bands as before
    assert alone.selection["model"].to_list() == ["XGBoost"] * 3
    assert (alone.forecasts["hi80"] == alone.forecasts["yhat"]).all()


def test_the_holdout_passes_only_the_rows_the_families_fit_on_and_scores_as_with_every_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lengths: list[int] = []
    original = StatisticalAdapter.forecast

    def recorded(self, history, future, *, h, freq, specs, point_only=False, kept=None):  # noqa: ANN001, ANN202
        if point_only:
            lengths.extend(history.group_by("unique_id").len()["len"].to_list())
        return original(self, history, future, h=h, freq=freq, specs=specs, point_only=point_only, kept=kept)

    monkeypatch.setattr(StatisticalAdapter, "forecast", recorded)
    forecaster = Forecaster(["AutoETS", "SeasonalNaive"], max_train=60)
    panel, candidates = _panel(), pl.DataFrame({"unique_id": ["smooth"] * 2, "model": ["AutoETS", "SeasonalNaive"]})
    bounded, _ = forecaster._holdout_scores(panel, h=14, candidates=candidates)
    assert lengths and max(lengths) == 60  # of the 167 days before the holdout
    monkeypatch.setattr(Forecaster, "_rows_fitted", lambda self, candidates: None)
    every, _ = forecaster._holdout_scores(panel, h=14, candidates=candidates)
    assert max(lengths) == panel.height // 2 - 14 == 167
    assert bounded.sort("model").equals(every.sort("model"))


def test_holdout_maes_equal_up_to_rounding_are_a_tie_broken_by_model_name() -> None:
    from forecast.pipeline.forecaster import MAE_TIE, _choose

    candidates = pl.DataFrame({"unique_id": ["a", "a", "b", "b", "c"], "model": ["TSB", "AutoTheta", "TSB", "AutoETS",
                                                                                "XGBoost"]})
    scores = pl.DataFrame({"unique_id": ["a", "a", "b", "b"], "model": ["TSB", "AutoTheta", "TSB", "AutoETS"],
                           "holdout_mae": [2.0, 2.0 * (1 + MAE_TIE / 10), 2.0, 2.0 * (1 + MAE_TIE * 10)]})
    chosen = _choose(candidates, scores).sort("unique_id")
    # a: float32-sized gap, so the name decides (either engine's rounding gives the same choice); b: a real gap
    assert chosen.rows() == [("a", "AutoTheta", 2.0 * (1 + MAE_TIE / 10)), ("b", "TSB", 2.0), ("c", "XGBoost", None)]
    flipped = scores.with_columns(pl.col("holdout_mae").reverse().over("unique_id"))
    assert _choose(candidates, flipped).sort("unique_id")["model"].to_list() == ["AutoTheta", "AutoETS", "XGBoost"]

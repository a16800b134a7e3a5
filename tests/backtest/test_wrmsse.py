"""WRMSSE on a hierarchy small enough to check by hand (2 items x 2 stores, one state, category, department)."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from forecast.backtest.wrmsse import LEVELS, wrmsse

D = dt.date(2024, 1, 1)
HISTORY = {  # item, store: y on days 1..4 (price per unit)
    ("A", "S1"): ([0, 2, 4, 2], 1.0),
    ("A", "S2"): ([1, 2, 1, 2], 1.0),
    ("B", "S1"): ([0, 0, 3, 1], 2.0),
    ("B", "S2"): ([0, 0, 0, 0], 5.0),  # never sold: no scale, no revenue
}
HORIZON = {  # item, store: (actual, forecast) on days 5..6
    ("A", "S1"): ([2, 2], [3, 1]),
    ("A", "S2"): ([2, 2], [2, 2]),
    ("B", "S1"): ([1, 1], [3, 1]),
    ("B", "S2"): ([0, 0], [0, 1]),
}


def _frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    history = pl.DataFrame([(i, s, D + dt.timedelta(days=d), float(y), price)
                            for (i, s), (ys, price) in HISTORY.items() for d, y in enumerate(ys)],
                           schema=["item", "store", "ds", "y", "price"], orient="row")
    forecasts = pl.DataFrame([(i, s, D + dt.timedelta(days=4 + d), float(y), float(f))
                              for (i, s), (ys, fs) in HORIZON.items() for d, (y, f) in enumerate(zip(ys, fs))],
                             schema=["item", "store", "ds", "y", "m"], orient="row")
    hierarchy = pl.DataFrame({"item": ["A", "A", "B", "B"], "store": ["S1", "S2", "S1", "S2"], "state": ["X"] * 4,
                              "cat": ["C"] * 4, "dept": ["D"] * 4})
    return history, forecasts, hierarchy


def test_wrmsse_by_hand() -> None:
    history, forecasts, hierarchy = _frames()
    out = wrmsse(history, forecasts, hierarchy, models=["m"], weight_days=2)
    got = dict(zip(out["level"], out["value"], strict=True))
    # Revenue of the last 2 days: A,S1 (4+2)x1 = 6; A,S2 (1+2)x1 = 3; B,S1 (3+1)x2 = 8; B,S2 0 -> total 17.
    # Total: history 1,4,8,5 -> changes 3,4,-3 -> scale 34/3; actual 5,5 vs forecast 8,5 -> mse 9/2.
    total = math.sqrt(4.5 / (34 / 3))
    # Stores: S1 history 0,2,7,3 -> from day 2: changes 5,-4 -> scale 41/2; actual 3,3 vs 6,2 -> mse 5; revenue 14.
    #         S2 history 1,2,1,2 -> scale 1; actual 2,2 vs 2,3 -> mse 1/2; revenue 3.
    stores = 14 / 17 * math.sqrt(5 / 20.5) + 3 / 17 * math.sqrt(0.5)
    # Items: A history 1,4,5,4 -> scale 11/3; actual 4,4 vs 5,3 -> mse 1; revenue 9.
    #        B history 0,0,3,1 -> from day 3: change -2 -> scale 4; actual 1,1 vs 3,2 -> mse 5/2; revenue 8.
    items = 9 / 17 * math.sqrt(1 / (11 / 3)) + 8 / 17 * math.sqrt(2.5 / 4)
    # Item x store: A,S1 scale 4 (changes 2,-2), mse 1; A,S2 mse 0; B,S1 scale 4, mse 2; B,S2 has no scale.
    bottom = 6 / 17 * math.sqrt(1 / 4) + 3 / 17 * 0.0 + 8 / 17 * math.sqrt(2 / 4)
    expected = {
        "L1 total": total, "L2 state": total, "L3 store": stores, "L4 category": total, "L5 department": total,
        "L6 state x category": total, "L7 state x department": total, "L8 store x category": stores,
        "L9 store x department": stores, "L10 item": items, "L11 item x state": items, "L12 item x store": bottom,
    }  # fmt: skip
    assert set(got) == {*LEVELS, "WRMSSE"}
    for level, value in expected.items():
        assert got[level] == pytest.approx(value, rel=1e-12), level
    assert got["WRMSSE"] == pytest.approx(sum(expected.values()) / 12, rel=1e-12)
    assert got["WRMSSE"] == pytest.approx(0.59845, abs=5e-5)


def test_a_perfect_forecast_scores_zero_and_models_are_scored_apart() -> None:
    history, forecasts, hierarchy = _frames()
    forecasts = forecasts.with_columns(pl.col("y").alias("perfect"))
    out = wrmsse(history, forecasts, hierarchy, models=["m", "perfect"], weight_days=2)
    assert out.filter(pl.col("model") == "perfect")["value"].to_list() == [0.0] * 13
    assert out.filter(pl.col("model") == "m", pl.col("level") == "WRMSSE")["value"].item() > 0.5


def test_bad_inputs_are_named() -> None:
    history, forecasts, hierarchy = _frames()
    with pytest.raises(ValueError, match="hierarchy lacks column"):
        wrmsse(history, forecasts, hierarchy.drop("dept"), models=["m"])
    with pytest.raises(ValueError, match="forecasts lack model column"):
        wrmsse(history, forecasts, hierarchy, models=["nope"])
    with pytest.raises(ValueError, match="every bottom series of the hierarchy on every horizon day"):
        wrmsse(history, forecasts.head(7), hierarchy, models=["m"])
    with pytest.raises(ValueError, match="no hierarchy row"):
        wrmsse(history, forecasts, hierarchy.head(3), models=["m"])

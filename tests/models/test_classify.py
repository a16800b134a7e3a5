"""Syntetos–Boylan demand classification on hand-checkable series."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.models.classify import ADI_CUTOFF, CANDIDATES, CV2_CUTOFF, DEMAND_CLASSES, classify_demand
from forecast.models.statistical import StatisticalAdapter

START = dt.date(2024, 1, 1)


def _frame(series: dict[str, list[float]]) -> pl.DataFrame:
    return pl.concat([
        pl.DataFrame({"unique_id": uid, "ds": [START + dt.timedelta(days=i) for i in range(len(y))],
                      "y": [float(v) for v in y]})
        for uid, y in series.items()
    ])


def _by_id(out: pl.DataFrame) -> dict[str, dict]:
    return {row["unique_id"]: row for row in out.iter_rows(named=True)}


def test_hand_checked_intermittent_example() -> None:
    # From the first non-zero (index 2): 6 periods, 3 non-zero -> ADI 2.0.
    # Sizes 4, 2, 6: mean 4, sample sd 2 -> CV² (2/4)² = 0.25.
    out = _by_id(classify_demand(_frame({"a": [0, 0, 4, 0, 2, 0, 0, 6]})))
    assert out["a"]["adi"] == pytest.approx(2.0)
    assert out["a"]["cv2"] == pytest.approx(0.25)
    assert out["a"]["demand_class"] == "intermittent"


def test_the_four_quadrants_and_edge_cases() -> None:
    out = _by_id(classify_demand(_frame({
        "smooth": [5, 6, 5, 6, 5, 6, 5, 6],            # ADI 1, CV² small
        "erratic": [1, 10, 1, 10, 1, 10, 1, 10],       # ADI 1, sizes mean 5.5, sd 4.81 -> CV² 0.76
        "lumpy": [0, 1, 0, 0, 20, 0, 0, 1, 0, 30],     # ADI 9/4 = 2.25, CV² > 0.49
        "one": [0, 0, 0, 5, 0, 0],                     # one non-zero value
        "zero": [0, 0, 0, 0],
    })))
    assert {uid: row["demand_class"] for uid, row in out.items()} == {
        "smooth": "smooth", "erratic": "erratic", "lumpy": "lumpy", "one": "lumpy", "zero": "zero"}
    assert out["erratic"]["adi"] == pytest.approx(1.0)
    assert out["erratic"]["cv2"] == pytest.approx((np.std([1, 10] * 4, ddof=1) / 5.5) ** 2)
    assert out["lumpy"]["adi"] == pytest.approx(9 / 4)
    assert out["one"]["adi"] == pytest.approx(3.0) and out["one"]["cv2"] is None
    assert out["zero"]["adi"] is None and out["zero"]["cv2"] is None


def test_leading_zeros_do_not_count_and_order_of_rows_does_not_matter() -> None:
    frame = _frame({"late": [0] * 50 + [3, 4, 3, 4]})
    out = _by_id(classify_demand(frame.reverse()))
    assert out["late"]["adi"] == pytest.approx(1.0)
    assert out["late"]["demand_class"] == "smooth"


def test_output_schema_and_poisson_series() -> None:
    rng = np.random.default_rng(7)
    out = classify_demand(_frame({"p": rng.poisson(0.2, 400).tolist(), "s": (20 + rng.normal(0, 1, 400)).tolist()}))
    assert out.schema == pl.Schema({"unique_id": pl.String, "adi": pl.Float64, "cv2": pl.Float64,
                                    "demand_class": pl.String})
    classes = dict(out.select("unique_id", "demand_class").iter_rows())
    assert classes == {"p": "intermittent", "s": "smooth"}


def test_candidates_cover_every_class_with_known_models() -> None:
    assert set(CANDIDATES) == set(DEMAND_CLASSES)
    known = set(StatisticalAdapter.models)
    assert all(set(names) <= known for names in CANDIDATES.values())
    assert CANDIDATES["zero"] == ("ZeroForecast",)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=40))
def test_class_agrees_with_adi_and_cv2(values: list[int]) -> None:
    row = classify_demand(_frame({"x": values})).row(0, named=True)
    nonzero = [v for v in values if v > 0]
    if not nonzero:
        assert row["demand_class"] == "zero"
        return
    assert row["adi"] >= 1.0
    if len(nonzero) < 2:
        assert row["demand_class"] == "lumpy"
        return
    expected = {(False, False): "smooth", (False, True): "erratic", (True, False): "intermittent",
                (True, True): "lumpy"}[(row["adi"] >= ADI_CUTOFF, row["cv2"] >= CV2_CUTOFF)]
    assert row["demand_class"] == expected

"""`series_shape`: each series' shape at a cutoff and the regular panel built from it."""

from __future__ import annotations

import datetime as dt

import polars as pl

from forecast.series_shape import regular_panel, series_shapes, zero_spans

D = dt.date(2026, 1, 1)


def _day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def _rows(sku: str, days: list[int], batch: int, y: float = 2.0) -> pl.DataFrame:
    return pl.DataFrame({"sku": sku, "region": "R", "day": [_day(n) for n in days], "y": y, "batch_id": batch})


BATCHES = pl.DataFrame({"batch_id": [1, 2], "absent": ["unknown", "zero"], "first_day": [_day(0), _day(30)],
                        "last_day": [_day(29), _day(30)]})


def _shaped(rows: pl.DataFrame, inactive_after: int = 56) -> tuple[pl.DataFrame, pl.DataFrame]:
    shapes = series_shapes(rows, BATCHES, cutoff=_day(30), inactive_after=inactive_after)
    panel = regular_panel(rows.drop("batch_id"), shapes.filter(pl.col("status") != "inactive"),
                          zero_spans(rows, BATCHES), end=_day(33))
    return shapes, panel


def test_a_hole_in_an_unknown_batch_stays_unknown_and_a_day_missing_from_a_zero_batch_is_late() -> None:
    holed = pl.concat([_rows("A", [*range(0, 10), *range(15, 30)], 1), _rows("A", [30], 2)])
    late = _rows("B", list(range(0, 28)), 1)
    shapes, panel = _shaped(pl.concat([holed, late]))
    a, b = shapes.row(0, named=True), shapes.row(1, named=True)
    assert (a["status"], a["holes"], a["absent_days"], a["days_late"]) == ("live", 1, 5, 0)
    assert (b["status"], b["days_late"], b["reported_through"]) == ("late", 3, _day(27))
    unknown = panel.filter(pl.col("reported") & pl.col("y").is_null())
    assert unknown.get_column("day").to_list() == [_day(n) for n in range(10, 15)]
    days = panel.group_by("sku").agg(pl.col("day").min().alias("first"), pl.col("day").max().alias("last"),
                                     pl.len(), pl.col("reported").sum().alias("reported")).sort("sku")
    assert days.rows() == [("A", _day(0), _day(33), 34, 31), ("B", _day(0), _day(33), 34, 28)]


def test_inside_a_zero_batch_absent_days_are_no_sale_and_reach_the_end_of_the_batch() -> None:
    batches = BATCHES.with_columns(pl.lit("zero").alias("absent"))
    rows = _rows("A", [0, 5, 20], 1)
    shapes = series_shapes(rows, batches, cutoff=_day(30), inactive_after=56)
    assert shapes.select("reported_through", "days_late", "status").row(0) == (_day(29), 1, "late")
    panel = regular_panel(rows.drop("batch_id"), shapes, zero_spans(rows, batches), end=None)
    assert panel.height == 30 and panel["y"].null_count() == 0 and panel["y"].sum() == 6.0


def test_a_series_without_a_sale_for_inactive_after_days_is_inactive() -> None:
    rows = pl.concat([_rows("A", list(range(0, 31)), 1, y=0.0).with_columns(
        pl.when(pl.col("day") == _day(0)).then(1.0).otherwise(0.0).alias("y")), _rows("B", [30], 1)])
    shapes, panel = _shaped(rows.with_columns(pl.lit(1).alias("batch_id")), inactive_after=30)
    assert shapes.select("sku", "days_without_sale", "status").rows() == [("A", 30, "inactive"), ("B", 0, "live")]
    assert panel.get_column("sku").unique().to_list() == ["B"]


def test_a_fallback_reason_names_skus_and_regions_not_model_ids() -> None:
    from forecast.pipeline.series_report import named_ids

    series = pl.DataFrame({"unique_id": ["01", "02", "10"], "sku": ["A/1", "B", "C"], "region": ["R 1", "R2", "R3"]})
    message = "future lacks 40 horizon row(s) (unique_id x ds) for series 01, 02 and 10 more: extend it"
    assert named_ids(message, series) == ("future lacks 40 horizon row(s) (unique_id x ds) for series A/1 × R 1, "
                                          "B × R2 and 10 more: extend it")

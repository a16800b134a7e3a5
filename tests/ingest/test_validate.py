"""Row validation: every bad row is named with its reason; property tests over arbitrary input."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.errors import InvalidInputError
from forecast.ingest.readers import LINE_COLUMN
from forecast.ingest.validate import REASON_COLUMN, find_bad_sales_rows, parse_sales, validate_sales

FMT = "%Y-%m-%d"


def _frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={c: pl.String for c in rows[0]})
    return frame.with_row_index(LINE_COLUMN, offset=2).with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))


def _row(**overrides: str | None) -> dict[str, str | None]:
    return {"sku": "A", "region": "R", "day": "2024-01-01", "units": "3", "price": "1.5", "on_promo": "0"} | overrides


def _reasons(rows: list[dict[str, str | None]]) -> dict[int, str]:
    bad = find_bad_sales_rows(parse_sales(_frame(rows), FMT), FMT)
    return dict(zip(bad[LINE_COLUMN], bad[REASON_COLUMN], strict=True))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"day": "2024-02-30"}, "day '2024-02-30' is not a date in format %Y-%m-%d"),
        ({"day": "01/02/2024"}, "day '01/02/2024' is not a date"),
        ({"day": ""}, "day is empty"),
        ({"units": "-1"}, "units -1 is negative"),
        ({"units": "many"}, "units 'many' is not a number"),
        ({"units": "NaN"}, "units 'NaN' is not finite"),
        ({"units": "inf"}, "units 'inf' is not finite"),
        ({"units": None}, "units is empty"),
        ({"price": "-2"}, "price -2 is negative"),
        ({"price": "1,5"}, "price '1,5' is not a number"),
        ({"on_promo": "maybe"}, "on_promo 'maybe' is not 1/0, true/false or yes/no"),
        ({"sku": " "}, "sku is empty"),
        ({"region": "x" * 129}, "region is longer than 128 characters"),
        ({"sku": "A\x1f"}, "sku contains a control character"),  # U+001F joins sku and region in the pipeline
        ({"region": "R\tS"}, "region contains a control character"),
        ({"sku": "a\nb"}, "sku contains a control character"),
    ],
)
def test_each_bad_value_is_named(overrides: dict[str, str | None], reason: str) -> None:
    reasons = _reasons([_row(day="2024-01-02"), _row(**overrides)])
    assert list(reasons) == [3]
    assert reason in reasons[3]


def test_all_reasons_of_a_row_are_kept() -> None:
    assert _reasons([_row(), _row(units="-1", price="x", day="2024-01-02")])[3] == (
        "units -1 is negative; price 'x' is not a number"
    )


def test_duplicate_keys_quarantine_every_copy() -> None:
    reasons = _reasons([_row(), _row(day="2024-01-02"), _row(units="9")])
    assert reasons == {
        2: "duplicate key (sku, region, day): the same key is on lines 2, 4",
        4: "duplicate key (sku, region, day): the same key is on lines 2, 4",
    }


def test_empty_price_and_flags_are_accepted() -> None:
    good, rejected = validate_sales(_frame([_row(price=None, on_promo="yes"), _row(day="2024-01-02", on_promo="")]), FMT)
    assert rejected.height == 0
    assert good["price_parsed"].to_list() == [None, 1.5]
    assert good["on_promo_parsed"].to_list() == [True, False]


def test_no_valid_row_rejects_the_file_with_the_first_reason() -> None:
    with pytest.raises(InvalidInputError, match=r"none of the 2 rows is valid \(line 2: day '2024/01/01' is not a date"):
        validate_sales(_frame([_row(day="2024/01/01"), _row(day="2024/01/02")]), FMT)


def test_inconsistent_master_data_rejects_the_file() -> None:
    rows = [_row(category="food"), _row(day="2024-01-02", category="toys")]
    with pytest.raises(InvalidInputError, match=r"sku 'A' has 2 different category values \['food', 'toys'\]"):
        validate_sales(_frame(rows), FMT)
    with pytest.raises(InvalidInputError, match=r"region 'R' is its own region_parent"):
        validate_sales(_frame([_row(region_parent="R")]), FMT)


text_values = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["1", "0", "-3", "2.5", "1e3", "nan", "inf", ""]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "sku": st.sampled_from(["A", "B", "", None, "x;'--"]),
    "region": st.sampled_from(["R", "S"]),
    "day": st.one_of(st.dates().map(str), text_values),
    "units": text_values,
    "price": text_values,
}), min_size=1, max_size=25))
def test_every_row_is_either_loaded_clean_or_rejected_with_a_reason(rows: list[dict]) -> None:
    frame = _frame(rows)
    parsed = parse_sales(frame, FMT)
    rejected = find_bad_sales_rows(parsed, FMT)
    good = parsed.join(rejected.select(LINE_COLUMN), on=LINE_COLUMN, how="anti")
    # a partition of the input: nothing lost, nothing counted twice
    assert sorted(good[LINE_COLUMN].to_list() + rejected[LINE_COLUMN].to_list()) == frame[LINE_COLUMN].to_list()
    assert all(reason for reason in rejected[REASON_COLUMN])
    for row in good.iter_rows(named=True):
        assert row["sku"] and row["day_parsed"] is not None
        assert math.isfinite(row["units_parsed"]) and row["units_parsed"] >= 0
        assert row["price_parsed"] is None or (math.isfinite(row["price_parsed"]) and row["price_parsed"] >= 0)
    keys = good.select("sku", "region", "day_parsed")
    assert keys.is_unique().all()

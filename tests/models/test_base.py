"""`last_rows`: the bounded, sorted training frame, copied only when it has to be."""

from __future__ import annotations

import datetime as dt

import polars as pl

from forecast.models.base import is_sorted_by_series, last_rows

START = dt.date(2024, 1, 1)


def _frame(lengths: dict[str, int]) -> pl.DataFrame:
    """Series `id` with `n` consecutive days each, y = day number; in id, ds order."""
    return pl.DataFrame([{"unique_id": uid, "ds": START + dt.timedelta(days=i), "y": float(i)}
                         for uid, n in lengths.items() for i in range(n)])


def test_a_frame_in_order_with_nothing_to_drop_is_returned_as_it_is() -> None:
    frame = _frame({"0": 5, "1": 3})
    assert last_rows(frame, 5) is frame
    assert last_rows(frame, None) is frame


def test_longer_series_keep_their_last_rows_whatever_the_input_order() -> None:
    frame = _frame({"0": 6, "1": 2, "2": 4})
    expected = frame.group_by("unique_id", maintain_order=True).tail(3)
    assert last_rows(frame, 3).equals(expected)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    assert not is_sorted_by_series(shuffled)
    assert last_rows(shuffled, 3).equals(expected)
    assert last_rows(shuffled, None).equals(frame)
    assert last_rows(shuffled.lazy(), 3).equals(expected)  # a lazy selection is collected first


def test_order_means_text_order_of_ids_and_strictly_increasing_days() -> None:
    assert is_sorted_by_series(_frame({"08": 2, "09": 2, "10": 2}))
    assert not is_sorted_by_series(_frame({"8": 2, "9": 2, "10": 2}))  # "10" < "8" as text
    frame = _frame({"a": 3})
    assert not is_sorted_by_series(frame.reverse())
    assert not is_sorted_by_series(pl.concat([frame, frame.tail(1)]))  # a day twice
    assert is_sorted_by_series(frame.head(0)) and is_sorted_by_series(frame.head(1))

"""Calendars: public holidays, the real M5 calendar (events and SNAP days) and custom event files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.calendars import CUSTOM_COLUMNS, m5_calendar_events, parse_custom_events, public_holidays
from signals.errors import SignalError
from signals.frames import CALENDAR_SCHEMA, REJECTED_SCHEMA

UTC = dt.timezone.utc


def payload(*rows: dict[str, Any], columns: tuple[str, ...]) -> pl.DataFrame:
    """A frame as `signals.sources.read_payload` gives it: strings plus the line (header = 1)."""
    frame = pl.DataFrame({c: [r.get(c) for r in rows] for c in columns}, schema={c: pl.String for c in columns})
    return frame.with_columns(pl.Series("line", range(2, 2 + len(rows)), dtype=pl.Int64))


# --- public holidays -------------------------------------------------------------------------------------


def test_us_ca_2020_has_christmas_a_year_ahead() -> None:
    frame = public_holidays({"CA": "US-CA"}, [2020])
    assert frame.schema == pl.Schema(CALENDAR_SCHEMA)
    christmas = frame.filter(pl.col("day") == dt.date(2020, 12, 25))
    assert christmas.rows() == [("CA", dt.date(2020, 12, 25), "Christmas Day", "holiday",
                                 dt.datetime(2019, 12, 26, tzinfo=UTC))]
    assert "Cesar Chavez Day" in frame["name"].to_list()  # a California-only holiday
    assert frame["day"].dt.year().unique().to_list() == [2020]


def test_kr_2020_has_chuseok_in_english() -> None:
    frame = public_holidays({"SEOUL": "kr"}, range(2020, 2021))
    chuseok = frame.filter(pl.col("name").str.contains("Chuseok"))
    assert chuseok["day"].to_list() == [dt.date(2020, 9, 30), dt.date(2020, 10, 1), dt.date(2020, 10, 2)]
    assert chuseok["region"].unique().to_list() == ["SEOUL"]


def test_several_regions_and_years() -> None:
    frame = public_holidays({"BY": "DE-BY", "NRW": "DE-NW"}, [2021, 2022, 2021])
    assert frame.select(pl.col("day").dt.year().unique().sort()).to_series().to_list() == [2021, 2022]
    by = frame.filter(pl.col("region") == "BY")["name"].to_list()
    assert "Epiphany" in by  # Bavaria only
    assert "Epiphany" not in frame.filter(pl.col("region") == "NRW")["name"].to_list()


def test_no_years_gives_an_empty_frame() -> None:
    frame = public_holidays({"CA": "US-CA"}, [])
    assert frame.is_empty() and frame.schema == pl.Schema(CALENDAR_SCHEMA)


@pytest.mark.parametrize(("code", "message"), [
    ("XX", r"holidays code 'XX' of region 'r1' names no country the holidays package knows; "
           r"use an ISO 3166 code"),
    ("US-ZZ", r"holidays code 'US-ZZ' of region 'r1': US has no subdivision 'ZZ'; use one of AK, AL, .* or plain US"),
    ("KR-11", r"holidays code 'KR-11' of region 'r1': KR has no subdivision '11'; use plain KR"),
])
def test_unknown_codes_raise_with_the_fix(code: str, message: str) -> None:
    with pytest.raises(SignalError, match=message):
        public_holidays({"r1": code}, [2020])


# --- the real M5 calendar -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def m5_raw(shared_data: Path) -> pl.DataFrame:
    """../shared/data/m5_calendar.csv read as read_payload would (skips when absent, fails in CI)."""
    path = shared_data / "m5_calendar.csv"
    if not path.is_file():  # the folder is there but not the file
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{path} is missing in CI; the real-data tests may not skip there")
        pytest.skip(f"real M5 calendar {path} is absent")
    frame = pl.read_csv(path, infer_schema=False)
    return frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


@pytest.fixture(scope="module")
def m5_events(m5_raw: pl.DataFrame) -> pl.DataFrame:
    return m5_calendar_events(m5_raw, state_regions={"CA": "US-CA", "TX": "US-TX"})


def test_m5_superbowl_is_a_sporting_event_for_every_region(m5_events: pl.DataFrame) -> None:
    assert m5_events.schema == pl.Schema(CALENDAR_SCHEMA)
    superbowl = m5_events.filter(pl.col("day") == dt.date(2016, 2, 7), pl.col("name") == "SuperBowl")
    assert superbowl.rows() == [(None, dt.date(2016, 2, 7), "SuperBowl", "sporting",
                                 dt.datetime(2015, 2, 7, tzinfo=UTC))]


def test_m5_kinds_and_second_events(m5_raw: pl.DataFrame, m5_events: pl.DataFrame) -> None:
    events = m5_events.filter(pl.col("kind") != "snap")
    assert set(events["kind"]) == {"sporting", "cultural", "national", "religious"}
    assert events["region"].null_count() == events.height
    named = m5_raw.select(pl.concat_list(pl.col("event_name_1", "event_name_2")).explode()).to_series()
    assert events.height == named.filter(named != "NA").len()
    two = m5_events.filter(pl.col("day") == dt.date(2014, 4, 20))  # event_name_2 is read too
    assert two.select("name", "kind").rows() == [("Easter", "cultural"), ("OrthodoxEaster", "religious")]


def test_m5_snap_ca_has_ten_days_each_full_month(m5_events: pl.DataFrame) -> None:
    snap = m5_events.filter(pl.col("kind") == "snap")
    assert set(snap["region"]) == {"US-CA", "US-TX", "WI"}  # WI unmapped: keeps its state code
    per_month = (snap.filter(pl.col("region") == "US-CA", pl.col("day") >= dt.date(2011, 2, 1))
                 .group_by(pl.col("day").dt.month_start()).len())
    assert per_month.height > 60 and per_month["len"].unique().to_list() == [10]
    assert (snap["name"] == "SNAP").all()


def test_m5_calendar_read_with_types_gives_the_same(m5_raw: pl.DataFrame, m5_events: pl.DataFrame) -> None:
    typed = m5_raw.drop("line").with_columns(pl.col("date").str.to_date(), pl.col("^snap_.*$").cast(pl.Int64))
    assert m5_calendar_events(typed, state_regions={"CA": "US-CA", "TX": "US-TX"}).equals(m5_events)


M5_COLUMNS = ("date", "event_name_1", "event_type_1", "event_name_2", "event_type_2", "snap_CA")


def test_m5_small_file_na_and_empty_mean_none() -> None:
    raw = payload({"date": "2016-02-07", "event_name_1": "SuperBowl", "event_type_1": "Sporting",
                   "event_name_2": "NA", "event_type_2": "", "snap_CA": "0"},
                  {"date": "2016-02-08", "event_name_1": "", "event_type_1": "NA", "event_name_2": None,
                   "event_type_2": None, "snap_CA": "1"}, columns=M5_COLUMNS)
    frame = m5_calendar_events(raw, state_regions={})
    assert frame.select("region", "day", "name", "kind").rows() == [
        (None, dt.date(2016, 2, 7), "SuperBowl", "sporting"), ("CA", dt.date(2016, 2, 8), "SNAP", "snap")]


def test_m5_missing_columns_raise() -> None:
    with pytest.raises(SignalError, match=r"M5 calendar is missing column\(s\) event_name_1, event_type_1; "
                                          r"give the calendar.csv"):
        m5_calendar_events(payload({"date": "2016-02-07"}, columns=("date",)), state_regions={})


def test_m5_bad_date_raises_naming_the_line() -> None:
    raw = payload({"date": "2016-02-07", "event_name_1": "NA", "event_type_1": "NA"},
                  {"date": "07/02/2016", "event_name_1": "NA", "event_type_1": "NA"},
                  columns=("date", "event_name_1", "event_type_1"))
    with pytest.raises(SignalError, match=r"M5 calendar line 3: date '07/02/2016' is not YYYY-MM-DD \(1 bad row"):
        m5_calendar_events(raw, state_regions={})


# --- custom events -----------------------------------------------------------------------------------------------


def custom(*rows: dict[str, Any], columns: tuple[str, ...] = CUSTOM_COLUMNS,
           **kwargs: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    return parse_custom_events(payload(*rows, columns=columns), **kwargs)


def test_custom_events_defaults_and_known_at() -> None:
    events, rejected = custom({"region": "", "day": "2024-11-11", "name": "Singles Day", "kind": ""},
                              {"region": "R01", "day": "2024-06-18", "name": "618", "kind": "Cultural",
                               "announced_at": "2024-05-01T08:00:00+08:00"},
                              known_regions={"R01"})
    assert events.schema == pl.Schema(CALENDAR_SCHEMA) and rejected.schema == pl.Schema(REJECTED_SCHEMA)
    assert rejected.is_empty()
    assert events.rows() == [
        ("R01", dt.date(2024, 6, 18), "618", "cultural", dt.datetime(2024, 5, 1, tzinfo=UTC)),
        (None, dt.date(2024, 11, 11), "Singles Day", "custom", dt.datetime(2023, 11, 12, tzinfo=UTC)),
    ]


def test_custom_events_need_only_day_and_name() -> None:
    events, _ = custom({"day": "2024-01-01", "name": "x"}, columns=("day", "name"))
    assert events.select("region", "kind").row(0) == (None, "custom")


@pytest.mark.parametrize(("changes", "reason"), [
    ({"day": "2024-13-01"}, "day '2024-13-01' is not an ISO date; use YYYY-MM-DD like 2024-03-05"),
    ({"day": ""}, "day is empty; use an ISO date like 2024-03-05"),
    ({"name": " "}, "name is empty"),
    ({"region": "R99"}, "unknown region 'R99'"),
    ({"kind": "party"},
     "kind 'party' is not one of holiday, sporting, cultural, national, religious, snap, custom"),
    ({"announced_at": "soon"},
     "announced_at 'soon' is not an ISO date or time; use e.g. 2024-02-20 or 2024-02-20T09:00:00Z"),
    ({"region": "R99", "name": ""}, "unknown region 'R99'; name is empty"),
])
def test_custom_event_rejection_reasons(changes: dict[str, Any], reason: str) -> None:
    good = {"region": "all", "day": "2024-11-11", "name": "Singles Day", "kind": "custom"}
    events, rejected = custom(good, {**good, "day": "2024-11-12", **changes}, known_regions={"R01"})
    assert events.height == 1 and rejected.select("line", "reason").rows() == [(3, reason)]


def test_custom_duplicate_keeps_the_last_line() -> None:
    row = {"region": "R01", "day": "2024-11-11", "name": "Singles Day"}
    events, rejected = custom({**row, "kind": "custom"}, {**row, "kind": "cultural"})
    assert events["kind"].to_list() == ["cultural"]
    assert rejected["reason"].to_list() == ["duplicate of line 3 (same region, day and name); the later line wins"]


def test_custom_missing_columns_raise() -> None:
    with pytest.raises(SignalError, match=r"custom event file is missing column\(s\) day; it needs the header "
                                          r"region,day,name,kind,announced_at"):
        custom({"name": "x"}, columns=("region", "name"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), st.text(max_size=10), st.sampled_from(
    ["all", "R01", "2024-11-11", "Holiday", "x"])) for c in CUSTOM_COLUMNS}), max_size=5))
def test_every_custom_row_is_kept_or_rejected(rows: list[dict[str, Any]]) -> None:
    events, rejected = custom(*rows)
    assert events.height + rejected.height == len(rows)
    assert not rejected["reason"].str.contains("\n").any()

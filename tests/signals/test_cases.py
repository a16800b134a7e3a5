"""Case count normalisation: hand-made frames, a hypothesis property, and the real NYT and DS4C files."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.cases import CASE_PRESETS, CaseCountResult, CasePreset, case_preset, normalise_case_counts
from signals.errors import SignalError
from signals.frames import CASES_SCHEMA, CORRECTIONS_SCHEMA, REJECTED_SCHEMA, visible_at
from signals.sources import FileSource, SnapshotSource, read_payload

NYT = CASE_PRESETS["nyt"]
DAILY = CASE_PRESETS["daily"]
UTC = dt.timezone.utc
D = dt.date


def _raw(csv: str) -> pl.DataFrame:
    return read_payload(SnapshotSource(csv, format="csv").fetch())


def _nyt(csv_rows: str, **kwargs: object) -> CaseCountResult:
    options: dict[str, object] = {"region_map": {}, "population": {}, "lag_days": 0} | kwargs
    return normalise_case_counts(_raw("date,state,fips,cases,deaths\n" + csv_rows), preset=NYT, **options)  # type: ignore[arg-type]


def _check_schemas(result: CaseCountResult) -> None:
    assert dict(result.cases.schema) == CASES_SCHEMA
    assert dict(result.corrections.schema) == CORRECTIONS_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA


# --- cumulative series ----------------------------------------------------------------------------

def test_cumulative_series_become_daily_with_corrections(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signals.cases")
    result = _nyt("2020-03-01,Iowa,19,1,0\n2020-03-02,Iowa,19,3,0\n2020-03-03,Iowa,19,2,0\n2020-03-04,Iowa,19,5,0\n"
                  "2020-03-01,Ohio,39,4,0\n")
    _check_schemas(result)
    iowa = result.cases.filter(pl.col("source_region") == "Iowa")
    assert iowa["new_cases"].to_list() == [1.0, 2.0, 0.0, 3.0]
    assert iowa["cumulative"].to_list() == [1.0, 3.0, 2.0, 5.0]
    assert result.corrections.to_dicts() == [{"source_region": "Iowa", "region": None, "day": D(2020, 3, 3), "amount": -1.0}]
    assert iowa["new_cases"].sum() == 6.0  # last cumulative 5 minus the correction of -1
    assert iowa["new_cases"].sum() == iowa["cumulative"][-1] - result.corrections["amount"].sum()
    assert result.cases.filter(pl.col("source_region") == "Ohio")["new_cases"].to_list() == [4.0]
    assert any("Iowa went down by 1 on 2020-03-03" in r.getMessage() for r in caplog.records)


def test_a_missing_day_puts_the_gap_on_the_next_reported_day() -> None:
    result = _nyt("2020-03-01,Iowa,19,1,0\n2020-03-02,Iowa,19,3,0\n2020-03-05,Iowa,19,10,0\n")
    assert result.cases["day"].to_list() == [D(2020, 3, 1), D(2020, 3, 2), D(2020, 3, 5)]
    assert result.cases["new_cases"].to_list() == [1.0, 2.0, 7.0]


def test_rows_are_ordered_by_day_not_by_input() -> None:
    result = _nyt("2020-03-02,Iowa,19,3,0\n2020-03-01,Iowa,19,1,0\n")
    assert result.cases["new_cases"].to_list() == [1.0, 2.0]
    assert result.corrections.is_empty()


def test_duplicate_region_day_keeps_the_last_row_by_line() -> None:
    result = _nyt("2020-03-01,Iowa,19,1,0\n2020-03-02,Iowa,19,3,0\n2020-03-02,Iowa,19,4,0\n2020-03-02,Iowa,19,oops,0\n")
    assert result.cases["cumulative"].to_list() == [1.0, 4.0]  # line 4 wins; line 5 is invalid, so it cannot win
    assert result.rejected.select("line", "reason").to_dicts() == [
        {"line": 3, "reason": "superseded by line 4 (same region and day; the last row wins)"},
        {"line": 5, "reason": "non-numeric count 'oops' in column 'cases'"},
    ]


def test_an_invalid_row_inside_a_cumulative_series_is_spanned() -> None:
    result = _nyt("2020-03-01,Iowa,19,1,0\n2020-03-02,Iowa,19,-3,0\n2020-03-03,Iowa,19,6,0\n")
    assert result.cases["new_cases"].to_list() == [1.0, 5.0]
    assert result.rejected["line"].to_list() == [3]


# --- row-level rejection --------------------------------------------------------------------------

@pytest.mark.parametrize(("row", "reason"), [
    ("2020-03-01,,19,1,0", "empty region in column 'state'"),
    ("2020-03-01,  ,19,1,0", "empty region in column 'state'"),
    ("03/01/2020,Ohio,39,1,0", "unparseable date '03/01/2020' in column 'date' (expected %Y-%m-%d)"),
    ("2020-02-30,Ohio,39,1,0", "unparseable date '2020-02-30' in column 'date' (expected %Y-%m-%d)"),
    (",Ohio,39,1,0", "unparseable date '' in column 'date' (expected %Y-%m-%d)"),
    ("2020-03-01,Ohio,39,,0", "missing count in column 'cases'"),
    ("2020-03-01,Ohio,39,1 234,0", "non-numeric count '1 234' in column 'cases'"),
    ("2020-03-01,Ohio,39,NaN,0", "NaN count in column 'cases'"),
    ("2020-03-01,Ohio,39,inf,0", "infinite count 'inf' in column 'cases'"),
    ("2020-03-01,Ohio,39,-2,0", "negative count -2 in column 'cases'"),
    ('2020-03-01,Ohio,39,"12\n3",0', "non-numeric count '12\\n3' in column 'cases'"),
])
def test_bad_rows_are_rejected_with_a_reason_and_the_rest_continue(row: str, reason: str) -> None:
    result = _nyt(f"2020-03-01,Iowa,19,1,0\n{row}\n2020-03-02,Iowa,19,2,0\n")
    _check_schemas(result)
    assert result.cases["new_cases"].to_list() == [1.0, 1.0]
    assert result.rejected["line"].to_list() == [3]
    assert result.rejected["reason"].to_list() == [reason]
    fields = json.loads(result.rejected["raw"][0])
    assert list(fields) == ["date", "state", "fips", "cases", "deaths"]


def test_long_values_are_shortened_in_reasons() -> None:
    result = _nyt(f"2020-03-01,Ohio,39,{'x' * 100},0\n")
    assert result.rejected["reason"][0] == f"non-numeric count '{'x' * 37}...' in column 'cases'"


# --- mapping, population, known_at ----------------------------------------------------------------

def test_regions_are_mapped_and_unmapped_ones_kept() -> None:
    result = _nyt("2020-03-01,California,06,100,0\n2020-03-01,Texas,48,50,0\n2020-03-01,Guam,66,2,0\n"
                  "2020-03-01,Alaska,02,1,0\n",
                  region_map={"California": "CA", "Texas": "TX"}, population={"CA": 40_000_000, "NV": 3_000_000})
    rows = {r["source_region"]: r for r in result.cases.to_dicts()}
    assert rows["California"]["region"] == "CA"
    assert rows["California"]["new_cases_per_100k"] == pytest.approx(0.25)
    assert rows["Texas"]["region"] == "TX" and rows["Texas"]["new_cases_per_100k"] is None  # no population for TX
    assert rows["Guam"]["region"] is None and rows["Guam"]["new_cases"] == 2.0
    assert result.unmapped == ["Alaska", "Guam"]


def test_known_at_is_day_plus_lag_and_visible_accordingly() -> None:
    result = _nyt("2020-03-01,Iowa,19,1,0\n2020-03-02,Iowa,19,3,0\n", lag_days=2)
    assert result.cases["known_at"].to_list() == [dt.datetime(2020, 3, 3, tzinfo=UTC), dt.datetime(2020, 3, 4, tzinfo=UTC)]
    assert visible_at(result.cases, D(2020, 3, 2)).is_empty()
    assert visible_at(result.cases, D(2020, 3, 3))["day"].to_list() == [D(2020, 3, 1)]


def test_daily_source_with_reported_at() -> None:
    csv = ("region,day,new_cases,reported_at\n"
           "R01,2023-01-01,2,2023-01-02\n"
           "R01,2023-01-02,0,2023-01-03T10:30:00\n"
           "R01,2023-01-03,5,2023-01-04 08:00:00+08:00\n"
           "R01,2023-01-04,1,2023-01-05T00:00:00Z\n"
           "R01,2023-01-05,4,\n"
           "R01,2023-01-06,4,soon\n"
           "R01,2023-01-07,4,2023-01-06\n")
    result = normalise_case_counts(_raw(csv), preset=DAILY, region_map={"R01": "R01"}, population={"R01": 200_000}, lag_days=3)
    _check_schemas(result)
    assert result.cases["new_cases"].to_list() == [2.0, 0.0, 5.0, 1.0, 4.0]
    assert result.cases["cumulative"].null_count() == 5 and result.corrections.is_empty()
    assert result.cases["new_cases_per_100k"].to_list() == [1.0, 0.0, 2.5, 0.5, 2.0]
    assert result.cases["known_at"].to_list() == [
        dt.datetime(2023, 1, 2, tzinfo=UTC), dt.datetime(2023, 1, 3, 10, 30, tzinfo=UTC),
        dt.datetime(2023, 1, 4, 0, tzinfo=UTC), dt.datetime(2023, 1, 5, tzinfo=UTC),
        dt.datetime(2023, 1, 8, tzinfo=UTC),  # empty reported_at: day + lag
    ]
    assert result.rejected["reason"].to_list() == [
        "unparseable reported_at 'soon' (expected a date or datetime)",
        "reported_at '2023-01-06' is before the day it reports",
    ]


def test_a_custom_date_format_and_a_frame_without_line() -> None:
    preset = CasePreset("area", "when", "n", cumulative=False, date_format="%d/%m/%Y")
    raw = pl.DataFrame({"area": ["X", "X"], "when": ["31/01/2021", "2021-02-01"], "n": [3, 4]})
    result = normalise_case_counts(raw, preset=preset, region_map={"X": "x"}, population={}, lag_days=0)
    assert result.cases["day"].to_list() == [D(2021, 1, 31)]
    assert result.rejected.to_dicts() == [{"line": 3, "raw": '{"area":"X","when":"2021-02-01","n":"4"}',
                                          "reason": "unparseable date '2021-02-01' in column 'when' (expected %d/%m/%Y)"}]


def test_an_empty_source_gives_empty_frames() -> None:
    result = _nyt("")
    _check_schemas(result)
    assert result.cases.is_empty() and result.corrections.is_empty() and result.rejected.is_empty()
    assert result.unmapped == []


# --- whole-input errors ---------------------------------------------------------------------------

def test_missing_preset_columns_are_named() -> None:
    raw = _raw("date,province,confirmed\n2020-03-01,Seoul,1\n")
    with pytest.raises(SignalError, match=r"^case counts lack column\(s\) state, cases \(the preset needs state, date, cases\); "
                                          r"found: date, province, confirmed; choose the preset matching the source"):
        normalise_case_counts(raw, preset=NYT, region_map={}, population={}, lag_days=0)


def test_negative_lag_and_bad_population_are_refused() -> None:
    raw = _raw("region,day,new_cases\nR01,2023-01-01,1\n")
    with pytest.raises(SignalError, match=r"^lag_days must be >= 0, got -1; pass the days between"):
        normalise_case_counts(raw, preset=DAILY, region_map={}, population={}, lag_days=-1)
    with pytest.raises(SignalError, match=r"^population must be a positive number, but is not for region\(s\) R01, R02; fix"):
        normalise_case_counts(raw, preset=DAILY, region_map={}, population={"R01": 0, "R02": -5, "R03": 10}, lag_days=0)


def test_case_preset_by_name() -> None:
    assert case_preset("kr_ds4c") == CasePreset("province", "date", "confirmed", True)
    with pytest.raises(SignalError, match=r"^unknown case count preset 'jhu'; use one of daily, kr_ds4c, nyt$"):
        case_preset("jhu")


# --- property -------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40), st.data())
def test_daily_is_non_negative_and_sums_to_last_minus_corrections(cumulative: list[int], data: st.DataObject) -> None:
    offsets = sorted(data.draw(st.sets(st.integers(0, 120), min_size=len(cumulative), max_size=len(cumulative))))
    days = [D(2020, 1, 1) + dt.timedelta(days=o) for o in offsets]  # possibly with gaps
    raw = pl.DataFrame({"region": ["A"] * len(days), "day": [d.isoformat() for d in days], "total": [str(c) for c in cumulative]})
    result = normalise_case_counts(raw, preset=CasePreset("region", "day", "total", True), region_map={}, population={},
                                   lag_days=0)
    new_cases = result.cases["new_cases"]
    assert result.rejected.is_empty() and new_cases.len() == len(cumulative)
    assert (new_cases >= 0).all()
    assert (result.corrections["amount"] < 0).all()
    assert new_cases.sum() == cumulative[-1] - result.corrections["amount"].sum()


# --- real data ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nyt_raw(shared_data: Path) -> pl.DataFrame:
    return read_payload(FileSource(shared_data / "nyt_covid_us_states_cumulative.csv").fetch())


@pytest.fixture(scope="module")
def nyt_result(nyt_raw: pl.DataFrame) -> CaseCountResult:
    return normalise_case_counts(nyt_raw, preset=NYT, region_map={"California": "CA", "Texas": "TX", "Wisconsin": "WI"},
                                 population={"CA": 39_538_223, "TX": 29_145_505, "WI": 5_893_718}, lag_days=1)


def _independent_totals(path: Path, state: str) -> tuple[int, int, int]:
    """Last cumulative, sum of the drops and number of drop days, from the raw CSV without the code under test."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    series = sorted((r[0], int(r[3])) for r in rows if r[1] == state)
    drops = [b[1] - a[1] for a, b in zip(series, series[1:]) if b[1] < a[1]]
    return series[-1][1], sum(drops), len(drops)


@pytest.mark.parametrize("state", ["Iowa", "Missouri"])
def test_nyt_state_totals_match_the_raw_file(state: str, nyt_result: CaseCountResult, shared_data: Path) -> None:
    last, drops, drop_days = _independent_totals(shared_data / "nyt_covid_us_states_cumulative.csv", state)
    cases = nyt_result.cases.filter(pl.col("source_region") == state)
    corrections = nyt_result.corrections.filter(pl.col("source_region") == state)
    assert cases["new_cases"].sum() == last - corrections["amount"].sum()
    assert (corrections["amount"].sum(), corrections.height) == (drops, drop_days)
    assert (cases["new_cases"] >= 0).all()
    assert cases["cumulative"][-1] == last


def test_nyt_iowa_and_missouri_figures(nyt_result: CaseCountResult) -> None:
    iowa = nyt_result.cases.filter(pl.col("source_region") == "Iowa")
    assert iowa["cumulative"][-1] == 907_421 and iowa["new_cases"].sum() == 907_421
    missouri = nyt_result.corrections.filter(pl.col("source_region") == "Missouri")
    assert (missouri.height, missouri["amount"].sum()) == (14, -13_972)


def test_nyt_mapping_keeps_everything(nyt_result: CaseCountResult, nyt_raw: pl.DataFrame) -> None:
    _check_schemas(nyt_result)
    assert nyt_result.rejected.is_empty()
    assert nyt_result.cases.height == nyt_raw.height == 61_942
    mapped = nyt_result.cases.filter(pl.col("region").is_not_null())
    assert sorted(mapped["source_region"].unique()) == ["California", "Texas", "Wisconsin"]
    assert dict(mapped.select("source_region", "region").unique().iter_rows()) == {"California": "CA", "Texas": "TX", "Wisconsin": "WI"}
    assert mapped["new_cases_per_100k"].null_count() == 0
    all_states = sorted(nyt_raw["state"].unique())
    assert nyt_result.unmapped == [s for s in all_states if s not in ("California", "Texas", "Wisconsin")]
    assert len(nyt_result.unmapped) == 53
    unmapped_rows = nyt_result.cases.filter(pl.col("region").is_null())
    assert unmapped_rows["new_cases_per_100k"].null_count() == unmapped_rows.height


def test_kr_ds4c_provinces_parse(shared_data: Path) -> None:
    raw = read_payload(FileSource(shared_data / "kr_ds4c_covid_time_province_cumulative.csv").fetch())
    result = normalise_case_counts(raw, preset=CASE_PRESETS["kr_ds4c"], region_map={"Seoul": "KR-11"},
                                   population={"KR-11": 9_720_846}, lag_days=1)
    _check_schemas(result)
    assert result.rejected.is_empty()
    assert result.cases["source_region"].n_unique() == 17
    assert result.cases.height == raw.height
    assert (result.cases["new_cases"] >= 0).all()
    totals = result.cases.group_by("source_region").agg(pl.col("new_cases").sum(), pl.col("cumulative").last())
    corrections = result.corrections.group_by("source_region").agg(pl.col("amount").sum())
    check = totals.join(corrections, on="source_region", how="left").with_columns(pl.col("amount").fill_null(0.0))
    assert (check["new_cases"] == check["cumulative"] - check["amount"]).all()
    assert len(result.unmapped) == 16 and "Seoul" not in result.unmapped

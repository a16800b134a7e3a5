"""Livestream schedules: parsing, every rejection reason, time zones, versions and cancellations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.errors import SignalError
from signals.frames import LIVESTREAM_SCHEMA, REJECTED_SCHEMA
from signals.livestreams import COLUMNS, events_as_of, parse_livestreams

UTC = dt.timezone.utc
SKUS = {"A1", "B2", "C3"}
CATEGORIES = {"beauty", "snacks"}
REGIONS = {"R01", "R02"}

BASE = {
    "event_id": "LS-1", "host": "Mia", "platform": "Douyin", "start": "2024-03-05T19:00:00+08:00",
    "end": "2024-03-05T21:00:00+08:00", "skus": "A1;B2", "category": "beauty", "regions": "R01;R02",
    "expected_viewers": "120000", "discount": "0.15", "status": "scheduled",
    "announced_at": "2024-02-20T10:00:00+08:00",
}


def payload(*rows: dict[str, Any], columns: tuple[str, ...] = COLUMNS) -> pl.DataFrame:
    """A frame as `signals.sources.read_payload` gives it: strings plus the line (header = 1)."""
    data = {c: [r.get(c) for r in rows] for c in columns}
    frame = pl.DataFrame(data, schema={c: pl.String for c in columns})
    return frame.with_columns(pl.Series("line", range(2, 2 + len(rows)), dtype=pl.Int64))


def row(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def parse(*rows: dict[str, Any], **kwargs: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    kwargs = {"known_skus": SKUS, "known_categories": CATEGORIES, "known_regions": REGIONS, **kwargs}
    return parse_livestreams(payload(*rows), **kwargs)


def reason_of(**changes: Any) -> str:
    events, rejected = parse(row(**changes))
    assert events.is_empty() and rejected.height == 1
    return rejected["reason"][0]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


# --- a good event -----------------------------------------------------------------------------------


def test_good_event_follows_the_frame_contract() -> None:
    events, rejected = parse(row())
    assert events.schema == pl.Schema(LIVESTREAM_SCHEMA)
    assert rejected.schema == pl.Schema(REJECTED_SCHEMA) and rejected.is_empty()
    assert events.to_dicts() == [{
        "event_id": "LS-1", "host": "Mia", "platform": "Douyin",
        "start_at": utc("2024-03-05T11:00:00Z"), "end_at": utc("2024-03-05T13:00:00Z"),
        "utc_offset": "+08:00", "local_day": dt.date(2024, 3, 5), "skus": ["A1", "B2"],
        "category": "beauty", "regions": ["R01", "R02"], "expected_viewers": 120000, "discount": 0.15,
        "status": "scheduled", "announced_at": utc("2024-02-20T02:00:00Z"),
        "known_at": utc("2024-02-20T02:00:00Z"),
    }]


def test_local_day_is_the_day_in_the_schedules_own_offset() -> None:
    events, _ = parse(row(start="2024-03-05T23:30-05:00", end="2024-03-06T01:00-05:00",
                          announced_at="2024-03-01T00:00Z"))
    assert events["local_day"][0] == dt.date(2024, 3, 5)
    assert events["start_at"][0] == dt.datetime(2024, 3, 6, 4, 30, tzinfo=UTC)
    assert events["utc_offset"][0] == "-05:00"


def test_z_offset_is_kept_as_written() -> None:
    events, _ = parse(row(start="2024-03-05T19:00:00Z", end="2024-03-05T20:00:00Z"))
    assert events["utc_offset"][0] == "Z" and events["local_day"][0] == dt.date(2024, 3, 5)


def test_optional_columns_may_be_absent_and_get_defaults() -> None:
    columns = ("event_id", "host", "start", "end", "skus", "announced_at")
    events, rejected = parse_livestreams(payload(row(), columns=columns), known_skus=SKUS)
    assert rejected.is_empty()
    got = events.select("platform", "category", "regions", "expected_viewers", "discount", "status").row(0)
    assert got == (None, None, None, 0, 0.0, "scheduled")


@pytest.mark.parametrize("regions", ["", "all", "ALL", None])
def test_regions_empty_or_all_mean_every_region(regions: str | None) -> None:
    events, _ = parse(row(regions=regions))
    assert events["regions"][0] is None


def test_percent_discount_status_case_and_whole_category() -> None:
    events, rejected = parse(row(discount="15%", status="Done", skus="", category="snacks"))
    assert rejected.is_empty()
    assert events.select("discount", "status", "skus", "category").row(0) == (0.15, "done", [], "snacks")


def test_json_style_lists_and_numbers_parse_like_csv() -> None:
    as_json = row(skus='["A1", "B2"]', regions='["R01", "R02"]', expected_viewers="120000.0",
                  discount="0.15", platform=None)
    from_json, rejected = parse(as_json)
    from_csv, _ = parse(row(platform=None))
    assert rejected.is_empty()
    assert from_json.equals(from_csv)


def test_json_empty_sku_list_with_category_is_a_whole_category() -> None:
    events, rejected = parse(row(skus="[]", category="snacks"))
    assert rejected.is_empty() and events["skus"].to_list() == [[]]


# --- every rejection reason ---------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "reason"), [
    ({"end": "2024-03-05T18:00:00+08:00"},
     "ends before it starts (end 2024-03-05T18:00:00+08:00 is not after start 2024-03-05T19:00:00+08:00)"),
    ({"end": "2024-03-05T19:00:00+08:00"},
     "ends before it starts (end 2024-03-05T19:00:00+08:00 is not after start 2024-03-05T19:00:00+08:00)"),
    ({"skus": "A1;X9;Y"}, "unknown SKU(s) 'X9', 'Y'"),
    ({"skus": "A1;S1;S2;S3;S4;S5;S6"}, "unknown SKU(s) 'S1', 'S2', 'S3', 'S4', 'S5' (+1 more)"),
    ({"category": "toys"}, "unknown category 'toys'"),
    ({"skus": "", "category": ""}, "neither skus nor category given; list the featured SKUs or name a category"),
    ({"skus": '["A1"'}, "skus '[\"A1\"' is neither a ;-separated list nor a JSON list of ids"),
    ({"regions": "R01;R99"}, "unknown region(s) 'R99'"),
    ({"start": "2024-03-05T19:00"}, "start '2024-03-05T19:00' has no time zone; add an offset like +08:00 or Z"),
    ({"end": "2024-03-05"}, "end '2024-03-05' has no time zone; add an offset like +08:00 or Z"),
    ({"start": "tonight"}, "start 'tonight' is not an ISO 8601 time; use e.g. 2024-03-05T19:00:00+08:00"),
    ({"start": ""}, "start is empty; give an ISO 8601 time with offset like 2024-03-05T19:00:00+08:00"),
    ({"announced_at": None},
     "announced_at is empty; give an ISO 8601 time with offset like 2024-03-05T19:00:00+08:00"),
    ({"expected_viewers": "-5"}, "expected_viewers '-5' is not a non-negative integer"),
    ({"expected_viewers": "lots"}, "expected_viewers 'lots' is not a non-negative integer"),
    ({"expected_viewers": "1.5"}, "expected_viewers '1.5' is not a non-negative integer"),
    ({"discount": "150%"}, "discount '150%' is not between 0 and 1; write e.g. 0.15 or 15%"),
    ({"discount": "15"}, "discount '15' is not between 0 and 1; write e.g. 0.15 or 15%"),
    ({"discount": "nan"}, "discount 'nan' is not between 0 and 1; write e.g. 0.15 or 15%"),
    ({"status": "postponed"}, "status 'postponed' is not one of scheduled, cancelled, done"),
    ({"event_id": " "}, "event_id is empty"),
    ({"host": ""}, "host is empty"),
    ({"announced_at": "2024-03-05T19:30:00+08:00"},
     "announced_at 2024-03-05T19:30:00+08:00 is after start 2024-03-05T19:00:00+08:00; "
     "a scheduled event must be announced before it starts"),
])
def test_each_rejection_reason(changes: dict[str, Any], reason: str) -> None:
    assert reason_of(**changes) == reason


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_announcing_after_the_start_is_fine_when_done_or_cancelled(status: str) -> None:
    events, rejected = parse(row(status=status, announced_at="2024-03-06T00:00:00+08:00"))
    assert rejected.is_empty() and events["status"][0] == status


def test_reasons_are_joined_and_good_rows_kept() -> None:
    bad = row(event_id="LS-2", host="", skus="X9", discount="2")
    events, rejected = parse(row(), bad, row(event_id="LS-3"))
    assert events["event_id"].to_list() == ["LS-1", "LS-3"]
    assert rejected.to_dicts() == [{
        "line": 3, "raw": json.dumps(bad),
        "reason": "host is empty; unknown SKU(s) 'X9'; discount '2' is not between 0 and 1; write e.g. 0.15 or 15%",
    }]


def test_unknown_categories_and_regions_pass_without_reference_lists() -> None:
    events, rejected = parse_livestreams(payload(row(category="toys", regions="R99")), known_skus=SKUS)
    assert rejected.is_empty() and events["regions"].to_list() == [["R99"]]


def test_missing_required_columns_raise_naming_them() -> None:
    raw = payload(row(), columns=("event_id", "start", "skus"))
    with pytest.raises(SignalError, match=r"missing column\(s\) host, end, announced_at; .*needs the header "
                                          r"event_id,host,platform,start,end"):
        parse_livestreams(raw, known_skus=SKUS)


def test_header_only_gives_empty_frames_with_the_contract() -> None:
    events, rejected = parse_livestreams(payload(), known_skus=SKUS)
    assert events.is_empty() and events.schema == pl.Schema(LIVESTREAM_SCHEMA)
    assert rejected.is_empty() and rejected.schema == pl.Schema(REJECTED_SCHEMA)


# --- versions --------------------------------------------------------------------------------------------


def test_identical_event_and_announcement_keeps_the_last_line() -> None:
    events, rejected = parse(row(expected_viewers="100"), row(expected_viewers="200"))
    assert events["expected_viewers"].to_list() == [200]
    assert rejected.select("line", "reason").rows() == [
        (2, "duplicate of line 3 (same event_id and announced_at); the later line wins")]


def test_the_same_instant_in_another_offset_is_a_duplicate() -> None:
    events, rejected = parse(row(announced_at="2024-02-20T02:00:00Z"), row(expected_viewers="7"))
    assert events["expected_viewers"].to_list() == [7] and rejected["line"].to_list() == [2]


def versions() -> pl.DataFrame:
    original = row(announced_at="2024-02-20T10:00:00+08:00")
    moved = row(start="2024-03-06T20:00:00+08:00", end="2024-03-06T22:00:00+08:00",
                announced_at="2024-03-01T10:00:00+08:00")
    cancelled = row(start="2024-03-06T20:00:00+08:00", end="2024-03-06T22:00:00+08:00", status="cancelled",
                    announced_at="2024-03-04T09:00:00+08:00")
    other = row(event_id="LS-9", announced_at="2024-02-25T00:00:00Z")
    events, rejected = parse(cancelled, original, other, moved)  # file order does not matter
    assert rejected.is_empty() and events.height == 4
    return events


def test_an_update_wins_only_from_its_announcement_on() -> None:
    events = versions()
    before = events_as_of(events, dt.datetime(2024, 3, 1, 2, 0, tzinfo=UTC))  # exactly the update: strict
    assert before.filter(pl.col("event_id") == "LS-1")["local_day"].to_list() == [dt.date(2024, 3, 5)]
    after = events_as_of(events, dt.datetime(2024, 3, 1, 2, 0, 1, tzinfo=UTC))
    assert after.filter(pl.col("event_id") == "LS-1")["local_day"].to_list() == [dt.date(2024, 3, 6)]
    assert after.height == 2 and after.schema == pl.Schema(LIVESTREAM_SCHEMA)


def test_a_cancellation_stays_visible_with_its_status() -> None:
    events = versions()
    later = events_as_of(events, dt.datetime(2024, 3, 10, tzinfo=UTC))
    assert later.select("event_id", "status").rows() == [("LS-9", "scheduled"), ("LS-1", "cancelled")]
    before = events_as_of(events, dt.datetime(2024, 3, 3, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert before.filter(pl.col("event_id") == "LS-1")["status"].to_list() == ["scheduled"]


def test_events_not_yet_announced_are_absent() -> None:
    events = versions()
    assert events_as_of(events, dt.datetime(2024, 2, 20, 2, 0, tzinfo=UTC)).is_empty()
    assert events_as_of(events, dt.datetime(2024, 2, 21, tzinfo=UTC))["event_id"].to_list() == ["LS-1"]


def test_events_as_of_needs_an_aware_instant() -> None:
    with pytest.raises(SignalError, match=r"as_of 2024-03-01T00:00:00 has no time zone; pass an aware datetime"):
        events_as_of(versions(), dt.datetime(2024, 3, 1))


# --- property: nothing is lost, nothing raises ------------------------------------------------------------

field_values = st.one_of(st.none(), st.text(max_size=12),
                         st.sampled_from(["A1", "X9", "all", "15%", "2024-03-05T19:00Z", "done", "-1"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: field_values for c in COLUMNS}), max_size=5))
def test_every_row_is_kept_or_rejected_with_a_reason(rows: list[dict[str, Any]]) -> None:
    events, rejected = parse(*rows)
    assert events.height + rejected.height == len(rows)
    assert rejected["reason"].str.len_chars().min() or rejected.is_empty()
    assert not rejected["reason"].str.contains("\n").any()
    assert events.filter(pl.col("end_at") <= pl.col("start_at")).is_empty()
    assert events["discount"].is_between(0, 1).all()


def test_json_and_csv_payloads_read_by_sources_parse_the_same() -> None:
    from signals.sources import SnapshotSource, read_payload

    records = [row(), row(event_id="LS-2", skus="", category="snacks", regions="all", discount="15%")]
    as_json = [{**r, "skus": [s for s in r["skus"].split(";") if s], "expected_viewers": int(r["expected_viewers"]),
                "regions": r["regions"].split(";") if r["regions"] != "all" else "all"} for r in records]
    csv = ",".join(COLUMNS) + "\n" + "\n".join(",".join(r[c] for c in COLUMNS) for r in records) + "\n"
    known = {"known_skus": SKUS, "known_categories": CATEGORIES, "known_regions": REGIONS}
    from_csv = parse_livestreams(read_payload(SnapshotSource(csv, format="csv").fetch()), **known)
    from_json = parse_livestreams(read_payload(SnapshotSource(json.dumps(as_json), format="json").fetch()), **known)
    assert from_json[1].is_empty() and from_csv[1].is_empty()
    assert from_json[0].equals(from_csv[0]) and from_json[0].height == 2

"""Hypothesis fuzzing of the readers, parsers and validators behind the corpus.

Whatever the bytes or text, a reader or parser returns a result or raises the service's own error
(`DemandError` / `SignalError`) with a one-line message; never UnicodeDecodeError, IndexError,
OverflowError or a polars error. Validators partition their input: accepted + rejected = input rows,
and no accepted row breaks a rule.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forecast.errors import DemandError
from forecast.ingest import resolve_mapping
from forecast.ingest.readers import LINE_COLUMN, read_table
from forecast.ingest.signal_config import load_sources
from forecast.ingest.validate import FIRST_DAY, LAST_DAY, MAX_ID_LENGTH, validate_sales
from forecast.settings import load_settings
from signals.calendars import parse_custom_events
from signals.cases import CASE_PRESETS, normalise_case_counts
from signals.errors import SignalError
from signals.frames import MAX_ID_CHARS, MAX_NAME_CHARS
from signals.livestreams import COLUMNS as LIVE_COLUMNS
from signals.livestreams import parse_livestreams
from signals.promotions import parse_promotions
from signals.sources import SnapshotSource, read_payload

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path(tempfile.mkdtemp(prefix="demand_fuzz_"))
CSV_CHARS = st.sampled_from(list(',;\t|"\'\n\r x0123456789-:.+eE_/\\ZTé\x00\ufeff') + ["nan", "inf", "2024-01-0"])
SALES_HEADERS = st.sampled_from(["sku,region,day,units", "sku,region,day,units,price,on_promo", "sku;region;day;units",
                                 "sku,sku,day,units", "", "sku,region,day,units,_line"])
LIVE_HEADER = ",".join(LIVE_COLUMNS)
CASE_HEADER = "region,day,new_cases,reported_at"


def _one_line(exc: BaseException) -> None:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, repr(message)


def _expect_own_error(call: Callable[[], Any]) -> Any:
    """The result of `call`, or None when it raised one of our errors with a one-line message."""
    try:
        return call()
    except (DemandError, SignalError) as exc:
        _one_line(exc)
        return None


def _file(data: bytes) -> Path:
    path = SCRATCH / "fuzz.csv"
    path.write_bytes(data)
    return path


csv_text = st.builds(lambda header, body: header + "\n" + "".join(body), SALES_HEADERS,
                     st.lists(CSV_CHARS, max_size=80))


@FUZZ
@given(st.one_of(st.binary(max_size=400), csv_text.map(lambda t: t.encode("utf-8")),
                 csv_text.map(lambda t: t.encode("utf-16")), csv_text.map(lambda t: t.encode("latin-1", "replace"))))
def test_sales_reader_and_validation_never_crash(data: bytes) -> None:
    raw = _expect_own_error(lambda: read_table(_file(data)))
    if raw is None:
        return
    mapping = resolve_mapping()
    data_rows = raw.frame.filter(~pl.all_horizontal(pl.exclude(LINE_COLUMN).is_null()))
    canonical = _expect_own_error(lambda: mapping.apply(data_rows).with_columns(data_rows[LINE_COLUMN].cast(pl.Int64)))
    if canonical is not None:
        _expect_own_error(lambda: validate_sales(canonical, mapping.date_format))


day_texts = st.one_of(st.dates(min_value=dt.date(1, 1, 1)).map(str), st.text(max_size=12),
                      st.sampled_from(["2025-02-30", "2025-13-01", "0000-01-01", "-0001-01-01", "9999-12-31", ""]))
number_texts = st.one_of(st.none(), st.text(max_size=10), st.floats().map(repr), st.integers().map(str),
                         st.sampled_from(["1e308", "1e309", "-0", "NaN", "-inf", "1_0", " 3 ", "10" * 16]))
id_texts = st.one_of(st.sampled_from(["A", "B", "", " ", "x'; DROP TABLE sales; --", "<script>", "a\nb", "L" * 129]),
                     st.text(max_size=6))


@FUZZ
@given(st.lists(st.fixed_dictionaries({"sku": id_texts, "region": st.sampled_from(["R", "S", ""]), "day": day_texts,
                                       "units": number_texts, "price": number_texts,
                                       "on_promo": st.sampled_from(["1", "0", "yes", "maybe", "", None])}),
                min_size=1, max_size=30))
@example([{"sku": "\x1f", "region": "R", "day": "2024-01-01", "units": "1", "price": None, "on_promo": "1"}])
def test_validate_sales_partitions_rows_and_accepts_only_clean_ones(rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).with_row_index(LINE_COLUMN, offset=2)
    frame = frame.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    try:
        good, rejected = validate_sales(frame, "%Y-%m-%d")
    except DemandError as exc:
        _one_line(exc)
        assert str(exc).startswith(f"none of the {len(rows)} rows is valid")
        return
    assert sorted(good[LINE_COLUMN].to_list() + rejected[LINE_COLUMN].to_list()) == frame[LINE_COLUMN].to_list()
    assert all(reason and "\n" not in reason for reason in rejected["_reason"])
    for row in good.iter_rows(named=True):
        assert 0 < len(row["sku"]) <= MAX_ID_LENGTH and row["sku"] == row["sku"].strip()
        assert FIRST_DAY <= row["day_parsed"] <= LAST_DAY
        assert math.isfinite(row["units_parsed"]) and row["units_parsed"] >= 0
        assert row["price_parsed"] is None or (math.isfinite(row["price_parsed"]) and row["price_parsed"] >= 0)
    assert good.select("sku", "region", "day_parsed").is_unique().all()


def _signal_frame(data: bytes) -> pl.DataFrame | None:
    return _expect_own_error(lambda: read_payload(SnapshotSource(data, location="fuzz").fetch()))


PARSERS: dict[str, Callable[[pl.DataFrame], Any]] = {
    "livestreams": lambda raw: parse_livestreams(raw, known_skus={"A1"}, known_regions={"R01"}),
    "cases": lambda raw: normalise_case_counts(raw, preset=CASE_PRESETS["daily"], region_map={"R01": "R01"},
                                               population={"R01": 1000}, lag_days=1),
    "promotions": lambda raw: parse_promotions(raw, known_skus={"A1"}),
    "calendar": lambda raw: parse_custom_events(raw),
}
signal_text = st.builds(lambda header, body: header + "\n" + "".join(body),
                        st.sampled_from([LIVE_HEADER, CASE_HEADER, "promo_id,sku,region,start,end,discount",
                                         "region,day,name,kind,announced_at", "", "line,a"]),
                        st.lists(st.one_of(CSV_CHARS, st.sampled_from(["2024-03-05T19:00:00+08:00", "+25:00", "Z",
                                                                        "A1", "R01", "1e308", "[", "{"])), max_size=60))


@FUZZ
@given(st.one_of(st.binary(max_size=300), signal_text.map(str.encode), signal_text.map(lambda t: t.encode("utf-16")),
                 st.builds(lambda body: b"[" + body + b"]", st.binary(max_size=60))), st.sampled_from(sorted(PARSERS)))
def test_signal_reader_and_parsers_never_crash(data: bytes, kind: str) -> None:
    raw = _signal_frame(data)
    if raw is not None:
        _expect_own_error(lambda: PARSERS[kind](raw))


times = st.one_of(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                               timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-12)),
                                                          dt.timezone(dt.timedelta(hours=14, minutes=45))])
                               ).map(dt.datetime.isoformat),
                  st.datetimes().map(dt.datetime.isoformat), st.text(max_size=25),
                  st.sampled_from(["2024-03-05T19:00:00+25:00", "2024-03-05T19:00:00 Asia/Shanghai", "2024-03-05"]))
live_rows = st.lists(st.fixed_dictionaries({
    "event_id": id_texts, "host": st.one_of(id_texts, st.just("M" * 300)), "platform": st.one_of(st.none(), id_texts),
    "start": times, "end": times, "skus": st.sampled_from(["A1", "A1;ZZ", "", '["A1"]', "[", None]),
    "category": st.sampled_from(["", None, "beauty"]), "regions": st.sampled_from(["", "all", "R01", "R99", None]),
    "expected_viewers": number_texts, "discount": st.one_of(number_texts, st.sampled_from(["15%", "nan%", "1e308%"])),
    "status": st.sampled_from(["", "scheduled", "done", "cancelled", "postponed", None]), "announced_at": times,
}), min_size=1, max_size=12)


@FUZZ
@given(live_rows)
def test_livestream_rows_are_partitioned_and_accepted_events_are_sane(rows: list[dict[str, Any]]) -> None:
    raw = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String)).with_row_index("line", offset=2)
    events, rejected = parse_livestreams(raw.with_columns(pl.col("line").cast(pl.Int64)), known_skus={"A1"},
                                         known_categories={"beauty"}, known_regions={"R01"})
    assert events.height + rejected.height == len(rows)
    assert all(reason and "\n" not in reason for reason in rejected["reason"])
    for event in events.iter_rows(named=True):
        assert event["end_at"] > event["start_at"] and event["start_at"].tzinfo is not None
        assert FIRST_DAY <= event["start_at"].date() <= LAST_DAY and FIRST_DAY <= event["known_at"].date() <= LAST_DAY
        assert 0 <= event["discount"] <= 1 and 0 <= event["expected_viewers"] < 2**63
        assert len(event["event_id"]) <= MAX_ID_CHARS and len(event["host"]) <= MAX_NAME_CHARS


@FUZZ
@given(st.lists(st.fixed_dictionaries({"region": id_texts, "day": day_texts, "new_cases": number_texts,
                                       "reported_at": st.one_of(st.none(), times)}), min_size=1, max_size=20))
def test_case_rows_are_partitioned_and_counts_are_finite(rows: list[dict[str, Any]]) -> None:
    raw = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String))
    result = normalise_case_counts(raw, preset=CASE_PRESETS["daily"], region_map={}, population={}, lag_days=3)
    assert result.cases.height + result.rejected.height == len(rows)
    for row in result.cases.iter_rows(named=True):
        assert math.isfinite(row["new_cases"]) and row["new_cases"] >= 0
        assert FIRST_DAY <= row["day"] <= LAST_DAY and len(row["source_region"]) <= MAX_ID_CHARS
        assert row["known_at"].year < 10000


toml_text = st.lists(st.sampled_from(["[sources.x]\n", "[sources]\n", "[[sources]]\n", 'kind = "cases"\n',
                                      'location = "a"\n', 'preset = "nyt"\n', "lag_days = -1\n", "x = 5\n",
                                      'sources = "s"\n', "timeout = nan\n", "name = 'y'\n", "[sources.x.region_map]\n",
                                      "Ohio = 5\n", "= \n", '"\n', "\x00", "\ufeff", "é"]), max_size=10).map("".join)


@FUZZ
@given(st.one_of(toml_text.map(str.encode), st.binary(max_size=80)))
def test_signals_config_loads_or_fails_in_one_line(data: bytes) -> None:
    path = SCRATCH / "signals.toml"
    path.write_bytes(data)
    _expect_own_error(lambda: load_sources(path))


ENV_NAMES = ["DEMAND_FORECAST_HORIZON", "DEMAND_FORECAST_MODELS", "DEMAND_SQL_ECHO", "DEMAND_DATABASE_URL",
             "DEMAND_JOB_RETRY_BACKOFF_SECONDS", "DEMAND_ON_INPUT_FAILURE", "DEMAND_LOG_LEVEL", "DEMAND_N_JOBS"]


@FUZZ
@given(st.sampled_from(ENV_NAMES), st.one_of(st.text(max_size=20), st.sampled_from(["nan", "-1", "1e308", "[1]", "{"])))
def test_settings_load_or_fail_in_one_line(name: str, value: str) -> None:
    value = value.replace("\x00", "")
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        _expect_own_error(lambda: load_settings(_env_file=None))
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def test_fuzz_scratch_folder_is_usable() -> None:
    assert SCRATCH.is_dir()
    pytest.importorskip("hypothesis")

"""The bad-input corpus: every file under files/ with its kind and the outcome the service must give.

An entry either has `error` (a regex the one-line message must match: what is wrong and the fix;
the database must be exactly as before) or lists the quarantined lines (`rejected`: line -> regex
of the reason) and every good row that must be stored (`stored`, compared exactly). Stored rows
are, per kind: sales (sku, region, day, units) of the batch; cases (source_region, day, new_cases);
livestreams (event_id, host); promotions (promo_id, discount); calendar (name, day); config: the
source names. `env` entries set DEMAND_* variables instead of reading a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HOSTILE = ["x'; DROP TABLE sales; --", 'say "hi"', "semi;colon", "<script>alert(1)</script>", "a,b", "Robert'); --"]
DAY = "2024-02-01"
RANGE = "is outside 1900-01-01 to 2999-12-31"
ISO_TIME = r"is not an ISO 8601 time; use e\.g\. 2024-03-05T19:00:00\+08:00"


@dataclass(frozen=True)
class Entry:
    """One corpus case."""

    file: str
    kind: str
    error: str | None = None
    rejected: dict[int, str] = field(default_factory=dict)
    stored: frozenset[tuple[Any, ...]] = frozenset()
    options: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.file or "env:" + ",".join(f"{k}={v!r}" for k, v in self.env.items())


def _rows(*rows: tuple[Any, ...]) -> frozenset[tuple[Any, ...]]:
    return frozenset(rows)


_CONTROL_ID = r"^sku contains a control character \(tab, line break, NUL, \.\.\.\); use printable text$"
SALES = [
    Entry("sales/empty.csv", "sales", r"^empty\.csv: file is empty; nothing to ingest$"),
    Entry("sales/whitespace_only.csv", "sales", r"file is empty; nothing to ingest"),
    Entry("sales/header_only.csv", "sales", r"has a header but no rows; nothing to ingest"),
    Entry("sales/blank_rows_only.csv", "sales", r"^blank_rows_only\.csv: every row is empty \(only separators or blank "
          r"lines\); nothing to ingest$"),
    Entry("sales/binary_png.csv", "sales",
          r"looks binary \(NUL byte at offset 8\); expected CSV text, CSV\.gz or Parquet"),
    Entry("sales/random_bytes.bin", "sales", r"looks binary \(NUL byte at offset \d+\); expected CSV text"),
    Entry("sales/nul_early.csv", "sales", r"looks binary \(NUL byte at offset 23\)"),
    Entry("sales/nul_after_64k.csv.gz", "sales",
          r"line 4002 contains a NUL byte, so this is not a text table; remove the "
          r"binary data or re-export the file"),
    Entry("sales/truncated.csv.gz", "sales", r"damaged gzip file \(.*\); re-export or re-compress it"),
    Entry("sales/truncated.parquet", "sales", r"damaged Parquet file \(.*\); re-export it"),
    Entry("sales/nested.parquet", "sales",
          r"column\(s\) units \(List\(Int64\)\) hold nested or binary values; export plain"),
    Entry("sales/truncated_mid_row.csv", "sales",
          rejected={4: r"^day '2024-02-0' is not a date in format %Y-%m-%d; units is empty$"},
          stored=_rows(("T1", "R01", "2024-02-01", 3.0), ("T1", "R01", "2024-02-02", 4.0))),
    Entry("sales/unterminated_quote.csv", "sales", r"cannot be read as CSV \(.*\); check the delimiter and quoting"),
    Entry("sales/ragged.csv", "sales",
          r"cannot be read as CSV \(found more fields .*\); check the delimiter and quoting"),
    Entry("sales/semicolon.csv", "sales", r"the header has one column but contains ';'; pass --delimiter ';'"),
    Entry("sales/tab.csv", "sales", r"the header has one column but contains tab; pass --delimiter tab"),
    Entry("sales/semicolon_declared.csv", "sales", stored=_rows(("S1", "R01", DAY, 3.0)), options={"delimiter": ";"}),
    Entry("sales/bare_cr.csv", "sales", r"lines end with a bare carriage return .*; re-save the file with LF or CRLF"),
    Entry("sales/crlf.csv", "sales", stored=_rows(("C1", "R01", DAY, 3.0), ("C1", "R01", "2024-02-02", 4.0))),
    Entry("sales/utf16_bom.csv", "sales", r"file is UTF-16 encoded; re-save it as UTF-8 or pass --encoding utf-16"),
    Entry("sales/utf16le_no_bom.csv", "sales",
          r"UTF-16 without a byte order mark; re-save it as UTF-8 or pass --encoding utf-16-le"),
    Entry("sales/utf16be_no_bom.csv", "sales", r"UTF-16 without a byte order mark; .* --encoding utf-16-be"),
    Entry("sales/utf16_bom_declared.csv", "sales", stored=_rows(("U1", "R01", DAY, 3.0)),
          options={"encoding": "utf-16"}),
    Entry("sales/latin1.csv", "sales",
          r"not valid utf-8 \(byte 0xe9 on line 2, offset 24\); re-save it as UTF-8 or pass "
          r"--encoding latin-1"),
    Entry("sales/latin1_declared.csv", "sales", stored=_rows(("Crème", "R01", DAY, 3.0)),
          options={"encoding": "latin-1"}),
    Entry("sales/utf8_bom.csv", "sales", stored=_rows(("B0", "R01", DAY, 3.0))),
    Entry("sales/duplicate_header.csv", "sales", r"header names 'units' more than once; rename the copies"),
    Entry("sales/duplicate_header_spaces.csv", "sales", r"header names 'day' more than once; rename the copies"),
    Entry("sales/empty_header_name.csv", "sales", r"column 3 of the header has no name; every column needs one"),
    Entry("sales/line_column.csv", "sales", r"column name '_line' is reserved for line numbers; rename that column"),
    Entry("sales/missing_units.csv", "sales", r"missing column\(s\): units; the file has \['sku', 'region', 'day'\]; "
          r"rename them or pass --mapping CANONICAL=COLUMN"),
    Entry("sales/missing_everything.csv", "sales", r"missing column\(s\): sku, region, day, units; the file has "
          r"\['item', 'store', 'date', 'qty'\]"),
    Entry("sales/dates_mixed.csv", "sales", rejected={
        2: r"day '2025-02-30' is not a date in format %Y-%m-%d", 3: r"day '2025-13-01' is not a date",
        4: r"day '05/01/2025' is not a date", 6: f"day '0000-01-01' {RANGE}", 7: f"day '9999-12-31' {RANGE}",
        8: r"^day is empty$", 9: r"day '2025-01-08T00:00:00' is not a date", 10: f"day '1899-12-31' {RANGE}"},
        stored=_rows(("DT", "R01", "2025-01-07", 1.0), ("DT", "R01", "2025-01-09", 1.0))),
    Entry("sales/dates_day_first.csv", "sales", rejected={4: r"day '2025-02-03' is not a date in format %d/%m/%Y"},
          stored=_rows(("DF", "R01", "2025-01-31", 2.0), ("DF", "R01", "2025-02-01", 3.0)),
          options={"date_format": "%d/%m/%Y"}),
    Entry("sales/dates_all_wrong.csv", "sales",
          r"none of the 2 rows is valid \(line 2: day '01/31/2025' is not a date in "
          r"format %Y-%m-%d\); check --date-format and --mapping; nothing was loaded"),
    Entry("sales/huge_numbers.csv", "sales", rejected={
        4: r"units '1e309' is not finite", 5: r"units 'NaN' is not finite", 6: r"units 'inf' is not finite",
        7: r"units '-inf' is not finite", 8: r"units '1,5' is not a number", 9: r"units '0x10' is not a number"},
        stored=_rows(("N1", "R01", DAY, 1e308), ("N1", "R01", "2024-02-02", 1e30),
                     ("N1", "R01", "2024-02-09", 5e-324), ("N1", "R01", "2024-02-10", 7.0))),
    Entry("sales/negative_units.csv", "sales", rejected={2: r"^units -3 is negative$", 4: r"^units -0.5 is negative$"},
          stored=_rows(("G1", "R01", "2024-02-02", 0.0), ("G1", "R01", "2024-02-04", 2.0))),
    Entry("sales/bad_price_promo.csv", "sales", rejected={
        2: r"^price -1 is negative$", 3: r"^on_promo 'maybe' is not 1/0, true/false or yes/no$", 4: r"^price "
            r"'nan' is not finite$"},
        stored=_rows(("P1", "R01", "2024-02-04", 1.0))),
    Entry("sales/hostile_ids.csv", "sales", stored=frozenset((h,
          "R01", DAY, float(i + 1)) for i, h in enumerate(HOSTILE))),
    Entry("sales/hostile_regions.csv", "sales",
          stored=frozenset(("H1", h, DAY, float(i + 1)) for i, h in enumerate(HOSTILE))),
    # `_line` counts CSV records (header = 1), so a quoted field spanning lines does not shift it.
    # Line breaks parse inside quotes, but an id with a control character is rejected.
    Entry("sales/embedded_newlines.csv", "sales", rejected={2: _CONTROL_ID, 3: _CONTROL_ID, 4: r"^units -1 is negative$"},
          stored=_rows(("E2", "R01", DAY, 3.0))),
    Entry("sales/long_ids.csv", "sales", rejected={3: r"^sku is longer than 128 characters$",
                                                   4: r"^region is longer than 128 characters$", 6: r"^sku is empty$"},
          stored=_rows(("L" * 128, "R01", DAY, 1.0), ("\u00e9" * 128, "R01", DAY, 1.0))),
    Entry("sales/long_master_data.csv", "sales", rejected={2: r"^category is longer than 128 characters$"},
          stored=_rows(("M2", "R01", DAY, 1.0))),
    Entry("sales/duplicate_keys.csv", "sales", rejected={
        n: r"^duplicate key \(sku, region, day\): the same key is on lines 2, 3, 5$" for n in (2, 3, 5)},
        stored=_rows(("K1", "R01", "2024-02-02", 3.0))),
    Entry("sales/many_duplicates.csv", "sales", rejected={
        n: r"^duplicate key .* on lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 20 more$" for n in range(2, 32)},
        stored=_rows(("D1", "R01", "2024-04-02", 1.0))),
    Entry("sales/conflicting_category.csv", "sales", r"inconsistent master data: sku 'A1' has 2 different category "
          r"values \['beauty', 'food'\]; make each SKU/region agree across rows"),
]

CASES = [
    Entry("cases/empty.csv", "cases", r"is empty; expected a CSV header line and data rows"),
    Entry("cases/header_only.csv", "cases"),
    Entry("cases/bad_values.csv", "cases", rejected={
        4: r"^NaN count in column 'new_cases'$", 5: r"^infinite count 'inf'", 6: r"^negative count -3",
        7: r"^unparseable date '2025-02-30' in column 'day' \(expected %Y-%m-%d\)$",
        8: f"^date '0000-01-01' in column 'day' {RANGE}$", 9: r"^empty region in column 'region'$",
        10: r"^region in column 'region' is longer than 128 characters$",
        11: r"^unparseable reported_at '2024-01-08T00:00:00\+25:00' \(expected a date or datetime\)$",
        12: f"^reported_at '9999-12-31T23:00:00-05:00' {RANGE}$"},
        stored=_rows(("R01", "2024-01-01", 1e308), ("R01", "2024-01-02", 1e30), ("R02", "2024-01-01", 5.0))),
    Entry("cases/semicolon.csv", "cases", r"the header has one column but contains ';'; signal files must be "
          r"comma-separated"),
    Entry("cases/utf16.csv", "cases", r"cannot decode .* as utf-8 \(it is UTF-16\): .*; pass the file's encoding"),
    Entry("cases/utf16le_no_bom.csv", "cases", r"has a NUL byte in its header, so it is not UTF-8 text \(UTF-16\?\); "
          r"re-save it as UTF-8"),
    Entry("cases/latin1.csv", "cases", r"cannot decode .* as utf-8: .*; pass the file's encoding \(e\.g\. "
          r"encoding='latin-1'\)"),
    Entry("cases/latin1.csv", "cases", stored=_rows(("Bogotá", "2024-01-01", 1.0)),
          options={"preset": "daily", "encoding": "latin-1"}),
    Entry("cases/utf8_bom.csv", "cases", stored=_rows(("R01", "2024-02-01", 4.0))),
    Entry("cases/duplicate_header.csv", "cases", r"repeats column\(s\) 'new_cases' in its header; give every column a "
          r"unique name"),
    Entry("cases/missing_column.csv", "cases", r"case counts lack column\(s\) new_cases .*; found: region, day, cases; "
          r"choose the preset matching the source or rename its columns"),
    Entry("cases/truncated.csv.gz", "cases", r"cannot decompress .*; re-download the file or send it uncompressed"),
    Entry("cases/nyt_truncated.csv", "cases", rejected={4: r"^missing count in column 'cases'$"},
          stored=_rows(("Ohio", "2020-04-01", 100.0), ("Ohio", "2020-04-02", 50.0)), options={"preset": "nyt"}),
    Entry("cases/nul.csv", "cases", r"has a NUL byte on line 2, so it is not a text table; remove the binary data"),
    Entry("cases/hostile_regions.csv", "cases", stored=frozenset((h,
          "2024-03-01", float(i)) for i, h in enumerate(HOSTILE))),
    Entry("cases/bare_cr.csv", "cases", r"lines end with a bare carriage return .*; re-save the file with LF or CRLF"),
    Entry("cases/ragged.csv", "cases",
          r"cannot parse .* as CSV: found more fields .*; check the delimiter and that every "
          r"row has as many fields as the header"),
]

LIVESTREAMS = [
    Entry("livestreams/timezones.csv", "livestreams", rejected={
        4: r"^start '2024-03-05T19:00:00' has no time zone; add an offset like \+08:00 or Z; end .* has no time zone",
        5: f"^start '2024-03-05T19:00:00\\+25:00' {ISO_TIME}",
        6: f"^start '2024-03-05T19:00:00 Asia/Shanghai' {ISO_TIME}",
        7: f"^start '2024-03-05T19:00:00\\[Asia/Shanghai\\]' {ISO_TIME}$",
        8: f"^start '2024-03-05T19:00:00 CST' {ISO_TIME}",
        9: r"^start '2024-03-05' has no time zone", 10: r"^announced_at '2024-02-20T10:00:00' has no time zone"},
        stored=_rows(("TZ-ok-z", "Mia"), ("TZ-ok-nepal", "Mia"))),
    Entry("livestreams/impossible_dates.csv", "livestreams", rejected={
        3: f"^start '2025-02-30T19:00:00\\+08:00' {ISO_TIME}", 4: f"^start '2025-13-01T19:00:00\\+08:00' {ISO_TIME}",
        5: f"^start '9999-12-31T22:00:00-05:00' {RANGE}", 6: f"^start '0001-01-01T00:00:00\\+05:00' {RANGE}",
        7: r"^ends before it starts", 8: r"announced_at .* is after start .*; a scheduled event must be "
            r"announced before"},
        stored=_rows(("D-ok", "Mia"))),
    Entry("livestreams/numbers.csv", "livestreams", rejected={
        3: r"^expected_viewers '1e308' is too large \(at most 9223372036854775807\)$",
        4: r"^expected_viewers '1000000000000000000000000000000' is too large",
        5: r"^expected_viewers '-5' is not a non-negative integer$", 6: r"^expected_viewers 'NaN' is not a "
            r"non-negative",
        7: r"^discount '1e308' is not between 0 and 1; write e\.g\. 0\.15 or 15%$", 8: r"^discount 'nan%' is "
            r"not between",
        9: r"^discount 'inf' is not between"},
        stored=_rows(("N-ok", "Mia"))),
    Entry("livestreams/hostile.csv", "livestreams",
          stored=frozenset((h, f"<b>{h}</b>\nsecond line") for h in HOSTILE)),
    Entry("livestreams/long_fields.csv", "livestreams", rejected={3: r"^event_id is longer than 128 characters$",
                                                                  4: r"^host is longer than 256 characters$"},
          stored=_rows(("LF-ok", "Mia"))),
    Entry("livestreams/unknown_refs.csv", "livestreams", rejected={
        3: r"^unknown SKU\(s\) 'ZZ9'$", 4: r"^unknown region\(s\) 'R99'$",
        5: r"^status 'postponed' is not one of scheduled, cancelled, done$"},
        stored=_rows(("U-ok", "Mia"))),
    Entry("livestreams/missing_columns.csv", "livestreams", r"livestream schedule is missing column\(s\) announced_at; "
          r"the file has event_id, host, start, end and needs the header event_id,host,"),
    Entry("livestreams/empty.csv", "livestreams", r"is empty; expected a CSV header line and data rows"),
    Entry("livestreams/binary.bin", "livestreams", r"cannot decode .* as utf-8: .*; pass the file's encoding"),
    Entry("livestreams/deep.json", "livestreams",
          r"cannot parse .* as JSON: nested too deeply; give a flat list of objects"),
    Entry("livestreams/not_objects.json", "livestreams",
          r"has 3 JSON item\(s\) that are not objects \(lines 2, 3, 4\); "
          r"make every item an object"),
    Entry("livestreams/bare_cr.csv", "livestreams", r"lines end with a bare carriage return"),
]

OTHER_SIGNALS = [
    Entry("promotions/bad_rows.csv", "promotions", rejected={
        3: r"^start '2025-02-30' is not an ISO date; use YYYY-MM-DD like 2024-03-05$", 4: f"^start '0001-01-03' "
            f"{RANGE}",
        5: r"^discount '1e308' is not between 0 and 1", 6: r"^discount 'nan%' is not between 0 and 1",
        7: r"^promo_id is longer than 128 characters$", 8: r"^announced_at '2024-02-01T00:00:00\+25:00' is not an ISO",
        9: f"^announced_at '9999-12-31T23:00:00-05:00' {RANGE}$", 11: r"^unknown SKU 'ZZ9'$"},
        stored=_rows(("PR-ok", 0.2), ("'; DROP TABLE promotion; --", 0.3))),
    Entry("promotions/missing_discount.csv", "promotions",
          r"promotion file is missing column\(s\) discount; the file has "
          r"promo_id, sku, start, end and needs the header"),
    Entry("calendar/bad_rows.csv", "calendar", rejected={
        3: r"^day '2025-02-30' is not an ISO date", 4: r"^name is longer than 256 characters$",
        5: r"^kind 'weird' is not one of holiday", 6: f"^announced_at '0001-01-01T00:00:00\\+05:00' {RANGE}$"},
        stored=_rows(("Fest", "2024-03-01"), ("<script>alert(1)</script>", "2024-03-05")),
              options={"preset": "custom"}),
    Entry("calendar/utf16.csv", "calendar", r"cannot decode .* \(it is UTF-16\)", options={"preset": "custom"}),
]

FIX_IN_CONFIG = r"; fix it in the signals config$"
CONFIG = [
    Entry("config/good.toml", "config", stored=_rows(("nyt",))),
    Entry("config/empty.toml", "config"),
    Entry("config/not_toml.toml", "config", r"not valid TOML \(Expected '\]' .*line 1, column 11\)\); fix the file$"),
    Entry("config/sources_is_string.toml", "config",
          r"'sources' is not a table \(got str\); write one \[sources\.NAME\]"),
    Entry("config/sources_is_array.toml", "config", r"'sources' is not a table \(got list\)"),
    Entry("config/source_not_table.toml", "config",
          r"\[sources\.x\]: is not a table \(got int\); write \[sources\.NAME\]"),
    Entry("config/unknown_kind.toml", "config", r"\[sources\.x\]: kind: Input should be 'cases', 'livestreams', "
          r"'promotions', 'holidays' or 'calendar'" + FIX_IN_CONFIG),
    Entry("config/negative_lag.toml", "config",
          r"lag_days: Input should be greater than or equal to 0" + FIX_IN_CONFIG),
    Entry("config/huge_lag.toml", "config", r"lag_days: Input should be less than or equal to 365" + FIX_IN_CONFIG),
    Entry("config/nan_timeout.toml", "config", r"timeout: Input should be" + ".*" + FIX_IN_CONFIG),
    Entry("config/bad_name.toml", "config", r"\[sources\.a b\]: name: String should match pattern"),
    Entry("config/newline_name.toml", "config", r"\[sources\.a\\nb\]: name: String should match pattern"),
    Entry("config/newline_preset.toml", "config", r"preset 'nyt\\nevil' is not one of nyt, kr_ds4c, daily"),
    Entry("config/extra_key.toml", "config", r"bogus: Extra inputs are not permitted" + FIX_IN_CONFIG),
    Entry("config/name_key.toml", "config", r"has a 'name' key; the name is the table's, remove that key$"),
    Entry("config/region_map_number.toml", "config",
          r"region_map\.Ohio: Input should be a valid string" + FIX_IN_CONFIG),
    Entry("config/utf16.toml", "config", r"not UTF-8 text \(byte 0xff at offset 0\); re-save it as UTF-8$"),
    Entry("config/binary.toml", "config", r"not UTF-8 text \(byte 0xff at offset 10\); re-save it as UTF-8$"),
    Entry("config/duplicate_table.toml", "config", r"not valid TOML \(Cannot declare \('sources', 'x'\) twice"),
]

FIX_ENV = r"; fix the environment variable \(or \.env\)$"
ENV = [
    Entry("", "env", r"^DEMAND_FORECAST_HORIZON='abc': Input should be a valid integer" + ".*" + FIX_ENV,
          env={"DEMAND_FORECAST_HORIZON": "abc"}),
    Entry("", "env", r"^DEMAND_FORECAST_HORIZON='-5': Input should be greater than or equal to 1" + FIX_ENV,
          env={"DEMAND_FORECAST_HORIZON": "-5"}),
    Entry("", "env", r"^DEMAND_FORECAST_HORIZON='1e308': Input should be a valid integer",
          env={"DEMAND_FORECAST_HORIZON": "1e308"}),
    Entry("", "env", r"^DEMAND_FORECAST_HORIZON='1{31}': Input should be less than or equal to 3660",
          env={"DEMAND_FORECAST_HORIZON": "1" * 31}),
    Entry("", "env", r"^DEMAND_FORECAST_HORIZON='7\\n8': Input should be a valid integer",
          env={"DEMAND_FORECAST_HORIZON": "7\n8"}),
    Entry("", "env", r"^DEMAND_FORECAST_MODELS cannot be parsed; list settings take JSON, e\.g\. "
          r"DEMAND_FORECAST_MODELS='\[\"auto\"\]'$", env={"DEMAND_FORECAST_MODELS": "auto, prophet"}),
    Entry("", "env", r"^DEMAND_JOB_RETRY_BACKOFF_SECONDS='nan': Input should be a finite number" + FIX_ENV,
          env={"DEMAND_JOB_RETRY_BACKOFF_SECONDS": "nan"}),
    Entry("", "env", r"^DEMAND_SCHEDULER_LEASE_SECONDS='inf': Input should be a finite number",
          env={"DEMAND_SCHEDULER_LEASE_SECONDS": "inf"}),
    Entry("", "env", r"^DEMAND_SCHEDULER_LEASE_SECONDS='0': Input should be greater than 0",
          env={"DEMAND_SCHEDULER_LEASE_SECONDS": "0"}),
    Entry("", "env", r"^DEMAND_ON_INPUT_FAILURE='maybe': Input should be 'run' or 'wait'" + FIX_ENV,
          env={"DEMAND_ON_INPUT_FAILURE": "maybe"}),
    Entry("", "env", r"^DEMAND_SQL_ECHO='perhaps': Input should be a valid boolean",
          env={"DEMAND_SQL_ECHO": "perhaps"}),
    Entry("", "env", r"^DEMAND_LOG_LEVEL='LOUD': use one of DEBUG, INFO, WARNING, ERROR, CRITICAL" + FIX_ENV,
          env={"DEMAND_LOG_LEVEL": "LOUD"}),
    Entry("", "env", r"^DEMAND_DATABASE_URL: is not a database URL; give e\.g\. sqlite:///var/demand\.db",
          env={"DEMAND_DATABASE_URL": "not a url"}),
    Entry("", "env", r"^DEMAND_DATABASE_URL: is empty; unset it for the SQLite default",
          env={"DEMAND_DATABASE_URL": "  "}),
    Entry("", "env", r"^DEMAND_BACKTEST_WINDOWS='0': Input should be greater than or equal to 1",
          env={"DEMAND_BACKTEST_WINDOWS": "0"}),
    Entry("", "env", r"^schedule 'every night' has 2 fields; give 5 \(minute hour day month weekday\) or 6",
          env={"DEMAND_SCHEDULE_FORECAST": "every night"}),
    Entry("", "env", r"^schedule '61 \* \* \* \*': .*; use cron fields such as '0 2 \* \* \*'$",
          env={"DEMAND_SCHEDULE_FORECAST": "61 * * * *"}),
]

FILE_ENTRIES = SALES + CASES + LIVESTREAMS + OTHER_SIGNALS
ALL = FILE_ENTRIES + CONFIG + ENV

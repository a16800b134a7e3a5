"""The frame contracts every signal transform returns and the feature builder consumes.

All frames are polars. Times are UTC (`pl.Datetime("us", "UTC")`). `known_at` is the moment the
service learned a value; a cutoff day T sees exactly the rows with `known_at < start of T+1 (UTC)`
(see `visible_at`). Validation results come as `(good, rejected)` where `rejected` has `REJECTED_SCHEMA`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "UTC_TIME",
    "REJECTED_SCHEMA",
    "CASES_SCHEMA",
    "CORRECTIONS_SCHEMA",
    "LIVESTREAM_SCHEMA",
    "PROMOTION_SCHEMA",
    "CALENDAR_SCHEMA",
    "as_of_instant",
    "visible_at",
]

UTC_TIME = pl.Datetime("us", "UTC")

FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
"""The days (and UTC days of times) a signal may be about; outside them a value is a placeholder or a typo."""
MAX_ID_CHARS, MAX_NAME_CHARS = 128, 256
"""Longest id (event, promotion, source region, category, platform) and name (host, calendar event) stored."""

REJECTED_SCHEMA = {"line": pl.Int64, "raw": pl.String, "reason": pl.String}
"""A rejected input row: its line (header = 1; JSON: 1-based index + 1), its fields as JSON, why."""

CASES_SCHEMA = {
    "source_region": pl.String,       # region name as the source spells it (e.g. "California")
    "region": pl.String,              # service region id from the mapping, null when unmapped
    "day": pl.Date,                   # the day the count is about
    "new_cases": pl.Float64,          # daily new cases, >= 0
    "cumulative": pl.Float64,         # cumulative count as reported (null when the source is daily)
    "new_cases_per_100k": pl.Float64, # null when the region's population is unknown
    "known_at": UTC_TIME,             # day + reporting lag (start of that day, UTC)
}
"""Normalised daily case counts: one row per source_region x day."""

CORRECTIONS_SCHEMA = {
    "source_region": pl.String,
    "region": pl.String,
    "day": pl.Date,
    "amount": pl.Float64,             # < 0: how far the cumulative series went down that day
}
"""Days where a cumulative series went down; the daily value of that day is stored as 0."""

LIVESTREAM_SCHEMA = {
    "event_id": pl.String,
    "host": pl.String,
    "platform": pl.String,
    "start_at": UTC_TIME,
    "end_at": UTC_TIME,
    "utc_offset": pl.String,          # the offset or zone the schedule gave, e.g. "+08:00"
    "local_day": pl.Date,             # calendar day of start_at in the schedule's own time zone
    "skus": pl.List(pl.String),       # featured SKUs; empty list when a whole category is featured
    "category": pl.String,            # featured category or null
    "regions": pl.List(pl.String),    # service region ids; null = all regions
    "expected_viewers": pl.Int64,
    "discount": pl.Float64,           # 0..1
    "status": pl.String,              # scheduled | cancelled | done
    "announced_at": UTC_TIME,
    "known_at": UTC_TIME,             # = announced_at
}
"""One row per event version (an update or a cancellation is a new row with a later announced_at)."""

PROMOTION_SCHEMA = {
    "promo_id": pl.String,
    "sku": pl.String,
    "region": pl.String,              # null = all regions
    "start": pl.Date,                 # first promoted day
    "end": pl.Date,                   # last promoted day (inclusive)
    "discount": pl.Float64,           # 0..1
    "known_at": UTC_TIME,             # announced_at, or start - lead days when the file has none
}

CALENDAR_SCHEMA = {
    "region": pl.String,              # service region id; null = every region
    "day": pl.Date,
    "name": pl.String,                # e.g. "Christmas Day", "SuperBowl", "SNAP"
    "kind": pl.String,                # holiday | sporting | cultural | national | religious | snap | custom
    "known_at": UTC_TIME,             # calendars are known long ahead: start of the day a year before
}


def as_of_instant(cutoff: dt.date) -> dt.datetime:
    """The first instant after cutoff day T: rows with `known_at` before it are visible at T."""
    return dt.datetime.combine(cutoff + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


def visible_at(frame: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """The rows of `frame` known by the end of `cutoff` (UTC)."""
    return frame.filter(pl.col("known_at") < as_of_instant(cutoff))

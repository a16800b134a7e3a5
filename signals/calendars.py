"""Calendars: public holidays, the M5 event calendar and custom event files (`CALENDAR_SCHEMA`).

Calendars are known long ahead: every row's ``known_at`` is the start (UTC) of the day 365 days before
it, unless a custom file says when it was announced.

- ``public_holidays``: from the `holidays` package, for service regions mapped to codes like ``US``,
  ``US-CA``, ``KR`` or ``DE-BY`` (country[-subdivision]); names in English where the package has them.
- ``m5_calendar_events``: the M5 competition's ``calendar.csv`` as is (``date, ..., event_name_1,
  event_type_1, event_name_2, event_type_2, snap_CA, snap_TX, snap_WI``; ``NA`` or empty = none).
  Events are for every region (kind = the lower-cased event type); a SNAP day is a row per state
  whose ``snap_XX`` is 1, named ``SNAP`` with kind ``snap``.
- ``parse_custom_events``: a simple file ``region, day, name, kind[, announced_at]``:
  region empty or ``all`` = every region; day an ISO date; kind one of ``KINDS`` (default
  ``custom``); announced_at optional ISO date or time (no offset = UTC).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import holidays
import polars as pl

from signals._rows import (check_length, parse_announced, parse_day, parse_rows, quoted, require_columns, stripped,
                          with_line_numbers)
from signals.errors import SignalError
from signals.frames import CALENDAR_SCHEMA, MAX_NAME_CHARS

__all__ = ["KINDS", "CUSTOM_COLUMNS", "m5_calendar_events", "parse_custom_events", "public_holidays"]

logger = logging.getLogger(__name__)

KINDS = ("holiday", "sporting", "cultural", "national", "religious", "snap", "custom")
CUSTOM_COLUMNS = ("region", "day", "name", "kind", "announced_at")
YEAR_AHEAD = dt.timedelta(days=365)
_M5_REQUIRED = ("date", "event_name_1", "event_type_1")
_M5_NONE = ("", "NA")
_KEY = ["region", "day", "name"]


def public_holidays(regions: Mapping[str, str], years: Iterable[int]) -> pl.DataFrame:
    """Public holidays of each service region for the given years.

    Args:
        regions: Service region id -> holidays code, e.g. ``{"CA": "US-CA", "SEOUL": "KR"}``.
        years: The years to generate.

    Returns:
        ``CALENDAR_SCHEMA`` rows with kind ``holiday``, one per region x day x holiday name.

    Raises:
        SignalError: A code names a country or subdivision the holidays package does not know.
    """
    years = sorted(set(years))
    rows: list[dict[str, Any]] = []
    for region, code in regions.items():
        table = _country_holidays(region, code, years)
        rows.extend({"region": region, "day": day, "name": name, "kind": "holiday"}
                    for day in sorted(table) for name in table.get_list(day))
    frame = _calendar_frame(rows)
    logger.info("public holidays: %d rows for %d regions, years %s", frame.height, len(regions), years)
    return frame


def _country_holidays(region: str, code: str, years: list[int]) -> holidays.HolidayBase:
    """The holidays table of a ``country[-subdivision]`` code, in English when available."""
    country, _, subdiv = code.strip().upper().partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise SignalError(f"holidays code '{code}' of region '{region}' names no country the holidays "
                          "package knows; use an ISO 3166 code like US, US-CA, KR or DE-BY")
    subdivisions = [s.upper() for s in supported[country]]
    if subdiv and subdiv not in subdivisions:
        choices = ", ".join(supported[country][:12]) + (", ..." if len(subdivisions) > 12 else "")
        fix = f"use one of {choices} or plain {country}" if subdivisions else f"use plain {country}"
        raise SignalError(f"holidays code '{code}' of region '{region}': {country} has no subdivision "
                          f"'{subdiv}'; {fix}")
    subdiv_name = supported[country][subdivisions.index(subdiv)] if subdiv else None
    try:
        probe = holidays.country_holidays(country, subdiv=subdiv_name)
        language = "en_US" if "en_US" in getattr(probe, "supported_languages", ()) else None
        return holidays.country_holidays(country, subdiv=subdiv_name, years=years, language=language)
    except NotImplementedError as exc:  # the package's "not available" error
        raise SignalError(f"holidays code '{code}' of region '{region}' is not available ({exc}); "
                          "use an ISO 3166 code like US, US-CA, KR or DE-BY") from exc


def m5_calendar_events(raw: pl.DataFrame, *, state_regions: Mapping[str, str]) -> pl.DataFrame:
    """Events and SNAP days of the M5 calendar.

    Args:
        raw: ``calendar.csv`` as read, all columns strings (a ``line`` column is used in messages).
        state_regions: State code (``CA``) -> service region id; unmapped states keep their code.

    Returns:
        ``CALENDAR_SCHEMA`` rows: events for every region (region null), SNAP days per state.

    Raises:
        SignalError: A required column is missing or a date is not ``YYYY-MM-DD``.
    """
    require_columns(raw, _M5_REQUIRED, "M5 calendar", "give the calendar.csv of the M5 competition as it is")
    frame = _m5_strings(raw)
    parts = []
    for k in (1, 2):
        name, kind = f"event_name_{k}", f"event_type_{k}"
        if name in frame.columns:
            kind_expr = pl.col(kind).str.to_lowercase() if kind in frame.columns else pl.lit(None)
            parts.append(frame.filter(pl.col(name).is_not_null()).select(
                pl.lit(None, pl.String).alias("region"), "day", pl.col(name).alias("name"),
                kind_expr.fill_null("custom").cast(pl.String).alias("kind")))
    for column in (c for c in frame.columns if c.startswith("snap_")):
        state = column.removeprefix("snap_")
        parts.append(frame.filter(pl.col(column) == "1").select(
            pl.lit(state_regions.get(state, state), pl.String).alias("region"), "day",
            pl.lit("SNAP").alias("name"), pl.lit("snap").alias("kind")))
    rows = pl.concat(parts) if parts else pl.DataFrame(schema=CALENDAR_SCHEMA).drop("known_at")
    result = _with_known_at(rows.unique(_KEY, keep="last", maintain_order=True))
    logger.info("M5 calendar: %d event and SNAP rows", result.height)
    return result


def _m5_strings(raw: pl.DataFrame) -> pl.DataFrame:
    """All columns as stripped strings with NA/empty as null, plus a parsed ``day``."""
    raw = with_line_numbers(raw)
    text = [c for c in raw.columns if c != "line"]
    frame = raw.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.strip_chars().is_in(_M5_NONE)).then(None)
        .otherwise(pl.col(c).cast(pl.String).str.strip_chars()).alias(c)
        for c in text
    ).with_columns(pl.col("date").str.to_date("%Y-%m-%d", strict=False).alias("day"))
    bad = frame.filter(pl.col("day").is_null())
    if bad.height:
        first = bad.row(0, named=True)
        raise SignalError(f"M5 calendar line {first['line']}: date {quoted(first['date'])} is not YYYY-MM-DD "
                          f"({bad.height} bad row(s)); fix or remove those rows")
    return frame


def parse_custom_events(
    raw: pl.DataFrame, *, known_regions: Collection[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a custom event file (``region, day, name, kind[, announced_at]``).

    Args:
        raw: The payload as read (string columns plus an Int64 ``line``).
        known_regions: Service region ids; None accepts any region id.

    Returns:
        ``(events, rejected)`` with ``CALENDAR_SCHEMA`` (by day, region, name) and ``REJECTED_SCHEMA`` (by
        line). Two rows with the same region, day and name: the later line wins, the earlier is rejected.

    Raises:
        SignalError: The ``day`` or ``name`` column is missing.
    """
    require_columns(raw, ("day", "name"), "custom event file",
                    f"it needs the header {','.join(CUSTOM_COLUMNS)} (region, kind and announced_at may be left out)")
    regions = None if known_regions is None else frozenset(known_regions)
    events, rejected_frame = parse_rows(raw, lambda fields, reasons: _parse_custom(fields, regions, reasons),
                                        CALENDAR_SCHEMA, _KEY)
    events = events.sort("day", "region", "name", nulls_last=False)
    logger.info("custom events: %d rows, %d rejected rows", events.height, rejected_frame.height)
    return events, rejected_frame


def _parse_custom(fields: dict[str, str | None], regions: frozenset[str] | None,
                  reasons: list[str]) -> dict[str, Any]:
    """Parse one custom event row; problems are appended to ``reasons``."""
    region = stripped(fields.get("region"))
    region = None if region is None or region.lower() == "all" else region
    if region is not None and regions is not None and region not in regions:
        reasons.append(f"unknown region {quoted(region)}")
    day, name = parse_day("day", fields.get("day"), reasons), stripped(fields.get("name"))
    if name is None:
        reasons.append("name is empty")
    check_length("name", name, MAX_NAME_CHARS, reasons)
    kind = (stripped(fields.get("kind")) or "custom").lower()
    if kind not in KINDS:
        reasons.append(f"kind {quoted(kind)} is not one of {', '.join(KINDS)}")
    known_at = parse_announced(fields.get("announced_at"), reasons)
    if reasons or day is None:
        return {}
    if known_at is None:
        known_at = dt.datetime.combine(day - YEAR_AHEAD, dt.time(), tzinfo=dt.timezone.utc)
    return {"region": region, "day": day, "name": name, "kind": kind, "known_at": known_at}


def _calendar_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """``CALENDAR_SCHEMA`` from rows without ``known_at``."""
    schema = {k: v for k, v in CALENDAR_SCHEMA.items() if k != "known_at"}
    return _with_known_at(pl.DataFrame(rows, schema=schema))


def _with_known_at(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``known_at`` = start of (day - 365 days) UTC, in schema order, sorted by day, region, name."""
    known_at = (pl.col("day") - YEAR_AHEAD).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return (frame.with_columns(known_at.alias("known_at")).select(list(CALENDAR_SCHEMA))
            .cast(CALENDAR_SCHEMA).sort("day", "region", "name", nulls_last=False))

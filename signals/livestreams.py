"""Livestream schedules: a host's planned events, parsed into versioned rows (`LIVESTREAM_SCHEMA`).

Event format, one event version per CSV row or JSON object (same field names in both):

==================  ========================================================================
event_id            required, non-empty; two rows with the same id are two versions of it
host                required, non-empty
platform            optional free text
start, end          required, ISO 8601 with a UTC offset or ``Z``: ``2024-03-05T19:00:00+08:00``;
                    a time without an offset is rejected. ``end`` must be after ``start``.
skus                SKU ids separated by ``;`` (JSON: a list); may be empty when ``category`` is set
category            optional featured category (a whole category when ``skus`` is empty)
regions             service region ids separated by ``;`` (JSON: a list); empty or ``all`` = every region
expected_viewers    non-negative integer; empty = 0
discount            0..1 or a percentage (``15%`` = 0.15); empty = 0
status              ``scheduled`` | ``cancelled`` | ``done`` (any case); empty = ``scheduled``
announced_at        required, ISO 8601 with offset: when the schedule said so (``known_at``); a
                    scheduled event must be announced before it starts (done/cancelled may not be)
==================  ========================================================================

Times are stored in UTC; ``utc_offset`` keeps the offset text ``start`` gave and ``local_day`` is the
date of ``start`` in that offset. An update or a cancellation is a new row with a later
``announced_at``; ``events_as_of`` picks the version that was current at a moment. Two rows with the
same ``event_id`` and ``announced_at`` in one file: the later line wins, the earlier is rejected.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import polars as pl

from signals._rows import (check_length, file_columns, in_range, parse_discount, parse_rows, quoted,
                          require_columns, stripped)
from signals.errors import SignalError
from signals.frames import LIVESTREAM_SCHEMA, MAX_ID_CHARS, MAX_NAME_CHARS

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "STATUSES", "events_as_of", "parse_livestreams"]

logger = logging.getLogger(__name__)

COLUMNS = ("event_id", "host", "platform", "start", "end", "skus", "category", "regions",
           "expected_viewers", "discount", "status", "announced_at")
REQUIRED_COLUMNS = ("event_id", "host", "start", "end", "announced_at")
STATUSES = ("scheduled", "cancelled", "done")

_OFFSET_TEXT = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)$")
_TIME_EXAMPLE = "2024-03-05T19:00:00+08:00"
_MAX_NAMED = 5
_MAX_VIEWERS = 2**63 - 1


def parse_livestreams(
    raw: pl.DataFrame,
    *,
    known_skus: Collection[str],
    known_categories: Collection[str] | None = None,
    known_regions: Collection[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a livestream schedule into event versions and rejected rows.

    Args:
        raw: The payload as read (string columns plus an Int64 ``line``), see the module docstring.
        known_skus: SKU ids the service knows; an event naming another SKU is rejected.
        known_categories: Categories the service knows; None accepts any category.
        known_regions: Service region ids; None accepts any region id.

    Returns:
        ``(events, rejected)`` with ``LIVESTREAM_SCHEMA`` and ``REJECTED_SCHEMA``, both in line order.

    Raises:
        SignalError: A required column is missing.
    """
    checks = _Known(frozenset(known_skus), _as_set(known_categories), _as_set(known_regions))
    require_columns(raw, REQUIRED_COLUMNS, "livestream schedule",
                    f"the file has {file_columns(raw)} and needs the header {','.join(COLUMNS)}")
    events, rejected_frame = parse_rows(raw, lambda fields, reasons: _parse_event(fields, checks, reasons),
                                        LIVESTREAM_SCHEMA, ["event_id", "announced_at"])
    logger.info("livestreams: %d event versions, %d rejected rows", events.height, rejected_frame.height)
    return events, rejected_frame


def events_as_of(events: pl.DataFrame, as_of: dt.datetime) -> pl.DataFrame:
    """The latest version of each event known strictly before ``as_of``.

    Cancelled versions stay in (their ``status`` says so); events first announced at or after
    ``as_of`` are absent.

    Args:
        events: Event versions with ``LIVESTREAM_SCHEMA`` (from one or several files).
        as_of: A time-zone-aware instant.

    Returns:
        One row per ``event_id``, ordered by ``start_at`` then ``event_id``.

    Raises:
        SignalError: ``as_of`` has no time zone.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise SignalError(f"as_of {as_of.isoformat()} has no time zone; pass an aware datetime, "
                          "e.g. datetime(2024, 3, 5, tzinfo=timezone.utc)")
    cutoff = as_of.astimezone(dt.timezone.utc)
    return (
        events.filter(pl.col("known_at") < cutoff)
        .sort("known_at", maintain_order=True)
        .unique("event_id", keep="last", maintain_order=True)
        .sort("start_at", "event_id")
    )


@dataclass(frozen=True)
class _Known:
    """The reference sets a row is checked against (None = accept anything)."""

    skus: frozenset[str]
    categories: frozenset[str] | None
    regions: frozenset[str] | None


def _as_set(values: Collection[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _parse_event(fields: dict[str, str | None], known: _Known, reasons: list[str]) -> dict[str, Any]:
    """Parse one row; every problem is appended to ``reasons`` (the result is then meaningless)."""
    event_id, host = stripped(fields.get("event_id")), stripped(fields.get("host"))
    for name, value in (("event_id", event_id), ("host", host)):
        if value is None:
            reasons.append(f"{name} is empty")
    check_length("event_id", event_id, MAX_ID_CHARS, reasons)
    check_length("host", host, MAX_NAME_CHARS, reasons)
    check_length("platform", stripped(fields.get("platform")), MAX_ID_CHARS, reasons)
    start, offset = _instant("start", fields.get("start"), reasons)
    end, _ = _instant("end", fields.get("end"), reasons)
    announced, _ = _instant("announced_at", fields.get("announced_at"), reasons)
    if start is not None and end is not None and end <= start:
        reasons.append(f"ends before it starts (end {stripped(fields.get('end'))} is not after "
                       f"start {stripped(fields.get('start'))})")
    skus, category = _featured(fields, known, reasons)
    regions = _regions(fields.get("regions"), known.regions, reasons)
    viewers = _viewers(fields.get("expected_viewers"), reasons)
    discount = parse_discount(fields.get("discount"), reasons, example="0.15 or 15%", required=False)
    status = _status(fields.get("status"), reasons)
    if status == "scheduled" and start is not None and announced is not None and announced > start:
        reasons.append(f"announced_at {stripped(fields.get('announced_at'))} is after start "
                       f"{stripped(fields.get('start'))}; a scheduled event must be announced before it starts")
    if reasons:
        return {}
    assert start is not None and end is not None and announced is not None
    return {
        "event_id": event_id, "host": host, "platform": stripped(fields.get("platform")),
        "start_at": start.astimezone(dt.timezone.utc), "end_at": end.astimezone(dt.timezone.utc),
        "utc_offset": offset, "local_day": start.date(), "skus": skus, "category": category,
        "regions": regions, "expected_viewers": viewers, "discount": discount, "status": status,
        "announced_at": announced.astimezone(dt.timezone.utc),
        "known_at": announced.astimezone(dt.timezone.utc),
    }


def _instant(name: str, value: str | None, reasons: list[str]) -> tuple[dt.datetime | None, str | None]:
    """An aware datetime in its own offset, and the offset text as written."""
    text = stripped(value)
    if text is None:
        reasons.append(f"{name} is empty; give an ISO 8601 time with offset like {_TIME_EXAMPLE}")
        return None, None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        reasons.append(f"{name} {quoted(text)} is not an ISO 8601 time; use e.g. {_TIME_EXAMPLE}")
        return None, None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        reasons.append(f"{name} {quoted(text)} has no time zone; add an offset like +08:00 or Z")
        return None, None
    if not in_range(name, text, parsed.date(), reasons):
        return None, None
    match = _OFFSET_TEXT.search(text)
    return parsed, match.group(0) if match else _format_offset(parsed)


def _format_offset(moment: dt.datetime) -> str:
    """``+08:00`` style text of an aware datetime's offset."""
    minutes = round(moment.utcoffset().total_seconds() / 60)  # type: ignore[union-attr]
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _id_list(name: str, value: str | None, reasons: list[str]) -> list[str] | None:
    """Ids from ``a;b;c`` or a JSON list ``["a", "b"]``, stripped, de-duplicated, in order.

    None (with a reason) when the value is neither.
    """
    text = stripped(value)
    if text is None:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list) or any(isinstance(i, (list, dict)) for i in items):
            reasons.append(f"{name} {quoted(text)} is neither a ;-separated list nor a JSON list of ids")
            return None
        parts = [str(i).strip() for i in items if i is not None]
    else:
        parts = [p.strip() for p in text.split(";")]
    return list(dict.fromkeys(p for p in parts if p))


def _named(values: Collection[str]) -> str:
    """``'A', 'B'`` for at most a few values, then ``(+N more)``."""
    values = list(values)
    shown = ", ".join(quoted(v) for v in values[:_MAX_NAMED])
    return shown + (f" (+{len(values) - _MAX_NAMED} more)" if len(values) > _MAX_NAMED else "")


def _featured(fields: dict[str, str | None], known: _Known, reasons: list[str]) -> tuple[list[str], str | None]:
    parsed = _id_list("skus", fields.get("skus"), reasons)
    skus = parsed or []
    category = stripped(fields.get("category"))
    check_length("category", category, MAX_ID_CHARS, reasons)
    unknown = [s for s in skus if s not in known.skus]
    if unknown:
        reasons.append(f"unknown SKU(s) {_named(unknown)}")
    if category is not None and known.categories is not None and category not in known.categories:
        reasons.append(f"unknown category {quoted(category)}")
    if parsed == [] and category is None:
        reasons.append("neither skus nor category given; list the featured SKUs or name a category")
    return skus, category


def _regions(value: str | None, known: frozenset[str] | None, reasons: list[str]) -> list[str] | None:
    ids = _id_list("regions", value, reasons)
    if not ids or any(i.lower() == "all" for i in ids):
        return None
    unknown = [i for i in ids if known is not None and i not in known]
    if unknown:
        reasons.append(f"unknown region(s) {_named(unknown)}")
    return ids


def _viewers(value: str | None, reasons: list[str]) -> int:
    text = stripped(value)
    if text is None:
        return 0
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        number = -1
    if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
        number = -1
    if number < 0:
        reasons.append(f"expected_viewers {quoted(text)} is not a non-negative integer")
        return 0
    if number > _MAX_VIEWERS:
        reasons.append(f"expected_viewers {quoted(text)} is too large (at most {_MAX_VIEWERS})")
        return 0
    return int(number)


def _status(value: str | None, reasons: list[str]) -> str | None:
    text = stripped(value)
    status = "scheduled" if text is None else text.lower()
    if status not in STATUSES:
        reasons.append(f"status {quoted(text)} is not one of {', '.join(STATUSES)}")
        return None
    return status

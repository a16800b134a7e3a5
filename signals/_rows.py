"""Row-validation helpers shared by the livestream, promotion and calendar parsers.

Each parser reads a payload row by row, appends every problem of a row to a list of one-line
reasons and rejects the row when that list is not empty. The helpers here check the header, strip
and quote values, parse discounts, dates and announcement times, and keep the last of duplicate rows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import polars as pl

from signals.errors import SignalError
from signals.frames import FIRST_DAY, LAST_DAY, REJECTED_SCHEMA

__all__ = [
    "check_length",
    "file_columns",
    "keep_last",
    "parse_announced",
    "parse_day",
    "parse_discount",
    "parse_rows",
    "quoted",
    "require_columns",
    "string_rows",
    "stripped",
    "with_line_numbers",
]

_SHOWN_CHARS = 60


def file_columns(raw: pl.DataFrame) -> str:
    """The payload's own columns for a message: ``a, b`` or ``no columns``."""
    return ", ".join(c for c in raw.columns if c != "line") or "no columns"


def require_columns(raw: pl.DataFrame, required: Sequence[str], what: str, fix: str) -> None:
    """Raise when ``raw`` lacks a required column.

    Args:
        raw: The payload as read.
        required: The columns it must have.
        what: What the payload is, e.g. ``"promotion file"``; starts the message.
        fix: How to fix it; ends the message.

    Raises:
        SignalError: ``{what} is missing column(s) {missing}; {fix}``.
    """
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise SignalError(f"{what} is missing column(s) {', '.join(missing)}; {fix}")


def with_line_numbers(raw: pl.DataFrame) -> pl.DataFrame:
    """``raw`` with an Int64 ``line`` column (the header is line 1) unless it has one already."""
    if "line" in raw.columns:
        return raw
    return raw.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))


def string_rows(raw: pl.DataFrame) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Yield ``(line, fields)`` for each row: the payload's own columns as strings."""
    raw = with_line_numbers(raw)
    fields = [c for c in raw.columns if c != "line"]
    for row in raw.select("line", *(pl.col(c).cast(pl.String) for c in fields)).iter_rows(named=True):
        line = row.pop("line")
        yield line, row


def parse_rows(
    raw: pl.DataFrame,
    parse: Callable[[dict[str, str | None], list[str]], dict[str, Any]],
    schema: Mapping[str, pl.DataType],
    key: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse every row, reject the rows with problems and keep the last of duplicate rows.

    Args:
        raw: The payload as read (its required columns already checked).
        parse: Parses one row's fields, appending every problem to the list it is given.
        schema: The schema of what ``parse`` returns.
        key: The columns that make two parsed rows duplicates (see ``keep_last``).

    Returns:
        ``(kept, rejected)``: the kept rows with ``schema`` in line order, and ``REJECTED_SCHEMA`` rows
        (problems joined by ``; ``, and the earlier duplicates) in line order.
    """
    good: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for line, fields in string_rows(raw):
        reasons: list[str] = []
        parsed = parse(fields, reasons)
        source = {"line": line, "raw": json.dumps(fields, ensure_ascii=False)}
        if reasons:
            rejected.append({**source, "reason": "; ".join(reasons)})
        else:
            good.append({**parsed, **source})
    kept, duplicates = keep_last(pl.DataFrame(good, schema={**schema, "line": pl.Int64, "raw": pl.String}), key)
    return kept, pl.concat([pl.DataFrame(rejected, schema=REJECTED_SCHEMA), duplicates]).sort("line")


def stripped(value: str | None) -> str | None:
    """The stripped value, or None when it is empty."""
    value = value.strip() if value is not None else None
    return value or None


def quoted(value: str) -> str:
    """A value quoted for a one-line reason: control characters escaped, long values cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return f"'{text[:_SHOWN_CHARS]}...'" if len(text) > _SHOWN_CHARS else f"'{text}'"


def check_length(name: str, value: str | None, limit: int, reasons: list[str]) -> None:
    """Append a reason when ``value`` has more than ``limit`` characters (storage keeps at most that many)."""
    if value is not None and len(value) > limit:
        reasons.append(f"{name} is longer than {limit} characters")


def in_range(name: str, text: str, day: dt.date, reasons: list[str]) -> bool:
    """False (with a reason) when ``day`` is outside ``FIRST_DAY``..``LAST_DAY``."""
    if FIRST_DAY <= day <= LAST_DAY:
        return True
    reasons.append(f"{name} {quoted(text)} is outside {FIRST_DAY} to {LAST_DAY}")
    return False


def parse_day(name: str, value: str | None, reasons: list[str]) -> dt.date | None:
    """An ISO date (``2024-03-05``) between ``FIRST_DAY`` and ``LAST_DAY``.

    Args:
        name: The field's name, for reasons.
        value: The field as read.
        reasons: Where a problem is appended (an empty value is one).

    Returns:
        The date, or None when the value is empty or not a date.
    """
    text = stripped(value)
    if text is None:
        reasons.append(f"{name} is empty; use an ISO date like 2024-03-05")
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        reasons.append(f"{name} {quoted(text)} is not an ISO date; use YYYY-MM-DD like 2024-03-05")
        return None
    return day if in_range(name, text, day, reasons) else None


def parse_discount(value: str | None, reasons: list[str], *, example: str, required: bool) -> float | None:
    """A discount between 0 and 1, written as a fraction (``0.15``) or a percentage (``15%``).

    Args:
        value: The field as read.
        reasons: Where a problem is appended.
        example: How to write one, for reasons, e.g. ``"0.2 or 20%"``.
        required: Whether an empty value is a problem; otherwise it means 0.

    Returns:
        The fraction, or None when it is out of range, not a number, or empty but required.
    """
    text = stripped(value)
    if text is None:
        if required:
            reasons.append(f"discount is empty; write e.g. {example}")
            return None
        return 0.0
    percent = text.endswith("%")
    try:
        number = float(text[:-1] if percent else text) / (100 if percent else 1)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:  # also catches NaN
        reasons.append(f"discount {quoted(text)} is not between 0 and 1; write e.g. {example}")
        return None
    return number


def parse_announced(value: str | None, reasons: list[str]) -> dt.datetime | None:
    """The ``announced_at`` instant in UTC: a date means its start, a time without an offset is UTC.

    Args:
        value: The field as read.
        reasons: Where a problem is appended.

    Returns:
        The instant, or None when the value is empty (no problem) or not an ISO date or time.
    """
    text = stripped(value)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        reasons.append(f"announced_at {quoted(text)} is not an ISO date or time; use e.g. 2024-02-20 "
                       "or 2024-02-20T09:00:00Z")
        return None
    if not in_range("announced_at", text, moment.date(), reasons):
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def keep_last(rows: pl.DataFrame, key: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the last line of each ``key``; the earlier lines become rejected rows.

    Args:
        rows: Parsed rows with their ``line`` and ``raw`` text.
        key: The columns that make two rows duplicates.

    Returns:
        ``(kept, duplicates)``: the kept rows in line order without ``line`` and ``raw``, and the
        earlier lines as ``line, raw, reason`` rows, e.g. ``duplicate of line 7 (same promo_id and
        known_at); the later line wins``.
    """
    same = f"{', '.join(key[:-1])} and {key[-1]}" if len(key) > 1 else key[0]
    ranked = rows.with_columns(pl.col("line").max().over(key).alias("_winner"))
    duplicates = ranked.filter(pl.col("line") != pl.col("_winner")).select(
        "line", "raw",
        pl.format(f"duplicate of line {{}} (same {same}); the later line wins", pl.col("_winner")).alias("reason"),
    )
    kept = ranked.filter(pl.col("line") == pl.col("_winner")).sort("line").drop("line", "raw", "_winner")
    return kept, duplicates

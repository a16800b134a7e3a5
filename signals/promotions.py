"""Planned promotions: one SKU discounted in one region (or all) over a span of days (`PROMOTION_SCHEMA`).

Promotion format, one per CSV row or JSON object (same field names in both):

============  ================================================================================
promo_id      required, non-empty
sku           required, a known SKU id
region        optional service region id; empty or ``all`` = every region
start, end    required ISO dates (``2024-03-05``); ``end`` is the last promoted day (inclusive)
discount      required, 0..1 or a percentage (``20%`` = 0.2)
announced_at  optional ISO date or time; without an offset it is UTC. When the column or value is
              absent the promotion counts as known from the start of (``start`` - lead days), UTC.
============  ================================================================================

Two rows with the same ``promo_id`` and the same ``known_at`` in one file: the later line wins and
the earlier one is rejected (a later ``known_at`` is a new version, kept as its own row).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Collection, Iterator
from typing import Any

import polars as pl

from signals.errors import SignalError
from signals.frames import PROMOTION_SCHEMA, REJECTED_SCHEMA

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "parse_promotions"]

logger = logging.getLogger(__name__)

COLUMNS = ("promo_id", "sku", "region", "start", "end", "discount", "announced_at")
REQUIRED_COLUMNS = ("promo_id", "sku", "start", "end", "discount")


def parse_promotions(
    raw: pl.DataFrame,
    *,
    known_skus: Collection[str],
    known_regions: Collection[str] | None = None,
    lead_days: int = 7,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a promotion plan into promotions and rejected rows.

    Args:
        raw: The payload as read (string columns plus an Int64 ``line``), see the module docstring.
        known_skus: SKU ids the service knows; a promotion of another SKU is rejected.
        known_regions: Service region ids; None accepts any region id.
        lead_days: How many days before its start a promotion without ``announced_at`` is known.

    Returns:
        ``(promotions, rejected)`` with ``PROMOTION_SCHEMA`` and ``REJECTED_SCHEMA``, in line order.

    Raises:
        SignalError: A required column is missing, or ``lead_days`` is negative.
    """
    if lead_days < 0:
        raise SignalError(f"lead_days={lead_days} is negative; pass 0 or more days")
    skus = frozenset(known_skus)
    regions = None if known_regions is None else frozenset(known_regions)
    good: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for line, fields in _rows(raw):
        reasons: list[str] = []
        promo = _parse_promotion(fields, skus, regions, lead_days, reasons)
        source = {"line": line, "raw": json.dumps(fields, ensure_ascii=False)}
        if reasons:
            rejected.append({**source, "reason": "; ".join(reasons)})
        else:
            good.append({**promo, **source})
    promotions = pl.DataFrame(good, schema={**PROMOTION_SCHEMA, "line": pl.Int64, "raw": pl.String})
    promotions, duplicates = _keep_last_version(promotions)
    rejected_frame = pl.concat([pl.DataFrame(rejected, schema=REJECTED_SCHEMA), duplicates]).sort("line")
    logger.info("promotions: %d rows, %d rejected rows", promotions.height, rejected_frame.height)
    return promotions, rejected_frame


def _rows(raw: pl.DataFrame) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Yield ``(line, fields)``: the file's own columns as strings."""
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise SignalError(
            f"promotion file is missing column(s) {', '.join(missing)}; "
            f"the file has {', '.join(c for c in raw.columns if c != 'line') or 'no columns'} "
            f"and needs the header {','.join(COLUMNS)} (region and announced_at may be left out)")
    if "line" not in raw.columns:
        raw = raw.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    fields = [c for c in raw.columns if c != "line"]
    for row in raw.select("line", *(pl.col(c).cast(pl.String) for c in fields)).iter_rows(named=True):
        line = row.pop("line")
        yield line, row


def _text(value: str | None) -> str | None:
    """The stripped value, or None when it is empty."""
    value = value.strip() if value is not None else None
    return value or None


def _show(value: str) -> str:
    """A value quoted for a one-line reason: control characters escaped, long values cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return f"'{text[:60]}...'" if len(text) > 60 else f"'{text}'"


def _parse_promotion(fields: dict[str, str | None], skus: frozenset[str], regions: frozenset[str] | None,
                     lead_days: int, reasons: list[str]) -> dict[str, Any]:
    """Parse one row; every problem is appended to ``reasons`` (the result is then meaningless)."""
    promo_id, sku = _text(fields.get("promo_id")), _text(fields.get("sku"))
    if promo_id is None:
        reasons.append("promo_id is empty")
    if sku is None:
        reasons.append("sku is empty")
    elif sku not in skus:
        reasons.append(f"unknown SKU {_show(sku)}")
    region = _text(fields.get("region"))
    region = None if region is None or region.lower() == "all" else region
    if region is not None and regions is not None and region not in regions:
        reasons.append(f"unknown region {_show(region)}")
    start, end = _day("start", fields.get("start"), reasons), _day("end", fields.get("end"), reasons)
    if start is not None and end is not None and end < start:
        reasons.append(f"ends before it starts (end {end} is before start {start})")
    discount = _discount(fields.get("discount"), reasons)
    announced = _announced(fields.get("announced_at"), reasons)
    if reasons or start is None:
        return {}
    if announced is None:
        announced = dt.datetime.combine(start - dt.timedelta(days=lead_days), dt.time(), tzinfo=dt.timezone.utc)
    return {"promo_id": promo_id, "sku": sku, "region": region, "start": start, "end": end,
            "discount": discount, "known_at": announced}


def _day(name: str, value: str | None, reasons: list[str]) -> dt.date | None:
    text = _text(value)
    if text is None:
        reasons.append(f"{name} is empty; use an ISO date like 2024-03-05")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        reasons.append(f"{name} {_show(text)} is not an ISO date; use YYYY-MM-DD like 2024-03-05")
        return None


def _discount(value: str | None, reasons: list[str]) -> float | None:
    text = _text(value)
    if text is None:
        reasons.append("discount is empty; write e.g. 0.2 or 20%")
        return None
    percent = text.endswith("%")
    try:
        number = float(text[:-1] if percent else text) / (100 if percent else 1)
    except ValueError:
        number = math.nan
    if not 0 <= number <= 1:  # also catches NaN
        reasons.append(f"discount {_show(text)} is not between 0 and 1; write e.g. 0.2 or 20%")
        return None
    return number


def _announced(value: str | None, reasons: list[str]) -> dt.datetime | None:
    """The announcement instant in UTC (a date = its start, no offset = UTC); None when absent."""
    text = _text(value)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        reasons.append(f"announced_at {_show(text)} is not an ISO date or time; use e.g. 2024-02-20 "
                       "or 2024-02-20T09:00:00Z")
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _keep_last_version(promotions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the last line of each (promo_id, known_at); the earlier ones become rejected rows."""
    ranked = promotions.with_columns(pl.col("line").max().over("promo_id", "known_at").alias("_winner"))
    duplicates = ranked.filter(pl.col("line") != pl.col("_winner")).select(
        "line", "raw",
        pl.format("duplicate of line {} (same promo_id and known_at); the later line wins",
                  pl.col("_winner")).alias("reason"),
    )
    kept = ranked.filter(pl.col("line") == pl.col("_winner")).sort("line").drop("line", "raw", "_winner")
    return kept, duplicates

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
import logging
from collections.abc import Collection
from typing import Any

import polars as pl

from signals._rows import (check_length, file_columns, parse_announced, parse_day, parse_discount, parse_rows,
                          quoted, require_columns, stripped)
from signals.errors import SignalError
from signals.frames import MAX_ID_CHARS, PROMOTION_SCHEMA

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
    require_columns(raw, REQUIRED_COLUMNS, "promotion file",
                    f"the file has {file_columns(raw)} and needs the header {','.join(COLUMNS)} "
                    "(region and announced_at may be left out)")
    promotions, rejected_frame = parse_rows(
        raw, lambda fields, reasons: _parse_promotion(fields, skus, regions, lead_days, reasons),
        PROMOTION_SCHEMA, ["promo_id", "known_at"])
    logger.info("promotions: %d rows, %d rejected rows", promotions.height, rejected_frame.height)
    return promotions, rejected_frame


def _parse_promotion(fields: dict[str, str | None], skus: frozenset[str], regions: frozenset[str] | None,
                     lead_days: int, reasons: list[str]) -> dict[str, Any]:
    """Parse one row; every problem is appended to ``reasons`` (the result is then meaningless)."""
    promo_id, sku = stripped(fields.get("promo_id")), stripped(fields.get("sku"))
    if promo_id is None:
        reasons.append("promo_id is empty")
    check_length("promo_id", promo_id, MAX_ID_CHARS, reasons)
    if sku is None:
        reasons.append("sku is empty")
    elif sku not in skus:
        reasons.append(f"unknown SKU {quoted(sku)}")
    region = stripped(fields.get("region"))
    region = None if region is None or region.lower() == "all" else region
    if region is not None and regions is not None and region not in regions:
        reasons.append(f"unknown region {quoted(region)}")
    start, end = parse_day("start", fields.get("start"), reasons), parse_day("end", fields.get("end"), reasons)
    if start is not None and end is not None and end < start:
        reasons.append(f"ends before it starts (end {end} is before start {start})")
    discount = parse_discount(fields.get("discount"), reasons, example="0.2 or 20%", required=True)
    announced = parse_announced(fields.get("announced_at"), reasons)
    if reasons or start is None:
        return {}
    if announced is None:
        announced = dt.datetime.combine(start - dt.timedelta(days=lead_days), dt.time(), tzinfo=dt.timezone.utc)
    return {"promo_id": promo_id, "sku": sku, "region": region, "start": start, "end": end,
            "discount": discount, "known_at": announced}

"""Ingest: read files, map them onto canonical columns, validate, and load them in one batch."""

from __future__ import annotations

from forecast.ingest.mapping import CANONICAL_COLUMNS, PRESETS, ColumnMapping, resolve_mapping
from forecast.ingest.master import ingest_regions, ingest_skus
from forecast.ingest.sales import IngestReport, ingest_sales

__all__ = [
    "CANONICAL_COLUMNS",
    "PRESETS",
    "ColumnMapping",
    "IngestReport",
    "ingest_regions",
    "ingest_sales",
    "ingest_skus",
    "resolve_mapping",
]

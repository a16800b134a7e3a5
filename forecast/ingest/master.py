"""Ingest master data: regions (with parent and population) and SKUs (with category and attributes).

These files are small and describe the world the sales live in, so a bad line rejects the file
(with every bad line named) rather than loading a half-described hierarchy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.ingest.readers import LINE_COLUMN, read_table
from forecast.ingest.validate import MAX_ID_LENGTH, has_control_character
from forecast.storage import repo

__all__ = ["REGION_COLUMNS", "SKU_COLUMNS", "ingest_regions", "ingest_skus"]

REGION_COLUMNS = {"region": "region id (required)", "name": "display name", "parent": "parent region id",
                  "population": "inhabitants, a non-negative integer (used for cases per 100k)"}
SKU_COLUMNS = {"sku": "SKU id (required)", "name": "display name", "category": "category",
               "(any other)": "kept as an attribute in sku.attributes"}


def _load(path: Path, id_column: str, encoding: str) -> pl.DataFrame:
    frame = read_table(path, encoding=encoding).frame
    frame = frame.filter(~pl.all_horizontal(pl.exclude(LINE_COLUMN).is_null()))
    if id_column not in frame.columns:
        raise InvalidInputError(f"{path.name}: missing column {id_column!r}; the file has {frame.columns[1:]}")
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in frame.columns if c != LINE_COLUMN)
    problems = frame.filter(
        pl.col(id_column).is_null() | (pl.col(id_column) == "") | (pl.col(id_column).str.len_chars() > MAX_ID_LENGTH)
    )[LINE_COLUMN].to_list()
    _raise_for_lines(path, problems, f"{id_column} is empty or longer than {MAX_ID_LENGTH} characters")
    controls = frame.filter(has_control_character(pl.col(id_column)))[LINE_COLUMN].to_list()
    _raise_for_lines(path, controls, f"{id_column} contains a control character (tab, line break, NUL, ...)")
    dupes = frame.filter(pl.col(id_column).is_duplicated())[LINE_COLUMN].to_list()
    _raise_for_lines(path, dupes, f"{id_column} appears more than once")
    return frame


def _raise_for_lines(path: Path, lines: list[int], what: str) -> None:
    if lines:
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        raise InvalidInputError(f"{path.name}: {what} on line(s) {shown}; fix those lines, nothing was loaded")


def ingest_regions(path: Path, *, session: Session, encoding: str = "utf-8") -> int:
    """Create or update the regions in `path` (columns `REGION_COLUMNS`); returns how many were new."""
    frame = _load(path, "region", encoding)
    if "population" in frame.columns:
        population = pl.col("population").cast(pl.Int64, strict=False)
        bad = frame.filter(
            (pl.col("population").is_not_null() & (pl.col("population") != "") & population.is_null()) | (population < 0)
        )[LINE_COLUMN].to_list()
        _raise_for_lines(path, bad, "population is not a non-negative integer")
    if "parent" in frame.columns:
        _raise_for_lines(path, frame.filter(pl.col("parent") == pl.col("region"))[LINE_COLUMN].to_list(),
                         "a region is its own parent")
    regions = []
    for row in frame.iter_rows(named=True):
        region: dict[str, Any] = {"id": row["region"]}
        if row.get("name"):
            region["name"] = row["name"]
        if "parent" in row:
            region["parent_id"] = row["parent"] or None
        if "population" in row:
            region["population"] = int(row["population"]) if row["population"] else None
        regions.append(region)
    return repo.upsert_regions(session=session, regions=regions)


def ingest_skus(path: Path, *, session: Session, encoding: str = "utf-8") -> int:
    """Create or update the SKUs in `path` (columns `SKU_COLUMNS`); returns how many were new."""
    frame = _load(path, "sku", encoding)
    attribute_columns = [c for c in frame.columns if c not in ("sku", "name", "category", LINE_COLUMN)]
    skus = []
    for row in frame.iter_rows(named=True):
        sku: dict[str, Any] = {"id": row["sku"], "attributes": {c: row[c] for c in attribute_columns if row[c]}}
        if row.get("name"):
            sku["name"] = row["name"]
        if "category" in row:
            sku["category"] = row["category"] or None
        skus.append(sku)
    return repo.upsert_skus(session=session, skus=skus)

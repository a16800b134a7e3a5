"""Ingest one sales file: read, map, validate, then write SKUs, regions, sales and rejects in one go.

The caller's session holds the whole batch: if anything fails the caller rolls back and the
database is as it was. Whole-file problems raise `InvalidInputError` before anything is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.ingest.mapping import ColumnMapping
from forecast.ingest.readers import LINE_COLUMN, read_table
from forecast.ingest.validate import REASON_COLUMN, validate_sales
from forecast.storage import bulk, repo
from forecast.storage.schema import ABSENT_POLICIES, IngestBatch

__all__ = ["ABSENT_CHOICES", "IngestReport", "absent_policy", "ingest_sales"]

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a batch is written."""

ABSENT_CHOICES = ("auto", *ABSENT_POLICIES)
"""What a day without a row means for a file's series: `zero` (the feed writes only days with a
sale), `unknown` (a missing report), or `auto`: `unknown` when the file has a row with 0 units (the
feed writes its zeros, so an absent day was not reported), else `zero`."""


@dataclass(frozen=True)
class IngestReport:
    """What one `ingest_sales` call did."""

    batch_id: int
    source: str
    sha256: str
    status: str
    already_ingested: bool
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rows_inserted: int
    rows_updated: int
    absent: str | None
    """What an absent day means for this batch's series (`ABSENT_POLICIES`)."""
    skus_created: int
    regions_created: int
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: read, validate, write."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for `--json` output."""
        return asdict(self)


def ingest_sales(
    path: Path,
    *,
    session: Session,
    mapping: ColumnMapping,
    encoding: str = "utf-8",
    delimiter: str = ",",
    force: bool = False,
    absent: str = "auto",
    progress: Progress | None = None,
) -> IngestReport:
    """Load the sales file at `path` into the database through `session` (which the caller commits).

    Args:
        absent: what a day without a row means for the file's series (`ABSENT_CHOICES`), stored with
            the batch together with the days the file covers.

    Raises:
        InvalidInputError: the file as a whole cannot be accepted (format, encoding, key columns,
            empty, no valid row, inconsistent master data). Nothing has been written.
    """
    started = time.perf_counter()
    raw = read_table(path, encoding=encoding, delimiter=delimiter)
    stages = {"read": time.perf_counter() - started}
    if absent not in ABSENT_CHOICES:
        raise InvalidInputError(f"absent days policy {absent!r} is unknown; use one of {', '.join(ABSENT_CHOICES)}")
    options = mapping.to_json()
    if absent != "auto":  # the same content under another policy is another batch
        options = json.dumps({**json.loads(options), "absent": absent}, sort_keys=True)
    previous = repo.find_batch(session=session, kind="sales", sha256=raw.sha256, options=options)
    if previous is not None and not force:
        logger.info("%s already ingested as batch %s", path, previous.id)
        return _report(previous, already=True, seconds=time.perf_counter() - started)

    data = raw.frame.filter(~pl.all_horizontal(pl.exclude(LINE_COLUMN).is_null()))  # drop blank lines
    try:
        canonical = mapping.apply(data).with_columns(data[LINE_COLUMN].cast(pl.Int64).alias(LINE_COLUMN))
        good, rejected = validate_sales(canonical, mapping.date_format)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{path.name}: {exc}") from None
    stages["validate"] = time.perf_counter() - started - stages["read"]

    batch = IngestBatch(
        kind="sales", source=str(path), sha256=raw.sha256, options=options, rows_total=canonical.height,
        rows_accepted=good.height, rows_rejected=rejected.height,
        status="partial" if rejected.height else "succeeded", absent=absent_policy(good, absent),
        first_day=good["day_parsed"].min(), last_day=good["day_parsed"].max(),
    )
    session.add(batch)
    session.flush()
    skus = _master_rows(good, "sku", {"category": "category", "sku_name": "name"})
    regions = _master_rows(good, "region", {"region_parent": "parent_id", "region_name": "name"})
    skus_created = repo.upsert_skus(session=session, skus=skus)
    regions_created = repo.upsert_regions(session=session, regions=regions)
    counts = bulk.merge_sales(
        session, _sales_rows(good), batch_id=batch.id,
        on_progress=(lambda done: progress("write", done, good.height)) if progress else None,
    )
    repo.add_rejected_rows(session=session, batch_id=batch.id, rows=_rejected_rows(data, rejected))
    batch.rows_inserted, batch.rows_updated = counts.inserted, counts.updated
    session.flush()
    stages["write"] = time.perf_counter() - started - stages["read"] - stages["validate"]
    logger.info("batch %s: %s accepted, %s rejected, %s inserted, %s updated", batch.id,
                good.height, rejected.height, counts.inserted, counts.updated)
    return _report(batch, already=False, seconds=time.perf_counter() - started,
                   skus_created=skus_created, regions_created=regions_created, stages=stages)


def _report(batch: IngestBatch, *, already: bool, seconds: float, skus_created: int = 0,
            regions_created: int = 0, stages: dict[str, float] | None = None) -> IngestReport:
    return IngestReport(
        batch_id=batch.id, source=batch.source, sha256=batch.sha256, status=batch.status, already_ingested=already,
        rows_total=batch.rows_total, rows_accepted=batch.rows_accepted, rows_rejected=batch.rows_rejected,
        rows_inserted=0 if already else batch.rows_inserted, rows_updated=0 if already else batch.rows_updated,
        absent=batch.absent,
        skus_created=skus_created, regions_created=regions_created, seconds=round(seconds, 3),
        stage_seconds={k: round(v, 3) for k, v in (stages or {}).items()},
    )


def absent_policy(good: pl.DataFrame, asked: str) -> str:
    """The policy `asked` for the accepted rows `good`, with `auto` resolved (see `ABSENT_CHOICES`)."""
    if asked != "auto":
        return asked
    return "unknown" if good.select((pl.col("units_parsed") == 0).any()).item() else "zero"


def _sales_rows(good: pl.DataFrame) -> pl.DataFrame:
    promo = pl.col("on_promo_parsed") if "on_promo_parsed" in good.columns else pl.lit(False)
    price = pl.col("price_parsed") if "price_parsed" in good.columns else pl.lit(None, dtype=pl.Float64)
    return good.select(
        pl.col("sku").alias("sku_id"), pl.col("region").alias("region_id"), pl.col("day_parsed").alias("day"),
        pl.col("units_parsed").alias("units"), price.alias("price"), promo.alias("on_promo"),
    )


def _first_non_empty(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().filter(pl.col(column).str.strip_chars() != "").first().alias(column)


def _master_rows(good: pl.DataFrame, key: str, fields: dict[str, str]) -> list[dict[str, Any]]:
    """One dict per distinct `key` with the first non-empty value of each file column in `fields`
    (file column -> repository field); `attr.*` columns become an `attributes` dict."""
    present = [c for c in fields if c in good.columns]
    attributes = [c for c in good.columns if c.startswith("attr.")] if key == "sku" else []
    table = good.group_by(key).agg([_first_non_empty(c) for c in present + attributes]).sort(key)
    rows = []
    for row in table.iter_rows(named=True):
        record: dict[str, Any] = {"id": row[key]}
        record.update({fields[c]: row[c] for c in present if row[c] is not None})
        if attributes:
            record["attributes"] = {c.removeprefix("attr."): row[c] for c in attributes if row[c] is not None}
        rows.append(record)
    return rows


def _rejected_rows(data: pl.DataFrame, rejected: pl.DataFrame) -> list[tuple[int, str, str]]:
    originals = data.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64)).join(rejected, on=LINE_COLUMN, how="inner")
    out = []
    for row in originals.sort(LINE_COLUMN).iter_rows(named=True):
        line, reason = row.pop(LINE_COLUMN), row.pop(REASON_COLUMN)
        out.append((line, json.dumps(row, ensure_ascii=False), reason))
    return out

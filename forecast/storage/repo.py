"""Repository functions: reads and writes the rest of the code uses. They take `*, session` and never commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecast.storage.schema import (
    CalendarEvent,
    CaseCount,
    IngestBatch,
    LivestreamEvent,
    Promotion,
    Region,
    RejectedRow,
    Sales,
    Sku,
)

__all__ = [
    "find_batch",
    "last_sales_day",
    "list_batches",
    "get_batch",
    "add_rejected_rows",
    "list_rejected_rows",
    "upsert_skus",
    "upsert_regions",
    "distinct_values",
    "region_ids",
    "region_populations",
    "region_parents",
    "sku_category",
    "sku_ids",
    "sku_rows",
    "sku_categories",
    "storage_summary",
]


def _insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT (both PostgreSQL and SQLite support ON CONFLICT)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def find_batch(*, session: Session, kind: str, sha256: str, options: str) -> IngestBatch | None:
    """The earliest batch that ingested the same content under the same options, if any."""
    stmt = (
        select(IngestBatch)
        .where(IngestBatch.kind == kind, IngestBatch.sha256 == sha256, IngestBatch.options == options)
        .order_by(IngestBatch.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def get_batch(*, session: Session, batch_id: int) -> IngestBatch | None:
    """One batch by id."""
    return session.get(IngestBatch, batch_id)


def list_batches(*, session: Session, limit: int = 50) -> Sequence[IngestBatch]:
    """The most recent batches first."""
    return session.scalars(select(IngestBatch).order_by(IngestBatch.id.desc()).limit(limit)).all()


def add_rejected_rows(*, session: Session, batch_id: int, rows: Iterable[tuple[int, str, str]]) -> int:
    """Store quarantined rows given as (line, raw JSON, reason); returns how many."""
    values = [{"batch_id": batch_id, "line": line, "raw": raw, "reason": reason} for line, raw, reason in rows]
    if values:
        session.execute(RejectedRow.__table__.insert(), values)
    return len(values)


def list_rejected_rows(*, session: Session, batch_id: int, limit: int | None = None) -> Sequence[RejectedRow]:
    """Quarantined rows of a batch in file order."""
    stmt = select(RejectedRow).where(RejectedRow.batch_id == batch_id).order_by(RejectedRow.line)
    return session.scalars(stmt.limit(limit) if limit else stmt).all()


def _existing_ids(session: Session, model: Any, ids: Iterable[str]) -> set[str]:
    ids = list(ids)
    found: set[str] = set()
    for start in range(0, len(ids), 5000):
        found.update(session.scalars(select(model.id).where(model.id.in_(ids[start : start + 5000]))))
    return found


def upsert_skus(*, session: Session, skus: list[dict[str, Any]]) -> int:
    """Create unknown SKUs and update the fields given for known ones; returns how many were new.

    Each dict has `id` and any of `name`, `category`, `attributes` (replacing the stored ones).
    """
    if not skus:
        return 0
    new = len(skus) - len(_existing_ids(session, Sku, (s["id"] for s in skus)))
    for fields in _group_by_keys(skus):
        rows = [{"name": s.get("name") or s["id"], "attributes": s.get("attributes") or {}, **s} for s in fields]
        stmt = _insert(session, Sku)
        updates = {k: stmt.excluded[k] for k in fields[0] if k not in ("id", "attributes")}
        if "attributes" in fields[0]:
            updates["attributes"] = stmt.excluded.attributes
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=updates) if updates else stmt.on_conflict_do_nothing()
        session.execute(stmt, rows)
    return new


def upsert_regions(*, session: Session, regions: list[dict[str, Any]]) -> int:
    """Create unknown regions (parents first) and update given fields of known ones; returns how many were new.

    Each dict has `id` and any of `name`, `parent_id`, `population`.
    """
    if not regions:
        return 0
    parents = {r["parent_id"] for r in regions if r.get("parent_id")} - {r["id"] for r in regions}
    all_ids = {r["id"] for r in regions} | parents
    new = len(all_ids) - len(_existing_ids(session, Region, all_ids))
    if parents:
        stmt = _insert(session, Region).on_conflict_do_nothing(index_elements=["id"])
        session.execute(stmt, [{"id": p, "name": p} for p in sorted(parents)])
    ordered = sorted(regions, key=lambda r: r.get("parent_id") is not None)
    for fields in _group_by_keys(ordered):
        stmt = _insert(session, Region)
        updates = {k: stmt.excluded[k] for k in fields[0] if k != "id"}
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=updates) if updates else stmt.on_conflict_do_nothing()
        session.execute(stmt, [{"name": r.get("name") or r["id"], **r} for r in fields])
    return new


def sku_categories(*, session: Session) -> pl.DataFrame:
    """sku, category (null where none) of every stored SKU."""
    rows = session.execute(select(Sku.id, Sku.category)).all()
    return pl.DataFrame(rows, schema={"sku": pl.String, "category": pl.String}, orient="row")


def region_parents(*, session: Session) -> dict[str, str | None]:
    """region -> its parent region (None at the top) of every stored region."""
    return {region: parent for region, parent in session.execute(select(Region.id, Region.parent_id))}


def _group_by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split rows into runs with the same set of keys (executemany needs one shape), keeping order."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def last_sales_day(*, session: Session) -> dt.date | None:
    """The newest day with a stored sale (None when there is none)."""
    return session.scalar(select(func.max(Sales.day)))


def storage_summary(*, session: Session) -> dict[str, Any]:
    """Counts and date range of what is stored, for `demand summary` and the demo."""
    first, last, rows, series = session.execute(
        select(func.min(Sales.day), func.max(Sales.day), func.count(), func.count(func.distinct(Sales.sku_id + "\x1f" + Sales.region_id)))
    ).one()
    return {
        "skus": session.scalar(select(func.count()).select_from(Sku)),
        "regions": session.scalar(select(func.count()).select_from(Region)),
        "sales_rows": rows,
        "series": series,
        "first_day": _iso(first),
        "last_day": _iso(last),
        "units_total": float(session.scalar(select(func.coalesce(func.sum(Sales.units), 0.0)))),
        "batches": session.scalar(select(func.count()).select_from(IngestBatch)),
        "rejected_rows": session.scalar(select(func.count()).select_from(RejectedRow)),
        **{name: session.scalar(select(func.count()).select_from(model)) for name, model in (
            ("case_count_versions", CaseCount), ("livestream_versions", LivestreamEvent),
            ("promotion_versions", Promotion), ("calendar_days", CalendarEvent))},
    }


def _iso(value: dt.date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


def sku_ids(*, session: Session) -> list[str]:
    """Every stored SKU id, sorted."""
    return list(session.scalars(select(Sku.id).order_by(Sku.id)).all())


def region_ids(*, session: Session) -> list[str]:
    """Every stored region id, sorted."""
    return list(session.scalars(select(Region.id).order_by(Region.id)).all())


def sku_category(*, session: Session, sku: str) -> str | None:
    """The category of one SKU (None when it has none or is not stored)."""
    return session.scalar(select(Sku.category).where(Sku.id == sku))


def sku_rows(*, session: Session) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """id, category, attributes of every stored SKU."""
    return [(sku, category, attributes) for sku, category, attributes in
            session.execute(select(Sku.id, Sku.category, Sku.attributes))]


def region_populations(*, session: Session) -> dict[str, int]:
    """region -> population of the stored regions that have one."""
    return {region: population for region, population in session.execute(select(Region.id, Region.population))
            if population}


def distinct_values(*, session: Session, column: Any) -> set[str]:
    """The distinct non-null values of a master-data `column` (e.g. `Sku.category`, `Region.id`)."""
    return {v for v in session.scalars(select(column).distinct()) if v is not None}

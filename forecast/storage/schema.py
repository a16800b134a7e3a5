"""The typed SQLAlchemy 2.0 schema: the one place tables are declared. Alembic owns every change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Sku", "Region", "Sales", "IngestBatch", "RejectedRow", "BATCH_STATUSES"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys that autoincrement on both engines (SQLite only does so for INTEGER).
BigId = BigInteger().with_variant(Integer(), "sqlite")

BATCH_STATUSES = ("succeeded", "partial")
"""`succeeded`: every row accepted; `partial`: some rows went to `rejected_row`."""


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON}


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC (the only clock the storage uses)."""
    return dt.datetime.now(dt.timezone.utc)


class Sku(Base):
    """A stock-keeping unit: one product as the planners know it."""

    __tablename__ = "sku"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    category: Mapped[str | None] = mapped_column(String(128), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Region(Base):
    """A selling region (store, county, province); `parent_id` builds the hierarchy."""

    __tablename__ = "region"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("region.id"), index=True)
    population: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("population IS NULL OR population >= 0", name="population_non_negative"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )


class IngestBatch(Base):
    """One ingested file: where it came from, its content hash and what happened to its rows."""

    __tablename__ = "ingest_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    options: Mapped[str] = mapped_column(Text, default="{}")
    """Canonical JSON of the mapping used; the same content under another mapping is another batch."""
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_ingest_batch_kind_sha256", "kind", "sha256"),
        CheckConstraint(f"status IN {BATCH_STATUSES!r}", name="status_known"),
    )


class Sales(Base):
    """Units sold of one SKU in one region on one day (one row per key)."""

    __tablename__ = "sales"

    sku_id: Mapped[str] = mapped_column(ForeignKey("sku.id"), primary_key=True)
    region_id: Mapped[str] = mapped_column(ForeignKey("region.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[float] = mapped_column(Double)
    price: Mapped[float | None] = mapped_column(Double)
    on_promo: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_id: Mapped[int] = mapped_column(BigId)
    """The `ingest_batch` that last changed this row. Not a foreign key on purpose: a per-row
    foreign-key check costs ~7 s per million rows on PostgreSQL, and batches are never deleted."""

    __table_args__ = (
        CheckConstraint("units >= 0", name="units_non_negative"),
        CheckConstraint("price IS NULL OR price >= 0", name="price_non_negative"),
        Index("ix_sales_region_id_day", "region_id", "day"),
        {"sqlite_with_rowid": False},  # the key is the clustered index: one B-tree, not two
    )


class RejectedRow(Base):
    """A row of an ingested file that was quarantined instead of loaded, with its reason."""

    __tablename__ = "rejected_row"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batch.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    """Line in the file (the header is line 1); for Parquet, the row number plus one."""
    raw: Mapped[str] = mapped_column(Text)
    """The row's original fields as a JSON object, exactly as read."""
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("batch_id", "line", name="uq_rejected_row_batch_line"),)

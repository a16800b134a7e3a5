"""Bulk upsert of sales rows through each engine's fast path.

Rows go into a temporary staging table (PostgreSQL: `COPY ... FROM STDIN` in CSV chunks; SQLite:
`executemany`), then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` merges them into `sales`,
touching only rows whose values changed. SQLAlchemy has no COPY and no engine-neutral merge, so
this part is written by hand.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["MergeCounts", "merge_sales"]

STAGE = "sales_stage"
STAGE_COLUMNS = ("sku_id", "region_id", "day", "units", "price", "on_promo")
COPY_CHUNK_ROWS = 200_000
SQLITE_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class MergeCounts:
    """How many staged rows were new keys and how many changed an existing row."""

    inserted: int
    updated: int


def merge_sales(
    session: Session,
    rows: pl.DataFrame,
    *,
    batch_id: int,
    on_progress: Callable[[int], None] | None = None,
) -> MergeCounts:
    """Upsert `rows` (columns `STAGE_COLUMNS`) into `sales`, recording `batch_id` on changed rows.

    Args:
        session: open session; the caller commits.
        rows: typed rows with unique (sku_id, region_id, day).
        batch_id: the ingest batch that writes them.
        on_progress: called with the number of rows staged after each chunk.
    """
    conn = session.connection()
    dialect = conn.dialect.name
    rows = rows.select(STAGE_COLUMNS)
    if dialect == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (sku_id text, region_id text, day date, units float8, "
            "price float8, on_promo boolean) ON COMMIT DROP"
        )
        _copy_postgres(conn, rows, on_progress)
        changed = "(s.units, s.price, s.on_promo) IS DISTINCT FROM (excluded.units, excluded.price, excluded.on_promo)"
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{STAGE}")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {STAGE} (sku_id TEXT, region_id TEXT, day DATE, units REAL, price REAL, on_promo BOOLEAN)"
        )
        _executemany_sqlite(conn, rows, on_progress)
        changed = "s.units IS NOT excluded.units OR s.price IS NOT excluded.price OR s.on_promo IS NOT excluded.on_promo"
    inserted = conn.execute(
        text(
            f"SELECT count(*) FROM {STAGE} g WHERE NOT EXISTS (SELECT 1 FROM sales x "
            "WHERE x.sku_id = g.sku_id AND x.region_id = g.region_id AND x.day = g.day)"
        )
    ).scalar_one()
    result = conn.execute(
        text(
            f"INSERT INTO sales AS s (sku_id, region_id, day, units, price, on_promo, batch_id) "
            f"SELECT sku_id, region_id, day, units, price, on_promo, :batch_id FROM {STAGE} WHERE true "
            "ON CONFLICT (sku_id, region_id, day) DO UPDATE SET units = excluded.units, price = excluded.price, "
            f"on_promo = excluded.on_promo, batch_id = excluded.batch_id WHERE {changed}"
        ),
        {"batch_id": batch_id},
    )
    conn.exec_driver_sql(f"DROP TABLE {STAGE}")
    return MergeCounts(inserted=inserted, updated=result.rowcount - inserted)


def _copy_postgres(conn, rows: pl.DataFrame, on_progress: Callable[[int], None] | None) -> None:
    cursor = conn.connection.driver_connection.cursor()
    done = 0
    with cursor.copy(f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
        for chunk in rows.iter_slices(COPY_CHUNK_ROWS):
            buffer = io.BytesIO()
            chunk.write_csv(buffer, include_header=False, null_value="")
            copy.write(buffer.getvalue())
            done += chunk.height
            if on_progress:
                on_progress(done)


def _executemany_sqlite(conn, rows: pl.DataFrame, on_progress: Callable[[int], None] | None) -> None:
    rows = rows.with_columns(pl.col("day").cast(pl.String), pl.col("on_promo").cast(pl.Int8))
    cursor = conn.connection.driver_connection.cursor()
    sql = f"INSERT INTO {STAGE} VALUES (?, ?, ?, ?, ?, ?)"
    done = 0
    for chunk in rows.iter_slices(SQLITE_CHUNK_ROWS):
        cursor.executemany(sql, chunk.iter_rows())
        done += chunk.height
        if on_progress:
            on_progress(done)
    cursor.close()

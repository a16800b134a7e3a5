"""Signal features from storage: the sales panel and every signal exactly as known at a cutoff.

The glue between the database and `signals.build_features`. Signal rows are filtered in SQL by
`known_at` (so a backtest never even loads what was learned after its cutoff) and again by the
builder; sales are read up to the cutoff only. `load_signals` and `build_panel_features` are the
two halves of `signal_features`, for callers (scenarios) that change the signals before building.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from forecast.storage import signal_repo
from forecast.series_shape import regular_panel, series_shapes, zero_spans
from forecast.settings import get_settings
from forecast.storage.schema import IngestBatch, Region, Sales, SalesHistory, Sku
from signals.features import FEATURE_COLUMNS, build_features
from signals.frames import as_of_instant

ROWS_PER_BATCH = 200_000
"""Sales rows read into a frame at a time."""

__all__ = ["FEATURE_COLUMNS", "SalesPanel", "StoredSignals", "build_panel_features", "load_signals", "read_sales",
           "sales_panel", "signal_features"]


@dataclass(frozen=True)
class StoredSignals:
    """Every signal frame visible at `cutoff`, plus the region tree and SKU categories the builder needs."""

    cutoff: dt.date
    cases: pl.DataFrame
    livestreams: pl.DataFrame
    promotions: pl.DataFrame
    calendar: pl.DataFrame
    region_parents: dict[str, str | None]
    sku_categories: dict[str, str]

    def with_livestreams(self, extra: pl.DataFrame) -> StoredSignals:
        """A copy with `extra` livestream rows (LIVESTREAM_SCHEMA) added to the stored ones."""
        return replace(self, livestreams=pl.concat([self.livestreams, extra.select(self.livestreams.columns)],
                                                   how="vertical_relaxed"))


@dataclass(frozen=True)
class SalesPanel:
    """The regular sales panel of the modelled series and the shape of every stored series."""

    frame: pl.DataFrame
    """sku, region, day, y[, price], reported: one row per day from each series' first day (see
    `series_shape.regular_panel`); inactive series are left out."""
    shapes: pl.DataFrame
    """`series_shape.SHAPE_SCHEMA` plus `unknown_days` (absent days not reported, y null in `frame`),
    one row per stored series, inactive ones included."""


def read_sales(*, session: Session, cutoff: dt.date, horizon: int = 0, skus: list[str] | None = None,
               max_batch: int | None = None, price: bool = True, inactive_after: int | None = None,
               keep_inactive: bool = False) -> SalesPanel:
    """Sales up to `cutoff` as one row per series and day by each series' absent-days policy, plus
    future days with y null: `horizon` days after the cutoff, and for a late series its days from its
    last reported day on, every series through the same last day (`cutoff + horizon + most days late`).

    Args:
        max_batch: read the sales as they were right after this ingest batch (later inserts left
            out, later corrections undone from `sales_history`); None for the current data.
        price: include the unit price column (null when unknown; the `price_rel` feature reads it).
        inactive_after: days without a sale that make a series inactive (default: the settings').
        keep_inactive: keep the inactive series in the frame (actuals for scoring), not only in `shapes`.
    """
    rows = _sales_rows(session, cutoff=cutoff, skus=skus, max_batch=max_batch)
    if inactive_after is None:
        inactive_after = get_settings().inactive_after_days
    batches = _sales_batches(session)
    shapes = series_shapes(rows, batches, cutoff=cutoff, inactive_after=inactive_after)
    modelled = shapes if keep_inactive else shapes.filter(pl.col("status") != "inactive")
    end = None
    if horizon > 0:
        end = cutoff + dt.timedelta(days=horizon + (modelled["days_late"].max() or 0))
    frame = regular_panel(rows.drop("batch_id") if price else rows.drop("batch_id", "price"), modelled,
                          zero_spans(rows, batches), end=end)
    unknown = frame.filter(pl.col("reported") & pl.col("y").is_null()).group_by("sku", "region").len("unknown_days")
    shapes = shapes.join(unknown, on=["sku", "region"], how="left").with_columns(pl.col("unknown_days").fill_null(0))
    return SalesPanel(frame, shapes)


def sales_panel(*, session: Session, cutoff: dt.date, horizon: int = 0, skus: list[str] | None = None,
                max_batch: int | None = None, price: bool = True, keep_inactive: bool = False) -> pl.DataFrame:
    """The frame of `read_sales` (sku, region, day, y[, price], reported), for callers that need no shapes."""
    return read_sales(session=session, cutoff=cutoff, horizon=horizon, skus=skus, max_batch=max_batch,
                      price=price, keep_inactive=keep_inactive).frame


def _sales_batches(session: Session) -> pl.DataFrame:
    """batch_id, absent, first_day, last_day of every sales batch."""
    rows = session.execute(select(IngestBatch.id, IngestBatch.absent, IngestBatch.first_day, IngestBatch.last_day)
                           .where(IngestBatch.kind == "sales")).all()
    schema = {"batch_id": pl.Int64, "absent": pl.String, "first_day": pl.Date, "last_day": pl.Date}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _sales_rows(session: Session, *, cutoff: dt.date, skus: list[str] | None, max_batch: int | None) -> pl.DataFrame:
    """sku, region, day, y, price, batch_id of every stored sale up to `cutoff` (as known after `max_batch`)."""
    def columns(table: type[Sales] | type[SalesHistory]) -> Select:
        return select(table.sku_id.label("sku"), table.region_id.label("region"), table.day,
                      table.units.label("y"), table.price, table.batch_id).where(table.day <= cutoff)

    current = columns(Sales)
    if skus:
        current = current.where(Sales.sku_id.in_(skus))
    statements = [current]
    if max_batch is not None:
        h = SalesHistory
        older = columns(h).where(h.batch_id <= max_batch, h.replaced_by > max_batch)
        statements = [current.where(Sales.batch_id <= max_batch), older.where(h.sku_id.in_(skus)) if skus else older]
    schema = {"sku": pl.String, "region": pl.String, "day": pl.Date, "y": pl.Float64, "price": pl.Float64,
              "batch_id": pl.Int64}
    # polars' reader in batches, not the ORM's rows: 2,000 series x 3 years in 11 s instead of 17 s. The
    # schema is given, not inferred from a batch's first rows (a price that starts null made them Null).
    parts = [batch for stmt in statements for batch in pl.read_database(
        stmt, session.connection(), iter_batches=True, batch_size=ROWS_PER_BATCH, schema_overrides=schema)]
    return pl.concat(parts, rechunk=True) if parts else pl.DataFrame(schema=schema)


def load_signals(*, session: Session, cutoff: dt.date, max_batch: int | None = None) -> StoredSignals:
    """Every stored signal known by the end of `cutoff` (and stored by batch `max_batch`), with the
    region parents and SKU categories."""
    as_of = as_of_instant(cutoff)
    limits = {"session": session, "as_of": as_of, "max_batch": max_batch}
    return StoredSignals(
        cutoff=cutoff,
        cases=signal_repo.load_case_counts(**limits),
        livestreams=signal_repo.load_livestreams(**limits),
        promotions=signal_repo.load_promotions(**limits),
        calendar=signal_repo.load_calendar(**limits),
        region_parents={r: p for r, p in session.execute(select(Region.id, Region.parent_id))},
        sku_categories={s: c for s, c in session.execute(select(Sku.id, Sku.category)) if c is not None},
    )


def build_panel_features(panel: pl.DataFrame, signals: StoredSignals, *, case_scenario: str = "hold",
                         scenario_weekly_rate: float = 0.3) -> pl.DataFrame:
    """`panel` (sku, region, day, y) with every feature built from `signals` as of their cutoff."""
    return build_features(
        panel,
        cutoff=signals.cutoff,
        cases=signals.cases,
        livestreams=signals.livestreams,
        promotions=signals.promotions,
        calendar=signals.calendar,
        region_parents=signals.region_parents,
        sku_categories=signals.sku_categories,
        case_scenario=case_scenario,
        scenario_weekly_rate=scenario_weekly_rate,
    )


def signal_features(
    *,
    session: Session,
    cutoff: dt.date,
    panel: pl.DataFrame | None = None,
    horizon: int = 0,
    case_scenario: str = "hold",
) -> pl.DataFrame:
    """The panel (default: `sales_panel`) with every signal feature as known at the end of `cutoff`."""
    if panel is None:
        panel = sales_panel(session=session, cutoff=cutoff, horizon=horizon)
    return build_panel_features(panel, load_signals(session=session, cutoff=cutoff), case_scenario=case_scenario)

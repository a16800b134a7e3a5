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
from sqlalchemy.orm import Session

from forecast.storage import repo, sales_repo, signal_repo
from forecast.series_shape import regular_panel, series_shapes, zero_spans
from forecast.settings import get_settings
from signals.features import FEATURE_COLUMNS, build_features
from signals.frames import as_of_instant

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
    rows = sales_repo.read_sales_rows(session=session, cutoff=cutoff, skus=skus, max_batch=max_batch)
    if inactive_after is None:
        inactive_after = get_settings().inactive_after_days
    batches = sales_repo.read_sales_batches(session=session)
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
        region_parents=repo.region_parents(session=session),
        sku_categories={s: c for s, c in repo.sku_categories(session=session).iter_rows() if c is not None},
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

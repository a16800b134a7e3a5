"""Signal features from storage: the sales panel and every signal exactly as known at a cutoff.

The glue between the database and `signals.build_features`. Signal rows are filtered in SQL by
`known_at` (so a backtest never even loads what was learned after its cutoff) and again by the
builder; sales are read up to the cutoff only.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecast.storage import signal_repo
from forecast.storage.schema import Region, Sales, Sku
from signals.features import FEATURE_COLUMNS, build_features
from signals.frames import as_of_instant

__all__ = ["FEATURE_COLUMNS", "sales_panel", "signal_features"]


def sales_panel(*, session: Session, cutoff: dt.date, horizon: int = 0, skus: list[str] | None = None) -> pl.DataFrame:
    """Sales up to `cutoff` as (sku, region, day, y), plus `horizon` future days per series with y null."""
    stmt = select(Sales.sku_id, Sales.region_id, Sales.day, Sales.units).where(Sales.day <= cutoff)
    if skus:
        stmt = stmt.where(Sales.sku_id.in_(skus))
    history = pl.DataFrame(session.execute(stmt).all(), orient="row",
                           schema={"sku": pl.String, "region": pl.String, "day": pl.Date, "y": pl.Float64})
    if horizon <= 0 or history.is_empty():
        return history.sort("sku", "region", "day")
    future_days = pl.date_range(cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=horizon), eager=True)
    future = (history.select("sku", "region").unique()
              .join(pl.DataFrame({"day": future_days}), how="cross")
              .with_columns(pl.lit(None, dtype=pl.Float64).alias("y")))
    return pl.concat([history, future]).sort("sku", "region", "day")


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
    as_of = as_of_instant(cutoff)
    regions = {r: p for r, p in session.execute(select(Region.id, Region.parent_id))}
    categories = {s: c for s, c in session.execute(select(Sku.id, Sku.category)) if c is not None}
    return build_features(
        panel,
        cutoff=cutoff,
        cases=signal_repo.load_case_counts(session=session, as_of=as_of),
        livestreams=signal_repo.load_livestreams(session=session, as_of=as_of),
        promotions=signal_repo.load_promotions(session=session, as_of=as_of),
        calendar=signal_repo.load_calendar(session=session, as_of=as_of),
        region_parents=regions,
        sku_categories=categories,
        case_scenario=case_scenario,
    )

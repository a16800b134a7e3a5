"""Planner overrides of the published forecast: add, withdraw, list, and the adjusted view. Callers commit."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.storage.schema import OVERRIDE_KINDS, ForecastOverride

__all__ = ["add_override", "list_overrides", "read_adjusted", "withdraw_override"]


def add_override(*, session: Session, sku: str, region: str, start: dt.date, end: dt.date, kind: str, amount: float,
                 reason: str, user: str) -> int:
    """Store an override and return its id.

    Raises:
        InvalidInputError: no reason, a reversed range, an unknown kind, or an amount that would go negative.
    """
    if not reason.strip():
        raise InvalidInputError("an override needs a reason (what the planner knows that the model does not)")
    if end < start:
        raise InvalidInputError(f"the override ends ({end}) before it starts ({start})")
    if kind not in OVERRIDE_KINDS:
        raise InvalidInputError(f"override kind {kind!r} is unknown; use value or percent")
    if (kind == "value" and amount < 0) or (kind == "percent" and amount < -100):
        raise InvalidInputError(f"an override of {amount} {'units' if kind == 'value' else '%'} would forecast "
                                "negative demand")
    row = ForecastOverride(sku_id=sku, region_id=region, start_day=start, end_day=end, kind=kind, amount=amount,
                           reason=reason.strip(), created_by=user)
    session.add(row)
    session.flush()
    return row.id


def withdraw_override(*, session: Session, override_id: int) -> None:
    """Stop applying an override (it stays in the history)."""
    session.execute(update(ForecastOverride).where(ForecastOverride.id == override_id).values(active=False))


def list_overrides(*, session: Session, sku: str | None = None, region: str | None = None) -> pl.DataFrame:
    """Overrides, newest first (optionally of one series)."""
    o = ForecastOverride
    query = select(o.id, o.sku_id, o.region_id, o.start_day, o.end_day, o.kind, o.amount, o.reason, o.created_by,
                   o.created_at, o.active).order_by(o.id.desc())
    if sku is not None:
        query = query.where(o.sku_id == sku)
    if region is not None:
        query = query.where(o.region_id == region)
    result = session.execute(query)
    return pl.DataFrame(result.all(), schema=list(result.keys()), orient="row", infer_schema_length=None)


def read_adjusted(*, session: Session, sku: str, region: str) -> pl.DataFrame:
    """`published_forecast_adjusted` rows of one series: day, yhat, yhat_adjusted, override_id, reason, by."""
    rows = session.execute(text(
        "SELECT day, yhat, yhat_adjusted, override_id, override_reason, override_by FROM published_forecast_adjusted "
        "WHERE sku = :sku AND region = :region ORDER BY day"), {"sku": sku, "region": region}).all()
    normal = [(r[0] if isinstance(r[0], dt.date) else dt.date.fromisoformat(r[0]), *r[1:]) for r in rows]
    return pl.DataFrame(normal, schema={"day": pl.Date, "yhat": pl.Float64, "yhat_adjusted": pl.Float64,
                                        "override_id": pl.Int64, "override_reason": pl.String,
                                        "override_by": pl.String}, orient="row")

"""Scenarios: created as `running`, completed with their values in one transaction, or failed.

Functions take `*, session` and never commit. Scenario rows never touch `published_series`, so the
published forecast is the same before and after any scenario.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forecast.errors import InvalidInputError
from forecast.storage.bulk import insert_frame
from forecast.storage.schema import ForecastRun, Scenario, ScenarioValue

__all__ = [
    "SCENARIO_VALUE_COLUMNS",
    "complete_scenario",
    "create_scenario",
    "fail_scenario",
    "get_scenario",
    "latest_published_run_id",
    "list_scenarios",
    "read_scenario_values",
]

BOUNDS = ("yhat", "lo80", "hi80", "lo95", "hi95")
SCENARIO_VALUE_COLUMNS = ("sku_id", "region_id", "day", *(f"baseline_{c}" for c in BOUNDS), *BOUNDS, "uplift", "model")


def latest_published_run_id(*, session: Session) -> int | None:
    """Id of the most recently published forecast run that is still (partly) published, if any."""
    return session.scalar(select(ForecastRun.id).where(ForecastRun.status == "published")
                          .order_by(ForecastRun.published_at.desc(), ForecastRun.id.desc()).limit(1))


def create_scenario(*, session: Session, name: str, kind: str, plan: dict[str, Any], cutoff: dt.date, horizon: int,
                    model: str, created_by: str, code_version: str) -> Scenario:
    """Insert a `running` scenario (pointing at the published run of the moment) and return it."""
    scenario = Scenario(name=name, kind=kind, plan=plan, cutoff=cutoff, horizon=horizon, model=model,
                        status="running", created_by=created_by, code_version=code_version,
                        base_run_id=latest_published_run_id(session=session))
    session.add(scenario)
    session.flush()
    return scenario


def complete_scenario(*, session: Session, scenario_id: int, values: pl.DataFrame, seconds: float) -> int:
    """Bulk-write the scenario's rows (`SCENARIO_VALUE_COLUMNS`) and mark it complete; returns the row count."""
    frame = values.select(pl.lit(scenario_id).cast(pl.Int64).alias("scenario_id"), *SCENARIO_VALUE_COLUMNS)
    written = insert_frame(session, "scenario_value", frame)
    series = frame.select("sku_id", "region_id").unique().height
    session.execute(update(Scenario).where(Scenario.id == scenario_id).values(
        status="complete", series_count=series, duration_seconds=round(seconds, 2)))
    return written


def fail_scenario(*, session: Session, scenario_id: int, error: str, seconds: float) -> None:
    """Mark a running scenario failed with its error."""
    session.execute(update(Scenario).where(Scenario.id == scenario_id, Scenario.status == "running")
                    .values(status="failed", error=error[:4000], duration_seconds=round(seconds, 2)))


def list_scenarios(*, session: Session, limit: int = 20) -> Sequence[Scenario]:
    """Newest scenarios first."""
    return session.scalars(select(Scenario).order_by(Scenario.id.desc()).limit(limit)).all()


def get_scenario(*, session: Session, scenario_id: int) -> Scenario:
    """One scenario.

    Raises:
        InvalidInputError: no scenario has that id.
    """
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise InvalidInputError(f"no scenario {scenario_id}; list them with `demand forecast scenario list`")
    return scenario


def read_scenario_values(*, session: Session, scenario_id: int) -> pl.DataFrame:
    """The scenario's rows, ordered by SKU, region and day."""
    columns = [getattr(ScenarioValue, c) for c in SCENARIO_VALUE_COLUMNS]
    rows = session.execute(select(*columns).where(ScenarioValue.scenario_id == scenario_id)
                           .order_by(ScenarioValue.sku_id, ScenarioValue.region_id, ScenarioValue.day)).all()
    schema = {c: pl.Float64 for c in SCENARIO_VALUE_COLUMNS} | {"sku_id": pl.String, "region_id": pl.String,
                                                                 "day": pl.Date, "model": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")

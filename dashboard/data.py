"""Cached access for the pages: one engine per database URL (`st.cache_resource`), query results
for `TTL_SECONDS` (`st.cache_data`), so page changes read memory, not the database."""

from __future__ import annotations

import polars as pl
import streamlit as st
from sqlalchemy import Engine

from dashboard import queries
from forecast.settings import get_settings
from forecast.storage.engine import make_engine

TTL_SECONDS = 60


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The configured database's engine (read-only use)."""
    return _engine(get_settings().database_url)


def _url() -> str:
    return get_settings().database_url


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _cached(name: str, url: str, *args: object) -> object:
    return getattr(queries, name)(_engine(url), *args)


def latest_run() -> dict | None:
    return _cached("latest_run", _url())


def recent_runs() -> pl.DataFrame:
    return _cached("recent_runs", _url())


def job_health() -> pl.DataFrame:
    return _cached("job_health", _url())


def job_problems() -> pl.DataFrame:
    return _cached("job_problems", _url())


def series_index() -> pl.DataFrame:
    return _cached("series_index", _url())


def series_forecast(sku: str, region: str) -> pl.DataFrame:
    return _cached("series_forecast", _url(), sku, region)


def series_history(sku: str, region: str) -> pl.DataFrame:
    return _cached("series_history", _url(), sku, region)


def region_totals() -> pl.DataFrame:
    return _cached("region_totals", _url())


def backtest_runs(complete_only: bool = True) -> pl.DataFrame:
    return _cached("backtest_runs", _url(), complete_only)


def backtest_summary(run_id: int) -> pl.DataFrame:
    return _cached("backtest_summary", _url(), run_id)


def backtest_by_step(run_id: int) -> pl.DataFrame:
    return _cached("backtest_by_step", _url(), run_id)


def backtest_by_group(run_id: int, group: str) -> pl.DataFrame:
    return _cached("backtest_by_group", _url(), run_id, group)


def tracked_by(by: str) -> pl.DataFrame:
    return _cached("tracked_by", _url(), by)


def scenario_choices() -> dict[str, list[str]]:
    return _cached("scenario_choices", _url())


def saved_scenarios() -> pl.DataFrame:
    """Not cached: a planner expects the scenario just saved to be listed."""
    return queries.saved_scenarios(engine())


def scenario_values(scenario_id: int) -> pl.DataFrame:
    return _cached("scenario_values", _url(), scenario_id)


def series_adjusted(sku: str, region: str) -> pl.DataFrame:
    """Not cached: a planner sees an override take effect at once."""
    return queries.series_adjusted(engine(), sku, region)


def series_overrides(sku: str, region: str) -> pl.DataFrame:
    return queries.series_overrides(engine(), sku, region)


def override_value_added(by: tuple[str, ...] = ("planner", "reason")) -> pl.DataFrame:
    return _cached("override_value_added", _url(), by)


def model_value_added(run_id: int, by: str | None = None) -> pl.DataFrame:
    return _cached("model_value_added", _url(), run_id, by)


def series_signals(sku: str, region: str, since) -> dict[str, pl.DataFrame]:
    return _cached("series_signals", _url(), sku, region, since)


def series_contributions(run_id: int, sku: str, region: str) -> pl.DataFrame:
    return _cached("series_contributions", _url(), run_id, sku, region)


def series_backtest(sku: str, region: str) -> pl.DataFrame:
    return _cached("series_backtest", _url(), sku, region)


def exceptions() -> dict[str, pl.DataFrame]:
    return _cached("exceptions", _url())


def shock_flags() -> pl.DataFrame:
    return _cached("shock_flags", _url())


def daily_totals() -> pl.DataFrame:
    return _cached("daily_totals", _url())


def group_forecast(category: str | None, region: str | None) -> pl.DataFrame:
    return _cached("group_forecast", _url(), category, region)


def series_explanation(sku: str, region: str) -> dict:
    return _cached("series_explanation", _url(), sku, region)


def group_reconciled(category: str | None, region: str | None) -> pl.DataFrame:
    return _cached("group_reconciled", _url(), category, region)


def group_history(category: str | None, region: str | None) -> pl.DataFrame:
    return _cached("group_history", _url(), category, region)


def region_cases(region: str, since) -> pl.DataFrame:
    return _cached("region_cases", _url(), region, since)

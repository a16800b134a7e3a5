"""What the Explorer page (and the series picker) reads: one series or a group, its history, signals,
contributions, backtest and why it changed."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.cache import per_database

__all__ = ["group_forecast", "group_history", "group_reconciled", "region_cases", "series_backtest",
           "series_contributions", "series_explanation", "series_forecast", "series_history", "series_index",
           "series_signals"]

series_index = per_database(queries.series_index)
series_forecast = per_database(queries.series_forecast)
series_history = per_database(queries.series_history)
series_signals = per_database(queries.series_signals)
series_contributions = per_database(queries.series_contributions)
series_backtest = per_database(queries.series_backtest)
series_explanation = per_database(queries.series_explanation)
group_forecast = per_database(queries.group_forecast)
group_history = per_database(queries.group_history)
group_reconciled = per_database(queries.group_reconciled)
region_cases = per_database(queries.region_cases)

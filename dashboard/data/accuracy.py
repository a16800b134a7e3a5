"""What the Accuracy page reads: backtests, tracked accuracy and forecast value added."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.cache import per_database

__all__ = ["backtest_by_group", "backtest_by_step", "backtest_runs", "backtest_summary", "model_value_added",
           "override_value_added", "tracked_by"]

backtest_runs = per_database(queries.backtest_runs)
backtest_summary = per_database(queries.backtest_summary)
backtest_by_step = per_database(queries.backtest_by_step)
backtest_by_group = per_database(queries.backtest_by_group)
tracked_by = per_database(queries.tracked_by)
model_value_added = per_database(queries.model_value_added)
override_value_added = per_database(queries.override_value_added)

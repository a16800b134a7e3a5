"""What the Runs page reads: forecast runs, backtests and the job history."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.accuracy import backtest_runs
from dashboard.data.cache import per_database
from dashboard.data.overview import job_health, job_problems

__all__ = ["backtest_runs", "job_health", "job_problems", "recent_runs"]

recent_runs = per_database(queries.recent_runs)

"""What the Overview page reads: the latest run, job health, regional shocks, exceptions and totals."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.cache import per_database

__all__ = ["daily_totals", "exceptions", "job_health", "job_problems", "latest_run", "region_totals", "shock_flags"]

latest_run = per_database(queries.latest_run)
job_health = per_database(queries.job_health)
job_problems = per_database(queries.job_problems)
shock_flags = per_database(queries.shock_flags)
exceptions = per_database(queries.exceptions)
daily_totals = per_database(queries.daily_totals)
region_totals = per_database(queries.region_totals)

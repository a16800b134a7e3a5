"""What the Scenarios page reads: the choices a planner picks from, saved scenarios (fresh: the one
just saved is listed) and a scenario's values."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.cache import engine, fresh, per_database

__all__ = ["engine", "saved_scenarios", "scenario_choices", "scenario_values"]

scenario_choices = per_database(queries.scenario_choices)
saved_scenarios = fresh(queries.saved_scenarios)
scenario_values = per_database(queries.scenario_values)

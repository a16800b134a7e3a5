"""What the Overrides page reads: one series' adjusted forecast and overrides (fresh: a planner sees
an override take effect at once) and the overrides' value added."""

from __future__ import annotations

from dashboard import queries
from dashboard.data.accuracy import override_value_added
from dashboard.data.cache import engine, fresh

__all__ = ["engine", "override_value_added", "series_adjusted", "series_overrides"]

series_adjusted = fresh(queries.series_adjusted)
series_overrides = fresh(queries.series_overrides)

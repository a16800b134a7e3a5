"""Cached reads for the pages, one module a page (`overview`, `runs`, `explorer`, `overrides`,
`accuracy`, `scenarios`): each name there is a function of `dashboard.queries` bound to the configured
database and cached (`cache.per_database`), or read fresh where a planner expects to see their own
change at once (`cache.fresh`). One engine per database URL (`st.cache_resource`)."""

from __future__ import annotations

from dashboard.data.cache import TTL_SECONDS, engine

__all__ = ["TTL_SECONDS", "engine"]

"""Storage: the typed schema, engines and sessions, migrations, repository functions and bulk writes."""

from __future__ import annotations

from forecast.storage.engine import make_engine, session_scope
from forecast.storage.schema import Base, IngestBatch, Region, RejectedRow, Sales, Sku

__all__ = ["Base", "IngestBatch", "Region", "RejectedRow", "Sales", "Sku", "make_engine", "session_scope"]

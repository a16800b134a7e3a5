"""The service's own exception types. Every message is one line naming what was wrong and the fix."""

from __future__ import annotations

__all__ = ["DemandError", "ForecastError", "InvalidInputError", "StorageError"]


class DemandError(Exception):
    """Base class of every error this service raises on purpose."""


class InvalidInputError(DemandError, ValueError):
    """Input that cannot be accepted as a whole (format, key columns, encoding, empty file)."""


class StorageError(DemandError):
    """The database cannot be used as configured (unreachable, not migrated, read-only)."""


class ForecastError(DemandError):
    """A forecast could not be made even by the fallback model (the message names the series)."""

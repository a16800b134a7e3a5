"""The service's own exception types. Every message is one line naming what was wrong and the fix."""

from __future__ import annotations

__all__ = ["DemandError", "InvalidInputError", "AlreadyIngestedError", "StorageError"]


class DemandError(Exception):
    """Base class of every error this service raises on purpose."""


class InvalidInputError(DemandError, ValueError):
    """Input that cannot be accepted as a whole (format, key columns, encoding, empty file)."""


class AlreadyIngestedError(DemandError):
    """The same content was ingested before; nothing was changed."""

    def __init__(self, message: str, *, batch_id: int) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class StorageError(DemandError):
    """The database cannot be used as configured (unreachable, not migrated, read-only)."""

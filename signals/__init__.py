"""External signal connectors and pure transforms returning polars frames; imports nothing from this project."""

from __future__ import annotations

from signals.errors import PayloadTooLargeError, SignalError
from signals.features import FEATURE_COLUMNS, build_features
from signals.frames import as_of_instant, visible_at
from signals.locations import expand_location, mask_location, mask_text
from signals.sources import FileSource, HttpSource, Payload, SignalSource, SnapshotSource, open_source, read_payload

__all__ = [
    "FEATURE_COLUMNS",
    "FileSource",
    "HttpSource",
    "Payload",
    "PayloadTooLargeError",
    "SignalError",
    "SignalSource",
    "SnapshotSource",
    "as_of_instant",
    "build_features",
    "expand_location",
    "mask_location",
    "mask_text",
    "open_source",
    "read_payload",
    "visible_at",
]

"""External signal connectors and pure transforms returning polars frames; imports nothing from this project."""

from __future__ import annotations

from signals.errors import SignalError
from signals.features import FEATURE_COLUMNS, build_features
from signals.frames import as_of_instant, visible_at
from signals.sources import FileSource, HttpSource, Payload, SignalSource, SnapshotSource, open_source, read_payload

__all__ = [
    "FEATURE_COLUMNS",
    "FileSource",
    "HttpSource",
    "Payload",
    "SignalError",
    "SignalSource",
    "SnapshotSource",
    "as_of_instant",
    "build_features",
    "open_source",
    "read_payload",
    "visible_at",
]

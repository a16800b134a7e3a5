"""The signals package's own exception types.

Every message is one line that names what was wrong and how to fix it, e.g.
``cannot fetch https://x/cases.csv: HTTP 503 Service Unavailable after 4 attempts; check the URL or the network``.
"""

from __future__ import annotations

__all__ = ["PayloadTooLargeError", "SignalError"]


class SignalError(ValueError):
    """A signal source or payload that cannot be used as a whole (unreachable, unreadable, wrong columns)."""


class PayloadTooLargeError(SignalError):
    """A source's content is larger than the size cap; reading stopped there.

    Attributes:
        location: The location as it may be shown (masked).
        limit: The cap in bytes.
        decompressed: Whether the cap was passed only once gzip was removed.
    """

    def __init__(self, location: str, limit: int, *, decompressed: bool = False) -> None:
        self.location, self.limit, self.decompressed = location, limit, decompressed
        super().__init__(f"{self.what}; check that it is the right source, or raise the cap")

    @property
    def what(self) -> str:
        """`<location> is larger than the <cap> size cap[ once decompressed]`, without the fix."""
        return (f"{self.location} is larger than the {format_bytes(self.limit)} size cap"
                + (" once decompressed" if self.decompressed else ""))


def format_bytes(count: int) -> str:
    """A byte count as pydantic's `ByteSize` reads it back: `512B`, `1KiB`, `1.5MiB`, `256MiB`."""
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.1f}".removesuffix(".0") + unit

"""The signals package's own exception type.

Every message is one line that names what was wrong and how to fix it, e.g.
``cannot fetch https://x/cases.csv: HTTP 503 Service Unavailable after 4 attempts; check the URL or the network``.
"""

from __future__ import annotations

__all__ = ["SignalError"]


class SignalError(ValueError):
    """A signal source or payload that cannot be used as a whole (unreachable, unreadable, wrong columns)."""

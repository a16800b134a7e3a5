"""Fixtures of the signal source tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A server of its own that answers concurrently, so a slow handler does not hold up other tests."""
    server = HTTPServer(threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()

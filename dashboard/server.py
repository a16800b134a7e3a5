"""Serving the app: the `streamlit run` command line, and a started server's health check."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"

__all__ = ["APP", "SERVER_OPTIONS", "command", "free_port", "wait_until_healthy"]


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_OPTIONS = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    # The viewer's menu only: no rerun, clear-cache or deploy items (the websocket still accepts a
    # `clear_cache` message from any client; no option turns that off in Streamlit 1.67).
    "client.toolbarMode": "viewer",
    # An uncaught exception shows a generic line in the browser, never its type, message, traceback or
    # the server's paths (those go to the server's log), nor links that send it to a search engine.
    "client.showErrorDetails": "none",
    "client.showErrorLinks": "false",
    # The app has no file uploader: refuse every upload instead of holding up to 200 MB a request in memory
    # for any client that opens a session.
    "server.maxUploadSize": "0",
}
"""Streamlit's config for serving the app to planners (`streamlit config show` lists every option)."""


def command(port: int = 8501, address: str = "127.0.0.1") -> list[str]:
    """`streamlit run dashboard/app.py` with `SERVER_OPTIONS` on `address`:`port`."""
    options = [arg for name, value in SERVER_OPTIONS.items() for arg in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP), *options,
            "--server.port", str(port), "--server.address", address]


def wait_until_healthy(url: str, timeout: float = 60.0) -> bool:
    """Whether the server at `url` answered its health check within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.3)
    return False

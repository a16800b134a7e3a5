"""Serving the app: the `streamlit run` command line, and a started server's health check."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"

__all__ = ["APP", "command", "free_port", "wait_until_healthy"]


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port: int = 8501, address: str = "127.0.0.1") -> list[str]:
    """`streamlit run dashboard/app.py`, headless, without usage statistics or the developer's menu."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
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

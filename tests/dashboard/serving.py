"""The app served by `streamlit run` for browser tests, and Debian's Chromium to drive it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dashboard.server import command, free_port, wait_until_healthy
from tests.conftest import IN_CI

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Screenshots of the pages (ignored by git)."""
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


def require_chromium() -> None:
    """Skip without Debian's chromium, except in CI, where its absence fails the test."""
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Debian's chromium is missing in CI; .ci/run installs it with apt-get")
        pytest.skip("no chromium here (apt-get install -y chromium)")


@contextmanager
def serve(db_url: str, log_folder: Path, **env: str) -> Iterator[str]:
    """The app on `db_url` with extra environment `env`, at http://127.0.0.1:PORT until the block ends."""
    port = free_port()
    log_path = log_folder / "streamlit.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command(port), env={**os.environ, "DEMAND_DATABASE_URL": db_url, **env},
                                  stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_healthy(url):
                pytest.fail("streamlit did not start: " + log_path.read_text())
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def sign_in(page: Any, name: str, password: str) -> None:
    """Fill the sign-in form on `page` and submit it."""
    page.get_by_role("textbox", name="User").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()

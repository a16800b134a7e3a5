"""The code version recorded with every run: the package version plus the git commit of a checkout."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["code_version"]


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    version = metadata.version("demand-forecast")
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
        return f"{version}+{sha}"
    except (OSError, subprocess.SubprocessError):
        return version
